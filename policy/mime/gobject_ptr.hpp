// gobject_ptr.hpp - owning handles for GObject instances and g_malloc'd text.
//
// gmime hands out two kinds of pointers: "transfer full" results (*_new,
// g_mime_parser_construct_*, internet_address_list_parse) that the caller
// must unref, and borrowed "transfer none" results (g_mime_message_get_from,
// g_mime_object_get_header_list, internet_address_group_get_members) that
// belong to their parent object. adopt() wraps the first kind, retain()
// takes a new reference on the second; a borrowed pointer that is only read
// while its owner lives is left as a plain pointer. GCharPtr owns strings
// from g_malloc (g_mime_utils_*). Nothing here throws; no thread state.
#pragma once

#include <glib-object.h>

#include <memory>

namespace sesame::mime {

struct GObjectUnref {
    void operator()(void* object) const noexcept { g_object_unref(object); }
};

// One owned reference to a GObject (or a subclass: GMimeParser, ...).
template <typename T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

// Takes over a reference the caller already owns; null stays null.
template <typename T>
GObjectPtr<T> adopt(T* object) noexcept
{
    return GObjectPtr<T>(object);
}

// Takes a new reference to a borrowed object; null stays null.
template <typename T>
GObjectPtr<T> retain(T* object) noexcept
{
    if (object != nullptr) g_object_ref(object);
    return GObjectPtr<T>(object);
}

struct GFree {
    void operator()(void* p) const noexcept { g_free(p); }
};

// A string allocated by glib or gmime, released with g_free.
using GCharPtr = std::unique_ptr<char, GFree>;

}  // namespace sesame::mime
