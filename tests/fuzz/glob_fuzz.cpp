// glob_fuzz.cpp - libFuzzer target for the blocklist's glob patterns
// (policy/engine/glob.hpp) and the index that files them by their literals
// (policy/engine/block_index.hpp).
//
// Input: lines. The first is a pattern as a postmaster types it, the second
// a subject (a sender address); up to seven further lines are more patterns.
// Each pattern goes through glob_error(), then, lower-cased as the store
// keeps it, through glob_match(), the literal prefix and suffix and a
// BlockIndex. Beyond no crash and no sanitizer report, it checks: a pattern
// glob_error() accepts is not empty, at most 512 bytes, free of blanks and
// control bytes; glob_match() answers exactly what glibc's
// fnmatch(FNM_CASEFOLD) does for accepted patterns (the promise in
// glob.hpp; patterns with many stars or long subjects are skipped, as
// glibc's fnmatch is exponential in stars); a matching subject starts with
// glob_literal_prefix() and ends with glob_literal_suffix(); a pattern
// without metacharacters matches only itself; and BlockIndex::find() finds
// a pattern exactly when one of them matches (glob_match for accepted
// patterns, fnmatch for refused ones, "<>" only the null sender): the index
// must never miss a match by filing a pattern under the wrong literal. A
// broken promise aborts, so libFuzzer saves the input. Built only with
// SESAME_FUZZ=ON (clang); run by the CTest test fuzz.glob.
#include <fnmatch.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine/block_index.hpp"
#include "policy/engine/glob.hpp"
#include "policy/text/ascii.hpp"

namespace {

namespace engine = sesame::engine;
using sesame::text::ascii_lower;

constexpr std::size_t kMaxPatterns = 8;
constexpr std::size_t kMaxStarsForLibc = 4;
constexpr std::size_t kMaxSubjectForLibc = 128;

// Aborts, so that libFuzzer saves the input, naming the promise's line.
void require(bool ok, int line = __builtin_LINE())
{
    if (ok) return;
    std::fprintf(stderr, "%s:%d: promise broken\n", __FILE__, line);
    std::abort();
}

bool libc_match(const std::string& p, const std::string& s)
{
    return fnmatch(p.c_str(), s.c_str(), FNM_CASEFOLD) == 0;
}

bool cheap_for_libc(std::string_view p, std::string_view s)
{
    return static_cast<std::size_t>(std::count(p.begin(), p.end(), '*')) <= kMaxStarsForLibc &&
           s.size() <= kMaxSubjectForLibc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (input.find('\0') != std::string_view::npos) return 0;  // fnmatch and the store take C strings

    std::vector<std::string_view> lines;
    for (std::size_t pos = 0; pos <= input.size() && lines.size() < kMaxPatterns + 1;) {
        std::size_t nl = input.find('\n', pos);
        if (nl == std::string_view::npos) nl = input.size();
        lines.push_back(input.substr(pos, nl - pos));
        pos = nl + 1;
    }
    if (lines.size() < 2) return 0;
    const std::string subject = ascii_lower(lines[1]);
    std::vector<std::string_view> typed{lines[0]};
    typed.insert(typed.end(), lines.begin() + 2, lines.end());

    bool any_match = false;
    bool null_pattern = false;
    engine::BlockIndexBuilder builder;
    for (std::string_view t : typed) {
        const std::optional<std::string> error = engine::glob_error(t);
        const std::string p = ascii_lower(t);
        const bool match = engine::glob_match(p, subject);
        if (!error) {
            require(!t.empty() && t.size() <= 512);
            for (char c : t) require(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
            if (cheap_for_libc(p, subject)) require(match == libc_match(p, subject));
        } else {
            require(!error->empty());
        }
        if (match) {
            require(subject.compare(0, engine::glob_literal_prefix(p).size(), engine::glob_literal_prefix(p)) == 0);
            const std::string_view suffix = engine::glob_literal_suffix(p);
            require(subject.size() >= suffix.size() &&
                    subject.compare(subject.size() - suffix.size(), suffix.size(), suffix) == 0);
        }
        if (!engine::glob_has_meta(p)) require(match == (p == subject));

        if (p.empty()) continue;  // the store never holds an empty pattern
        builder.add("*", p);
        null_pattern = null_pattern || p == "<>";
        if (subject.empty() || subject == "<>") continue;
        if (error ? (cheap_for_libc(p, subject) && libc_match(p, subject)) : match) any_match = true;
        if (error && !cheap_for_libc(p, subject)) return 0;  // cannot know the truth cheaply
    }

    const std::unique_ptr<const engine::BlockIndex> index = builder.build();
    const std::vector<std::string> keys{"@example.org", "*"};
    const std::optional<engine::BlockMatch> found = index->find(subject, keys);
    if (subject == "<>") return 0;  // not an address; the null sender is ""
    require(found.has_value() == (subject.empty() ? null_pattern : any_match));
    if (found) require(found->key == "*");
    return 0;
}
