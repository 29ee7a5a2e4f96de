// engine_block_index_test.cpp - the compiled blocklist finds exactly what a
// linear scan would.
//
// The property test builds indexes from generated patterns of every filing
// kind (exact, *@domain, prefix*@domain, *suffix@domain, local@*,
// local@*.tld, *@*.domain, prefix*, *spam*, '<>', escapes, and patterns
// glob_error refuses, which must behave as fnmatch(3) with FNM_CASEFOLD),
// filed under the keys of a recipient's lookup path and under unrelated
// keys, and checks every generated sender against a reference: the first
// key of the path (most specific first) with a pattern that matches, where
// "matches" is fnmatch for a non-null sender and "pattern is <>" for the
// null sender. Tables then pin the documented details: key order, exact
// addresses first within a key, accumulation across keys. No timing.
#include <fnmatch.h>

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "policy/engine/address.hpp"
#include "policy/engine/block_index.hpp"
#include "policy/engine/glob.hpp"

namespace sesame::engine {
namespace {

// The reference matcher: what a pattern means for a sender.
bool reference_match(const std::string& pattern, const std::string& sender)
{
    if (sender.empty()) return pattern == "<>";
    if (glob_error(pattern)) return fnmatch(pattern.c_str(), sender.c_str(), FNM_CASEFOLD) == 0;
    return glob_match(pattern, sender);
}

struct Listed {
    std::string key;
    std::string pattern;
};

// The reference lookup: the first key on the path with a matching pattern.
std::optional<std::string> reference_key(const std::vector<Listed>& listed, const std::vector<std::string>& keys,
                                         const std::string& sender)
{
    for (const auto& key : keys)
        for (const auto& l : listed)
            if (l.key == key && reference_match(l.pattern, sender)) return key;
    return std::nullopt;
}

class Generator {
  public:
    explicit Generator(std::uint32_t seed) : rng_(seed) {}

    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
    template <typename T>
    const T& one(const std::vector<T>& v)
    {
        return v[static_cast<std::size_t>(pick(static_cast<int>(v.size())))];
    }

    // Short words from a tiny alphabet, so that patterns and senders meet.
    std::string word(int min_len, int max_len, const std::string& alphabet = "ab")
    {
        int n = min_len + pick(max_len - min_len + 1);
        std::string w;
        for (int i = 0; i < n; ++i) w += alphabet[static_cast<std::size_t>(pick(static_cast<int>(alphabet.size())))];
        return w;
    }
    std::string domain() { return one(domains_); }
    std::string tld() { return one(std::vector<std::string>{"com", "org", "a", "b"}); }

    std::string sender()
    {
        switch (pick(12)) {
            case 0:
                return "";  // the null sender
            case 1:
                return word(1, 6, "ab.-[]*?\\!") + "@" + domain();
            case 2:
                return word(1, 3) + "." + word(1, 3) + "@" + domain();
            default:
                return word(1, 5) + "@" + domain();
        }
    }

    std::string pattern()
    {
        switch (pick(20)) {
            case 0:
                return word(1, 4) + "@" + domain();  // exact
            case 1:
                return "*@" + domain();  // *@domain
            case 2:
                return word(1, 6) + "*@" + domain();  // prefix*@domain
            case 3:
                return "*" + word(1, 3) + "@" + domain();  // *suffix@domain
            case 4:
                return word(1, 4) + "@*";  // local@*
            case 5:
                return word(1, 4) + "@*." + tld();  // local@*.tld
            case 6:
                return "*@*." + one(std::vector<std::string>{"x.com", "com", "b.org", "org", "a"});  // *@*.domain
            case 7:
                return word(1, 6) + "*";  // prefix*
            case 8:
                return "*" + word(1, 3) + "*";  // *spam*
            case 9:
                return "<>";
            case 10:
                return "*";
            case 11:
                return word(1, 2) + "?" + word(0, 2) + "@" + domain();  // ? in the local part
            case 12:
                return "[ab]" + word(0, 2) + "*@" + domain();  // bracket first
            case 13:
                return word(1, 3) + "@" + word(0, 1) + "[a-x]." + tld();  // bracket in the domain
            case 14:
                return "*@" + domain() + "*";  // trailing star
            case 15:
                return word(1, 2) + "\\*@" + domain();  // escaped star
            case 16:
                return "*@*" + word(0, 1) + "\\." + tld();  // escaped dot
            case 17:
                return "*." + tld();  // no '@' at all
            case 18:
                return refused();
            default:
                return random_glob();
        }
    }

