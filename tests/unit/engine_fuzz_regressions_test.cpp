// engine_fuzz_regressions_test.cpp - inputs the fuzz targets of
// policy/engine found wrong, kept as tests once fixed.
//
// Each case names the fuzz target and its crash input, which is also kept in
// that target's seed corpus (tests/fuzz/corpus-*/), so the fuzzer starts
// from it too. Got/want tables; suite name EngineFuzzRegressions.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "policy/engine/address.hpp"
#include "policy/engine/glob.hpp"
#include "tests/unit/test_text.hpp"

namespace sesame::engine {
namespace {

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot read " << path;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using testdata::show;

// address_fuzz, tests/fuzz/corpus-address/domain-literal-nul-bytes.txt
// ("a@[192.0.2" NUL NUL NUL NUL ".1]"): a domain literal was taken "as it
// is", whatever it held, so NUL, CR LF, blanks and brackets passed
// parse_address, normalize_sender and normalize_key, although the rest of
// the syntax is strict (a stray space is an error). A literal must now be
// RFC 5321 dcontent: printable ASCII but '[', '\', ']'.
TEST(EngineFuzzRegressions, DomainLiteralWithControlBytes)
{
    const std::string crash =
        read_file(std::string(SESAME_SOURCE_DIR) + "/tests/fuzz/corpus-address/domain-literal-nul-bytes.txt");
    ASSERT_EQ(crash, std::string("a@[192.0.2\0\0\0\0.1]", 17));
    std::string why;
    EXPECT_FALSE(parse_address(crash, &why).has_value());
    EXPECT_EQ(why.rfind("address \"a@[192.0.2", 0), 0u) << why;
    EXPECT_NE(why.find("invalid domain literal"), std::string::npos) << why;

    struct Case {
        std::string input;
        std::optional<std::string> want;  // normalize_key(input)
    };
    const std::vector<Case> cases = {
        {"user@[192.0.2.1]", "user@[192.0.2.1]"},
        {"User@[IPv6:2001:DB8::1]", "user@[ipv6:2001:db8::1]"},
        {"@[192.0.2.1]", "@[192.0.2.1]"},
        {"a@[192.0.2.1\r\nRCPT TO:<x@y>]", std::nullopt},
        {"a@[192.0.2.1 ]", std::nullopt},
        {"a@[\t]", std::nullopt},
        {"a@[]", std::nullopt},
        {"a@[[]]", std::nullopt},
        {"a@[\\]]", std::nullopt},
        {"a@[x\x7f]", std::nullopt},
        {"a@[\xc3\xbc]", std::nullopt},
    };
    for (const Case& c : cases) {
        const std::optional<std::string> got = normalize_key(c.input);
        EXPECT_EQ(got, c.want) << "for " << testing::PrintToString(c.input) << " got " << show(got) << " want "
                               << show(c.want);
        EXPECT_EQ(normalize_sender(c.input).has_value(), c.want.has_value() && c.input.front() != '@');
    }
}

// fuzz.glob (CI, 2026-11-23): "[[:graph:]\xed----[:graph:]]*" was accepted,
// and glob_match() said "l" does not match where fnmatch() says it does:
// glibc reads "-[" as a range ending in '[' only until a member matched.
// Such a range is refused now; an escaped '[' as a range's end is not.
TEST(EngineFuzzRegressions, ARangeEndingInABracketIsRefused)
{
    for (const char* p : {"[[:graph:]\xed----[:graph:]]*", "*@[lz----[:graph:]]", "*@[a-[]x", "*@[--[]x"}) {
        const std::optional<std::string> error = glob_error(p);
        ASSERT_TRUE(error.has_value()) << p;
        EXPECT_EQ(*error, "a range cannot end in '[' (write \\[ for the character)") << p;
    }
    for (const char* p : {"*@[a-\\[]x", "*@[-[:alpha:]]x", "*@[[:alpha:]-]x", "*@[a-z]x"})
        EXPECT_EQ(glob_error(p), std::nullopt) << p;
}

}  // namespace
}  // namespace sesame::engine
