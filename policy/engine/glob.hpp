// glob.hpp - shell glob patterns with the exact semantics of fnmatch(3).
//
// Blocklist patterns are stored lower-cased and matched against lower-cased
// addresses; glob_match(p, s) then answers exactly what glibc's
// fnmatch(p, s, FNM_CASEFOLD) answers in the C locale: '*', '?', bracket
// expressions with '!'/'^' negation, ranges, [:class:] names and backslash
// escapes, an unterminated '[' taken literally. tests/unit/engine_glob_test
// compares the two on many generated patterns.
//
// glob_error() is stricter: it refuses what a postmaster almost certainly
// did not mean (an unclosed '[', a trailing backslash, blanks, an unknown
// class, a pattern with neither '@' nor '*', a range ending in '['). Patterns
// that reach the store some other way still match as fnmatch would, but for
// such a range (glibc reads it two ways). Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sesame::engine {

// Why PATTERN (as typed, before lower-casing) is refused, or nullopt if fine.
std::optional<std::string> glob_error(std::string_view pattern);

// True if P contains any of * ? [ or a backslash.
bool glob_has_meta(std::string_view p);

// fnmatch(p, s, FNM_CASEFOLD) == 0 for lower-case P and S, in the C locale.
bool glob_match(std::string_view p, std::string_view s);

// The literal text before the first special character of P.
std::string_view glob_literal_prefix(std::string_view p);

// The literal text after the last special character (* ? [ ] \) of P.
std::string_view glob_literal_suffix(std::string_view p);

}  // namespace sesame::engine