    // Patterns glob_error refuses: they must still behave like fnmatch.
    std::string refused()
    {
        switch (pick(12)) {
            case 0:
                return word(1, 2) + "[" + word(1, 2) + "@" + domain();  // unclosed '[', e.g. ab[cd@x.com
            case 1:
                return "[" + word(1, 3) + "@" + domain();
            case 2:
                return word(1, 4) + "@" + domain() + "\\";  // trailing backslash
            case 3:
                return word(1, 4);  // neither '@' nor '*'
            case 4:
                return "*@" + domain() + "[";
            case 5:
                return word(1, 2) + "*[" + word(1, 2) + "@" + domain();
            case 6:
                return "[[:nope:]]*@" + domain();  // unknown class
            // Equivalence classes, collating symbols and malformed class
            // names: here glob_match and fnmatch disagree, so only fnmatch is right.
            case 7:
                return "[[=" + word(1, 1) + "=]]" + word(0, 2) + "*@" + domain();
            case 8:
                return word(0, 2) + "[[." + word(1, 1) + ".]]@" + domain();
            case 9:
                return "*[[:" + word(0, 1) + "[.-@]" + word(0, 2) + "@" + domain();
            case 10:
                return "[[:alpha:][[=" + word(1, 1) + "=]]" + word(0, 1) + "@*";
            default:
                return "*[a-" + word(0, 1) + "@" + domain();
        }
    }

    // A free-form glob from the pieces that make the glob test hard.
    std::string random_glob()
    {
        static const std::vector<std::string> pieces = {"a",    "b",     "@",    ".",    "*",           "?",     "[ab]",
                                                        "[!a]", "[^b]",  "[]a]", "[a-]", "[[:alpha:]]", "[.-@]", "\\*",
                                                        "\\a",  "x.com", "@x",   ".com", "[",           "]",     "-"};
        std::string p;
        for (int i = 1 + pick(6); i > 0; --i) p += one(pieces);
        return p;
    }

    std::mt19937& rng() { return rng_; }

