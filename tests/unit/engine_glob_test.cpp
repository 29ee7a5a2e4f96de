// engine_glob_test.cpp - glob_match agrees with fnmatch(3), and glob_error
// refuses the patterns a postmaster would not mean.
//
// The agreement test generates patterns and subjects from small alphabets
// rich in special characters (so that brackets, ranges, classes, escapes and
// stars meet each other often) and compares glob_match with glibc's
// fnmatch(p, s, FNM_CASEFOLD) on every pair, printing got/want on failure.
#include <fnmatch.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/engine/address.hpp"
#include "policy/engine/glob.hpp"

using namespace sesame::engine;

namespace {

bool libc_match(const std::string& p, const std::string& s)
{
    return fnmatch(p.c_str(), s.c_str(), FNM_CASEFOLD) == 0;
}

std::string random_pattern(std::mt19937& rng)
{
    static const std::vector<std::string> pieces = {"a",
                                                    "b",
                                                    "c",
                                                    "x",
                                                    "@",
                                                    ".",
                                                    "-",
                                                    "*",
                                                    "*",
                                                    "?",
                                                    "[",
                                                    "]",
                                                    "!",
                                                    "^",
                                                    "\\",
                                                    ":",
                                                    "[a-c]",
                                                    "[!a]",
                                                    "[^b]",
                                                    "[]a]",
                                                    "[a-]",
                                                    "[[:alpha:]]",
                                                    "[[:digit:]]",
                                                    "[![:lower:]]",
                                                    "[\\]]",
                                                    "[.-@]",
                                                    "[z-a]",
                                                    "*@",
                                                    "@*.",
                                                    ".com",
                                                    "[[:punct:]x]",
                                                    "[--.]",
                                                    "\\*",
                                                    "B",
                                                    "Z"};
    std::uniform_int_distribution<int> len(1, 7);
    std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
    std::string p;
    for (int i = len(rng); i > 0; --i) p += pieces[pick(rng)];
    return p;
}

std::string random_subject(std::mt19937& rng)
{
    static const std::string alphabet = "abcxz@.-[]!^\\:*?1";
    std::uniform_int_distribution<int> len(0, 10);
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string s;
    for (int i = len(rng); i > 0; --i) s += alphabet[pick(rng)];
    return s;
}

}  // namespace

TEST(Glob, AgreesWithFnmatchOnGeneratedPatterns)
{
    std::mt19937 rng(20261122);
    int compared = 0, accepted = 0, matches = 0, invalid_disagree = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string p = ascii_lower(random_pattern(rng));
        bool valid = !glob_error(p);
        accepted += valid;
        for (int j = 0; j < 40; ++j) {
            std::string s = random_subject(rng);
            bool got = glob_match(p, s), want = libc_match(p, s);
            ++compared;
            matches += want;
            invalid_disagree += !valid && got != want;
            // Every pattern that Sesame accepts must agree; the others are
            // matched with fnmatch itself by the index, but agree in practice.
            if (valid) {
                ASSERT_EQ(got, want) << "pattern \"" << p << "\" subject \"" << s << "\"";
            }
        }
    }
    EXPECT_GT(accepted, 2000) << "the generator should produce many valid patterns";
    EXPECT_EQ(compared, 800000);
    EXPECT_GT(matches, 5000) << "the generator should produce many matching pairs";
    std::printf("accepted %d of 20000 patterns, %d matching pairs, %d disagreements on refused patterns\n", accepted,
                matches, invalid_disagree);
}

TEST(Glob, AgreesWithFnmatchOnAddressShapedPatterns)
{
    struct Case {
        const char* pattern;
        const char* subject;
        bool want;
    };
    const Case cases[] = {
        {"*@spam.com", "a@spam.com", true},
        {"*@spam.com", "a@spam.com.evil", false},
        {"*@*.spam.com", "a@b.spam.com", true},
        {"*@*.spam.com", "a@spam.com", false},
        {"*@*.spam.com", "a@x.y.spam.com", true},
        {"noreply@*.com", "noreply@shop.com", true},
        {"noreply@*.com", "noreply@shop.org", false},
        {"newsletter@example.*", "newsletter@example.de", true},
        {"news?@x.org", "news1@x.org", true},
        {"news?@x.org", "news@x.org", false},
        {"[a-c]*@x.org", "bob@x.org", true},
        {"[!a-c]*@x.org", "bob@x.org", false},
        {"*", "anything@at.all", true},
        {"a\\*b@x.org", "a*b@x.org", true},
        {"a\\*b@x.org", "axb@x.org", false},
        {"*@[0-9]*.net", "z@9k.net", true},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(glob_match(c.pattern, c.subject), c.want)
            << "got " << !c.want << " want " << c.want << " for " << c.pattern << " ~ " << c.subject;
        EXPECT_EQ(libc_match(c.pattern, c.subject), c.want) << "fnmatch disagrees with the table";
    }
}

TEST(Glob, RefusesWhatAPostmasterWouldNotMean)
{
    struct Case {
        const char* pattern;
        const char* reason_has;  // nullptr: accepted
    };
    const Case cases[] = {
        {"*@spam.com", nullptr},
        {"<>", nullptr},
        {"*", nullptr},
        {"[[:digit:]]*@x.org", nullptr},
        {"", "empty"},
        {"spam.com", "did you mean \"*@spam.com\""},
        {"a b@x.org", "blank"},
        {"*@x.org\\", "backslash"},
        {"[abc@x.org", "unclosed"},
        {"[[:nope:]]@x.org", "unknown character class"},
        {"[[=a=]]@x.org", "not supported"},
        {"<a@x.org>", "angle brackets"},
    };
    for (const auto& c : cases) {
        auto err = glob_error(c.pattern);
        if (!c.reason_has) {
            EXPECT_FALSE(err) << c.pattern << ": unexpected error " << err.value_or("");
        } else {
            ASSERT_TRUE(err) << c.pattern << " should be refused";
            EXPECT_NE(err->find(c.reason_has), std::string::npos) << "got: " << *err;
        }
    }
}

TEST(Glob, LiteralPrefixAndSuffix)
{
    EXPECT_EQ(glob_literal_prefix("news*@x.org"), "news");
    EXPECT_EQ(glob_literal_suffix("news*@x.org"), "@x.org");
    EXPECT_EQ(glob_literal_suffix("*@*.x.org"), ".x.org");
    EXPECT_EQ(glob_literal_suffix("a@x.[a-z]"), "");
    EXPECT_EQ(glob_literal_prefix("plain@x.org"), "plain@x.org");
}
