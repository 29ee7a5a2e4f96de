// text.hpp - small text helpers shared by the MIME reader, the composer and
// the SES bounce reader.
//
// Pure functions on bytes; thread-safe; no exceptions but std::bad_alloc.
#pragma once

#include <string>
#include <string_view>

namespace sesame::mime {

// Every run of blanks and control characters becomes one space; the ends
// are trimmed. Safe to put on one header line.
std::string collapse_blanks(std::string_view s);

// 'A'-'Z' to 'a'-'z'; every other byte unchanged (no locale).
char ascii_lower(char c);

// ASCII case-insensitive comparisons (header field names, addresses' domains).
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
bool iends_with(std::string_view s, std::string_view suffix);

}  // namespace sesame::mime
