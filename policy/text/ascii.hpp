// ascii.hpp - ASCII case helpers for protocol text: header field names,
// domains, SRS tags, HTTP headers, configuration keys.
//
// 'A'-'Z' and 'a'-'z' only, whatever the locale (strcasecmp in the C
// locale). Header-only so that every layer, the AWS signer and the pure
// engine included, can use it without linking anything. Pure; thread-safe;
// no exceptions but std::bad_alloc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sesame::text {

inline char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string ascii_lower(std::string_view s)
{
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

inline bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline bool iends_with(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace sesame::text