  private:
    std::mt19937 rng_;
    std::vector<std::string> domains_ = {"x.com", "a.x.com", "b.a.x.com", "x.org", "ab.b.org", "b.org", "a", "x.com.a"};
};

std::string describe(const std::vector<Listed>& listed, const std::vector<std::string>& keys, const std::string& sender)
{
    std::ostringstream os;
    os << "sender \"" << sender << "\"; matching patterns on the path:";
    for (const auto& key : keys)
        for (const auto& l : listed)
            if (l.key == key && reference_match(l.pattern, sender)) os << " [" << key << "] " << l.pattern;
    return os.str();
}

// Checks FIND against the reference for every sender; returns the number of hits.
int check_agreement(const BlockIndex& index, const std::vector<Listed>& listed, const std::vector<std::string>& keys,
                    const std::vector<std::string>& senders)
{
    int hits = 0;
    for (const auto& sender : senders) {
        auto want = reference_key(listed, keys, sender);
        auto got = index.find(sender, keys);
        hits += want.has_value();
        if (!want) {
            EXPECT_FALSE(got) << "got [" << got->key << "] " << got->pattern << ", want no match; "
                              << describe(listed, keys, sender);
            continue;
        }
        if (!got) {
            ADD_FAILURE() << "got no match, want key " << *want << "; " << describe(listed, keys, sender);
            continue;
        }
        EXPECT_EQ(std::string(got->key), *want) << "got [" << got->key << "] " << got->pattern << ", want key " << *want
                                                << "; " << describe(listed, keys, sender);
        // The pattern reported must be listed under that key and match.
        bool listed_there = false;
        for (const auto& l : listed) listed_there |= l.key == got->key && l.pattern == got->pattern;
        EXPECT_TRUE(listed_there) << "got [" << got->key << "] " << got->pattern << ", which is not listed there";
        EXPECT_TRUE(reference_match(std::string(got->pattern), sender))
            << "got [" << got->key << "] " << got->pattern << ", which does not match \"" << sender << "\"";
    }
    return hits;
}

TEST(BlockIndex, AgreesWithALinearScanOnGeneratedPatterns)
{
    Generator gen(20260607);
    const std::vector<std::string> path = {"user+tag@x.com", "user@x.com", "@x.com", "*"};
    const std::vector<std::string> elsewhere = {"other@x.com", "@x.org", "user+tag@x.org"};
    int total_hits = 0, total_checks = 0, null_hits = 0;
    std::map<std::string, int> hits_by_key;
    for (int round = 0; round < 60; ++round) {
        std::vector<Listed> listed;
        BlockIndexBuilder builder;
        const int n = 1 + gen.pick(round < 10 ? 8 : 400);  // small and large keys
        for (int i = 0; i < n; ++i) {
            // Mostly on the path, some under keys the lookup never asks for.
            std::string key = gen.pick(5) == 0 ? gen.one(elsewhere) : gen.one(path);
            std::string pattern = gen.pattern();
            listed.push_back({key, pattern});
            builder.add(key, pattern);
        }
        auto index = builder.build();
        ASSERT_EQ(index->size(), listed.size());
        std::vector<std::string> senders;
        for (int i = 0; i < 300; ++i) senders.push_back(gen.sender());
        // Senders equal to listed patterns, so exact filings are hit (only
        // address-shaped ones: senders without '@' have their own test).
        for (int i = 0; i < 40; ++i)
            if (const auto& p = gen.one(listed).pattern; p.find('@') != std::string::npos) senders.push_back(p);
        for (const auto& s : senders) {
            auto want = reference_key(listed, path, s);
            if (want) {
                ++hits_by_key[*want];
                null_hits += s.empty();
            }
        }
        total_hits += check_agreement(*index, listed, path, senders);
        total_checks += static_cast<int>(senders.size());
        // Keys that are not on any path of the listed patterns find nothing.
        for (const auto& s : senders) EXPECT_FALSE(index->find(s, {"nobody@y.net", "@y.net"})) << s;
        if (HasFailure()) break;
    }
    // The generator must exercise the index, not only its misses.
    EXPECT_GT(total_hits, total_checks / 5) << "hits " << total_hits << " of " << total_checks;
    EXPECT_LT(total_hits, total_checks * 9 / 10) << "hits " << total_hits << " of " << total_checks;
    EXPECT_GT(null_hits, 20);
    for (const auto& key : path) EXPECT_GT(hits_by_key[key], 50) << "too few first matches under key " << key;
}

// One pattern of each filing kind, alone under one key, against senders
// that match it and senders that nearly do: catches a kind whose probe
// misses (the property test would also, but this names the kind).
TEST(BlockIndex, EveryFilingKindFindsWhatItMatches)
{
    struct Case {
        const char* kind;
        const char* pattern;
        std::vector<std::string> match;
        std::vector<std::string> miss;
    };
    const std::vector<Case> cases = {
        {"exact", "bob@spam.com", {"bob@spam.com"}, {"bob@spam.co", "bo@spam.com", "bob@spam.com.x", ""}},
        {"*@domain", "*@spam.com", {"a@spam.com", "x.y@spam.com", "@spam.com"}, {"a@spam.com.x", "a@x.spam.com", ""}},
        {"prefix*@domain",
         "newsletter*@shop.com",
         {"newsletter@shop.com", "newsletter-de@shop.com"},
         {"news@shop.com", "newsletter@shop.org", "xnewsletter@shop.com"}},
        {"short prefix*@domain", "n*@shop.com", {"n@shop.com", "news@shop.com"}, {"a@shop.com"}},
        {"*suffix@domain",
         "*-bounces@lists.org",
         {"x-bounces@lists.org", "-bounces@lists.org"},
         {"bounces@lists.org", "x-bounces@lists.org.uk"}},
        {"local@*", "noreply@*", {"noreply@a.com", "noreply@x", "noreply@"}, {"noreply2@a.com", "no@a.com"}},
        {"local@*.tld", "noreply@*.com", {"noreply@shop.com", "noreply@a.b.com"}, {"noreply@shop.org", "noreply@com"}},
        {"local@domain.*",
         "newsletter@example.*",
         {"newsletter@example.de", "newsletter@example.co.uk"},
         {"newsletter@example", "newsletter@sub.example.de"}},
        {"*@*.domain", "*@*.spam.com", {"a@b.spam.com", "a@x.y.spam.com"}, {"a@spam.com", "a@bspam.com"}},
        {"prefix*", "mailer-daemon*", {"mailer-daemon@x.org", "mailer-daemon"}, {"mailer@x.org"}},
        {"*spam*", "*spam*", {"spam@x.org", "a@spamhaus.org", "xspamx"}, {"spa@m.org", ""}},
        {"*", "*", {"a@b.c", "x"}, {""}},
        {"?", "?@x.org", {"a@x.org"}, {"ab@x.org", "@x.org"}},
        {"bracket", "[a-c]*@x.org", {"bob@x.org", "cat@x.org"}, {"dog@x.org"}},
        {"negated bracket", "[!a-c]*@x.org", {"dog@x.org"}, {"bob@x.org"}},
        {"class", "[[:digit:]]*@x.org", {"1a@x.org"}, {"a1@x.org"}},
        {"escape", "a\\*b@x.org", {"a*b@x.org"}, {"axb@x.org", "ab@x.org"}},
        {"escaped dot suffix", "*@x\\.org", {"a@x.org"}, {"a@xyorg"}},
        {"null sender", "<>", {""}, {"a@b.c", "<>@x.org"}},
        // Refused by glob_error, so matched by fnmatch itself.
        {"unclosed bracket", "ab[cd@x.com", {"ab[cd@x.com"}, {"abc@x.com", "abd@x.com", "ab[cd@x.co"}},
        {"unclosed bracket first", "[ab@x.com", {"[ab@x.com"}, {"a@x.com", "ab@x.com"}},
        {"trailing backslash", "ab@x.com\\", {}, {"ab@x.com", "ab@x.com\\"}},
        {"no @ no *", "spam.com", {"spam.com"}, {"a@spam.com"}},
        {"unknown class", "[[:nope:]]@x.org", {}, {"a@x.org", "n@x.org"}},
        {"equivalence class", "[[=a=]]b@x.org", {"ab@x.org"}, {"bb@x.org"}},
        {"collating symbol", "[[.a.]]*@x.org", {"a@x.org", "abc@x.org"}, {"b@x.org"}},
        {"malformed class name", "*[[:[.-@]x.org", {}, {"a@x.org", "a.x.org"}},
    };
    for (const auto& c : cases) {
        BlockIndexBuilder builder;
        builder.add("@k.org", c.pattern);
        auto index = builder.build();
        const std::vector<std::string> keys = {"u@k.org", "@k.org", "*"};
        for (const auto& s : c.match) {
            EXPECT_TRUE(reference_match(c.pattern, s)) << "table error: " << c.pattern << " vs " << s;
            auto got = index->find(s, keys);
            EXPECT_TRUE(got) << c.kind << ": pattern " << c.pattern << " sender \"" << s
                             << "\": got no match, want a match";
            if (got) {
                EXPECT_EQ(got->pattern, c.pattern);
                EXPECT_EQ(got->key, "@k.org");
            }
        }
        for (const auto& s : c.miss) {
            EXPECT_FALSE(reference_match(c.pattern, s)) << "table error: " << c.pattern << " vs " << s;
            auto got = index->find(s, keys);
            EXPECT_FALSE(got) << c.kind << ": pattern " << c.pattern << " sender \"" << s
                              << "\": got a match, want none";
        }
    }
}

// The null sender is matched by "<>" and by nothing else, however broad.
TEST(BlockIndex, NullSenderMatchesOnlyAngleBrackets)
{
    const char* const broad_patterns[] = {"*", "?*", "*@*", "[<]>", "\\<>", "<*>", "*<>*", "<>*", "[<>]*"};
    BlockIndexBuilder builder;
    for (const char* p : broad_patterns) builder.add("*", p);
    auto broad = builder.build();
    auto got = broad->find("", {"*"});
    EXPECT_FALSE(got) << "got [" << (got ? got->pattern : "") << "], want no match";
    EXPECT_TRUE(broad->find("a@b.c", {"*"}));

    for (const char* p : broad_patterns) builder.add("*", p);
    builder.add("@x.org", "<>");
    auto with_null = builder.build();
    got = with_null->find("", {"u@x.org", "@x.org", "*"});
    ASSERT_TRUE(got);
    EXPECT_EQ(got->pattern, "<>");
    EXPECT_EQ(got->key, "@x.org");
    got = with_null->find("someone@x.org", {"u@x.org", "@x.org"});
    EXPECT_FALSE(got) << "got [" << (got ? got->pattern : "") << "], want no match: <> is for the null sender only";
}

// The first match follows key order, most specific key first, whatever
// order the patterns were added in; within a key, exact addresses first.
TEST(BlockIndex, FirstMatchFollowsKeyOrder)
{
    BlockIndexBuilder builder;
    builder.add("*", "*@spam.com");
    builder.add("@example.com", "*spam*");
    builder.add("user@example.com", "*@*.com");
    builder.add("user+tag@example.com", "bob@spam.com");
    builder.add("user+tag@example.com", "*@spam.com");  // added after the exact one
    builder.add("other@example.com", "*");
    builder.add("@example.com", "evil@spam.com");  // exact, added after a wildcard
    auto index = builder.build();

    struct Case {
        const char* sender;
        std::vector<std::string> keys;
        const char* want_key;  // nullptr: no match
        const char* want_pattern;
    };
    const std::vector<std::string> tagged = {"user+tag@example.com", "user@example.com", "@example.com", "*"};
    const std::vector<std::string> plain = {"user@example.com", "@example.com", "*"};
    const std::vector<std::string> domain_only = {"nobody@example.com", "@example.com", "*"};
    const std::vector<Case> cases = {
        {"bob@spam.com", tagged, "user+tag@example.com", "bob@spam.com"},
        {"alice@spam.com", tagged, "user+tag@example.com", "*@spam.com"},
        {"alice@spam.com", plain, "user@example.com", "*@*.com"},
        {"evil@spam.com", domain_only, "@example.com", "evil@spam.com"},  // exact before *spam*
        {"alice@spam.com", domain_only, "@example.com", "*spam*"},
        {"alice@spam.com", {"*"}, "*", "*@spam.com"},
        {"x@spamhaus.org", plain, "@example.com", "*spam*"},
        {"x@ham.org", plain, nullptr, nullptr},
        {"x@ham.org", {"other@example.com", "@example.com", "*"}, "other@example.com", "*"},
        {"x@ham.org", {}, nullptr, nullptr},
        // Keys are looked up as given: the caller normalises them.
        {"bob@spam.com", {"USER+TAG@EXAMPLE.COM"}, nullptr, nullptr},
    };
    for (const auto& c : cases) {
        auto got = index->find(c.sender, c.keys);
        std::string got_s = got ? "[" + std::string(got->key) + "] " + std::string(got->pattern) : "(none)";
        std::string want_s = c.want_key ? "[" + std::string(c.want_key) + "] " + c.want_pattern : "(none)";
        EXPECT_EQ(got_s, want_s) << "sender " << c.sender << ": got " << got_s << " want " << want_s;
    }
}

// Blocklists accumulate: every key on the path is checked, so a pattern
// under the recipient's own key, its domain's or the global one all block.
TEST(BlockIndex, AccumulatesAcrossTheLookupPath)
{
    BlockIndexBuilder builder;
    builder.add("user@example.com", "own@a.org");
    builder.add("@example.com", "*@domain.org");
    builder.add("*", "*@global.org");
    builder.add("@other.com", "*@elsewhere.org");
    auto index = builder.build();
    auto a = parse_address("User+Tag@Example.com");
    ASSERT_TRUE(a);
    const auto keys = lookup_keys(*a, "+");
    struct Case {
        const char* sender;
        const char* want_key;
    };
    const Case cases[] = {
        {"own@a.org", "user@example.com"}, {"x@domain.org", "@example.com"}, {"x@global.org", "*"},
        {"x@elsewhere.org", nullptr},      {"other@a.org", nullptr},
    };
    for (const auto& c : cases) {
        auto got = index->find(c.sender, keys);
        std::string got_key = got ? std::string(got->key) : "(none)";
        std::string want_key = c.want_key ? c.want_key : "(none)";
        EXPECT_EQ(got_key, want_key) << "sender " << c.sender << ": got key " << got_key << " want " << want_key;
    }
}

TEST(BlockIndex, EmptyIndexFindsNothing)
{
    BlockIndexBuilder builder;
    auto index = builder.build();
    EXPECT_EQ(index->size(), 0u);
    EXPECT_FALSE(index->find("a@b.c", {"a@b.c", "@b.c", "*"}));
    EXPECT_FALSE(index->find("", {"*"}));
}

// Duplicates and many patterns sharing one literal (one hash slot) are all
// verified, so the one that matches is found whatever its position.
TEST(BlockIndex, ManyPatternsSharingALiteral)
{
    BlockIndexBuilder builder;
    for (int i = 0; i < 500; ++i) builder.add("@x.org", "u" + std::to_string(i) + "*@spam.com");
    builder.add("@x.org", "*@spam.com");
    builder.add("@x.org", "*@spam.com");
    auto index = builder.build();
    EXPECT_EQ(index->size(), 502u);
    auto got = index->find("u499-z@spam.com", {"@x.org"});
    ASSERT_TRUE(got);
    EXPECT_TRUE(glob_match(got->pattern, "u499-z@spam.com")) << "got " << got->pattern;
    got = index->find("zz@spam.com", {"@x.org"});
    ASSERT_TRUE(got);
    EXPECT_EQ(got->pattern, "*@spam.com");
    EXPECT_FALSE(index->find("u1@spam.org", {"@x.org"}));
}

// A sender the envelope gives without '@' is not an address, but
// evaluate() still hands it to the index (lower-cased); a pattern must
// match it exactly as fnmatch would.
TEST(BlockIndex, SenderWithoutAtSignMatchesAsFnmatchWould)
{
    struct Case {
        const char* pattern;
        const char* sender;
    };
    const Case cases[] = {
        {"*spam*", "spammer"}, {"mailer*", "mailer-daemon"}, {"mailer-daemon", "mailer-daemon"},
        {"*.com", "spam.com"}, {"*.doe", "john.doe"},        {"*.b.c", "a.b.c"},
    };
    for (const auto& c : cases) {
        BlockIndexBuilder builder;
        builder.add("*", c.pattern);
        auto index = builder.build();
        bool want = reference_match(c.pattern, c.sender);
        bool got = index->find(c.sender, {"*"}).has_value();
        EXPECT_EQ(got, want) << "pattern " << c.pattern << " sender \"" << c.sender << "\": got " << got << " want "
                             << want << " (fnmatch)";
    }
}

}  // namespace
}  // namespace sesame::engine
