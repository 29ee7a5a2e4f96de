// config_fuzz_regressions_test.cpp - inputs the config fuzz target found
// wrong, kept as tests once fixed.
//
// Each case names its crash input, which is also kept in the target's seed
// corpus (tests/fuzz/corpus-config/), so the fuzzer starts from it too. Run
// under AddressSanitizer (a SESAME_FUZZ or SESAME_SANITIZE build) the first
// case is what caught the read past the end. Suite name
// ConfigFuzzRegressions; no files but the corpus, no sockets.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "policy/config/config.hpp"

namespace sesame::config {
namespace {

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot read " << path;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The what() of parse_config(TEXT), or "(accepted)".
std::string refusal_of(const std::string& text)
{
    try {
        parse_config(text, "t.conf");
        return "(accepted)";
    } catch (const ConfigError& e) {
        return e.what();
    }
}

// config_fuzz, tests/fuzz/corpus-config/toml11-literal-string-not-utf8.conf
// ("'\xb1'"): toml11 3.7 (Debian 12) reads past the end of its buffer on a
// literal string holding a byte that is not UTF-8 (upstream issue #199).
// parse_config() now refuses text that is not UTF-8, as TOML requires,
// before toml11 sees it, saying on which line.
TEST(ConfigFuzzRegressions, LiteralStringNotUtf8)
{
    const std::string crash =
        read_file(std::string(SESAME_SOURCE_DIR) + "/tests/fuzz/corpus-config/toml11-literal-string-not-utf8.conf");
    EXPECT_EQ(crash, "'\xb1'");
    const std::string want1 = "t.conf:1: not UTF-8 (a TOML file must be UTF-8)";
    EXPECT_EQ(refusal_of(crash), want1);
    EXPECT_EQ(refusal_of("[milter]\nsocket = '''\nunix:/run/\xb1'''\n"),
              "t.conf:3: not UTF-8 (a TOML file must be UTF-8)");

    struct Case {
        std::string text;
        std::string want;
    };
    const std::vector<Case> cases = {
        {"# caf\xc3\xa9\n", "(accepted)"},                                          // two-byte character in a comment
        {"[store]\nsqlite = '/srv/caf\xc3\xa9/p.db'\n", "(accepted)"},              // in a literal string
        {"\xef\xbb\xbf[log]\nlevel = \"info\"\n", "(accepted)"},                    // a byte-order mark is UTF-8 too
        {"# \xf0\x9f\x93\xa7\n", "(accepted)"},                                     // four bytes
        {"# \xc3\n", "t.conf:1: not UTF-8 (a TOML file must be UTF-8)"},            // truncated
        {"# \xc0\xaf\n", "t.conf:1: not UTF-8 (a TOML file must be UTF-8)"},        // overlong
        {"\n# \xed\xa0\x80\n", "t.conf:2: not UTF-8 (a TOML file must be UTF-8)"},  // a surrogate
        {"\n\n# \xf4\x90\x80\x80", "t.conf:3: not UTF-8 (a TOML file must be UTF-8)"},  // past U+10FFFF
        {"# \xe2\x82", "t.conf:1: not UTF-8 (a TOML file must be UTF-8)"},              // cut by the end
    };
    for (const Case& c : cases) EXPECT_EQ(refusal_of(c.text), c.want) << "for " << testing::PrintToString(c.text);
}

}  // namespace
}  // namespace sesame::config
