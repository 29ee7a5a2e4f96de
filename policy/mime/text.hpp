// text.hpp - small text helpers shared by the MIME reader, the composer and
// the SES bounce reader.
//
// Pure functions on bytes; thread-safe; no exceptions but std::bad_alloc.
#pragma once

#include <string>
#include <string_view>

#include "policy/text/ascii.hpp"

namespace sesame::mime {

// ASCII case (policy/text/ascii.hpp): header field names, addresses' domains.
using text::ascii_lower;
using text::iends_with;
using text::iequals;
using text::istarts_with;

// Every run of blanks and control characters becomes one space; the ends
// are trimmed. Safe to put on one header line.
std::string collapse_blanks(std::string_view s);

}  // namespace sesame::mime
