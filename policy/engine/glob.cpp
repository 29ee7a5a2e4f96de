// glob.cpp - fnmatch(3)-compatible glob matching without the locale.
//
// The matcher is the classic one-star backtracking loop: every token but
// '*' consumes exactly one byte, so remembering only the last star is
// enough and no input can make it exponential. Bracket expressions follow
// glibc's reading: a ']' right after '[' or '[!' is literal, '-' at either
// end is literal, a backslash escapes, an unterminated '[' is a literal '['.
// Pure functions; no exceptions except std::bad_alloc.
#include "policy/engine/glob.hpp"

#include <array>

namespace sesame::engine {

namespace {

constexpr std::array<std::string_view, 12> kClasses = {"alnum", "alpha", "blank", "cntrl", "digit", "graph",
                                                       "lower", "print", "punct", "space", "upper", "xdigit"};

// Membership of byte C in a [:class:], as the C locale defines it.
bool in_class(std::string_view name, unsigned char c)
{
    bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
    bool alpha = upper || lower, graph = c > 0x20 && c < 0x7f;
    if (name == "alnum") return alpha || digit;
    if (name == "alpha") return alpha;
    if (name == "blank") return c == ' ' || c == '\t';
    if (name == "cntrl") return c < 0x20 || c == 0x7f;
    if (name == "digit") return digit;
    if (name == "graph") return graph;
    if (name == "lower") return lower;
    if (name == "print") return graph || c == ' ';
    if (name == "punct") return graph && !alpha && !digit;
    if (name == "space") return c == ' ' || (c >= '\t' && c <= '\r');
    if (name == "upper") return upper;
    if (name == "xdigit") return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    return false;
}

bool known_class(std::string_view name)
{
    for (auto k : kClasses)
        if (k == name) return true;
    return false;
}

// Where the [:name:] starting at p[i] ('[' followed by ':') ends, or npos
// when it is not a class name and its '[' is an ordinary member.
std::size_t class_end(std::string_view p, std::size_t i)
{
    auto close = p.find(":]", i + 2);
    if (close == std::string_view::npos) return close;
    for (std::size_t k = i + 2; k < close; ++k)
        if (p[k] < 'a' || p[k] >= 'z') return std::string_view::npos;  // glibc's test
    return close;
}

enum class Bracket { match, nomatch, literal, fail };

// Matches byte C against the bracket expression at p[i] == '['. On match or
// nomatch, *next is the index after the closing ']'.
Bracket match_bracket(std::string_view p, std::size_t i, unsigned char c, std::size_t* next)
{
    std::size_t k = i + 1;
    bool negate = k < p.size() && (p[k] == '!' || p[k] == '^');
    if (negate) ++k;
    bool matched = false;
    bool first = true;
    while (true) {
        if (k >= p.size()) return Bracket::literal;  // unterminated: '[' is literal
        char pc = p[k];
        if (pc == ']' && !first) break;
        first = false;
        if (pc == '[' && k + 1 < p.size() && p[k + 1] == ':') {
            auto end = class_end(p, k);
            if (end != std::string_view::npos) {
                auto name = p.substr(k + 2, end - k - 2);
                if (!known_class(name)) return Bracket::fail;
                if (in_class(name, c)) matched = true;
                k = end + 2;
                continue;
            }
        }
        unsigned char lo;
        if (pc == '\\') {
            if (k + 1 >= p.size()) return Bracket::fail;
            lo = static_cast<unsigned char>(p[k + 1]);
            k += 2;
        } else {
            lo = static_cast<unsigned char>(pc);
            k += 1;
        }
        // A range: '-' followed by something other than ']'.
        if (k + 1 < p.size() && p[k] == '-' && p[k + 1] != ']') {
            unsigned char hi = static_cast<unsigned char>(p[k + 1]);
            k += 2;
            if (hi == '\\') {
                if (k >= p.size()) return Bracket::fail;
                hi = static_cast<unsigned char>(p[k]);
                k += 1;
            }
            if (lo <= c && c <= hi) matched = true;
        } else if (lo == c) {
            matched = true;
        }
    }
    *next = k + 1;
    return matched != negate ? Bracket::match : Bracket::nomatch;
}

}  // namespace

bool glob_has_meta(std::string_view p)
{
    return p.find_first_of("*?[\\") != std::string_view::npos;
}

std::string_view glob_literal_prefix(std::string_view p)
{
    return p.substr(0, std::min(p.find_first_of("*?[\\"), p.size()));
}

std::string_view glob_literal_suffix(std::string_view p)
{
    auto last = p.find_last_of("*?[]\\");
    return last == std::string_view::npos ? p : p.substr(last + 1);
}

bool glob_match(std::string_view p, std::string_view s)
{
    std::size_t pi = 0, si = 0;
    std::size_t star_p = std::string_view::npos, star_s = 0;
    while (true) {
        if (pi < p.size() && p[pi] == '*') {
            while (pi < p.size() && p[pi] == '*') ++pi;
            if (pi == p.size()) return true;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (si == s.size()) {
            if (pi == p.size()) return true;
        } else if (pi < p.size()) {
            auto c = static_cast<unsigned char>(s[si]);
            std::size_t next = pi + 1;
            bool ok = false;
            switch (p[pi]) {
                case '?':
                    ok = true;
                    break;
                case '[':
                    switch (match_bracket(p, pi, c, &next)) {
                        case Bracket::match:
                            ok = true;
                            break;
                        case Bracket::nomatch:
                            break;
                        case Bracket::literal:
                            ok = c == '[';
                            next = pi + 1;
                            break;
                        case Bracket::fail:
                            return false;
                    }
                    break;
                case '\\':
                    if (pi + 1 >= p.size()) return false;
                    ok = static_cast<unsigned char>(p[pi + 1]) == c;
                    next = pi + 2;
                    break;
                default:
                    ok = static_cast<unsigned char>(p[pi]) == c;
            }
            if (ok) {
                pi = next;
                ++si;
                continue;
            }
        }
        // Mismatch: let the last star swallow one more byte.
        if (star_p == std::string_view::npos || star_s >= s.size()) return false;
        pi = star_p;
        si = ++star_s;
    }
}

std::optional<std::string> glob_error(std::string_view p)
{
    if (p.empty()) return "empty pattern";
    if (p.size() > 512) return "pattern longer than 512 characters";
    if (p == "<>") return std::nullopt;
    for (char ch : p) {
        auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7f) return "pattern contains a blank or control character";
        if (c == '<' || c == '>') return "angle brackets are only allowed as \"<>\" (the null sender)";
    }
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\') {
            if (i + 1 == p.size()) return "pattern ends with a lone backslash";
            ++i;
            continue;
        }
        if (p[i] != '[') continue;
        std::size_t k = i + 1;
        if (k < p.size() && (p[k] == '!' || p[k] == '^')) ++k;
        bool first = true;
        while (true) {
            if (k >= p.size()) return "unclosed '[' in pattern";
            if (p[k] == ']' && !first) break;
            const bool at_start = first;
            first = false;
            // "x-[:graph:]": glibc reads the '[' as the range's end until a
            // member has matched, and then skips the rest taking
            // "[:graph:]" as a class, so where the expression ends depends
            // on the byte being matched. No postmaster means that.
            if (p[k] == '-' && !at_start && k + 1 < p.size() && p[k + 1] == '[')
                return "a range cannot end in '[' (write \\[ for the character)";
            if (p[k] == '[' && k + 1 < p.size() && (p[k + 1] == '=' || p[k + 1] == '.'))
                return "equivalence classes and collating symbols are not supported";
            if (p[k] == '[' && k + 1 < p.size() && p[k + 1] == ':') {
                auto end = class_end(p, k);
                if (end == std::string_view::npos) return "malformed [:class:] in pattern";
                auto name = p.substr(k + 2, end - k - 2);
                if (!known_class(name)) return "unknown character class [:" + std::string(name) + ":]";
                k = end + 2;
                continue;
            }
            if (p[k] == '\\') {
                if (k + 1 >= p.size()) return "unclosed '[' in pattern";
                ++k;
            }
            ++k;
        }
        i = k;
    }
    if (p.find('@') == std::string_view::npos && p.find('*') == std::string_view::npos)
        return "has neither '@' nor '*' (did you mean \"*@" + std::string(p) + "\"?)";
    return std::nullopt;
}

}  // namespace sesame::engine
