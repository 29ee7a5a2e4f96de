// text.hpp - small text helpers shared by the MIME reader and composer.
//
// Pure functions on bytes; thread-safe; no exceptions but std::bad_alloc.
#pragma once

#include <string>
#include <string_view>

namespace sesame::mime {

// Every run of blanks and control characters becomes one space; the ends
// are trimmed. Safe to put on one header line.
std::string collapse_blanks(std::string_view s);

}  // namespace sesame::mime
