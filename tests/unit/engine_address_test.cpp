// engine_address_test.cpp - how addresses, senders and rule keys are
// normalised, and which lookup keys a recipient gets.
//
// Got/want tables over parse_address, normalize_sender, normalize_key,
// base_address and lookup_keys: case folding, angle brackets, the null
// sender ("" and "<>"), IDN domains to their A-label, every refusal with its
// reason, and the virtual(5)-style key path with the recipient delimiter
// (one character, several, none, and a local part that starts with one).
// Each failure prints the input, what came out and what was wanted.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "policy/engine/address.hpp"
#include "tests/unit/test_text.hpp"

namespace sesame::engine {
namespace {

std::string join(const std::vector<std::string>& v)
{
    std::string out = "[";
    for (const auto& s : v) out += (out.size() > 1 ? ", " : "") + ("\"" + s + "\"");
    return out + "]";
}

using testdata::show;

TEST(Address, ParsesAndNormalises)
{
    struct Case {
        const char* input;
        const char* local;
        const char* domain;
    };
    const Case cases[] = {
        {"user@example.com", "user", "example.com"},
        {"User@Example.COM", "user", "example.com"},
        {"USER.Name+Tag@EXAMPLE.com", "user.name+tag", "example.com"},
        {"<User@Example.com>", "user", "example.com"},
        {"  <user@example.com>  ", "user", "example.com"},
        {"< user@example.com >", "user", "example.com"},
        {"\tuser@example.com ", "user", "example.com"},
        {"user@example.com.", "user", "example.com"},  // FQDN form
        {"user@bücher.example", "user", "xn--bcher-kva.example"},
        {"user@BÜCHER.example", "user", "xn--bcher-kva.example"},
        {"user@xn--bcher-kva.example", "user", "xn--bcher-kva.example"},
        {"user@XN--BCHER-KVA.EXAMPLE", "user", "xn--bcher-kva.example"},
        {"user@münchen.de", "user", "xn--mnchen-3ya.de"},
        {"\"a@b\"@example.com", "\"a@b\"", "example.com"},  // quoted local part keeps its '@'
        {"user@[192.0.2.1]", "user", "[192.0.2.1]"},
        {"user@sub_domain.example", "user", "sub_domain.example"},
    };
    for (const auto& c : cases) {
        std::string why;
        auto got = parse_address(c.input, &why);
        ASSERT_TRUE(got) << "input \"" << c.input << "\": got refused (" << why << "), want " << c.local << "@"
                         << c.domain;
        EXPECT_EQ(got->local(), c.local) << "input \"" << c.input << "\": local got \"" << got->local() << "\" want \""
                                         << c.local << "\"";
        EXPECT_EQ(got->domain(), c.domain)
            << "input \"" << c.input << "\": domain got \"" << got->domain() << "\" want \"" << c.domain << "\"";
        EXPECT_EQ(got->full(), std::string(c.local) + "@" + c.domain);
    }
}

TEST(Address, RefusesBadAddressesWithAReason)
{
    struct Case {
        const char* input;
        const char* reason_has;
    };
    const Case cases[] = {
        {"", "empty address"},
        {"   ", "empty address"},
        {"\t", "empty address"},
        {"<>", "empty address"},  // the null sender is not an address
        {"< >", "empty address"},
        {"user", "has no '@domain'"},
        {"user.example.com", "has no '@domain'"},
        {"<user>", "has no '@domain'"},
        {"@example.com", "has an empty local part"},
        {"<@example.com>", "has an empty local part"},
        {"a@b@example.com", "has more than one '@'"},
        {"user@", "empty domain"},
        {"user@.", "empty domain"},
        {"user@example..com", "empty label"},
        {"user@.example.com", "empty label"},
        {"us er@example.com", "invalid character"},
        {"user@exa mple.com", "invalid character ' '"},
        {"user@exa!mple.com", "invalid character '!'"},
        {"us<er@example.com", "invalid character"},
        {"user\x01@example.com", "invalid character"},
        {"user@a.b.", nullptr},  // accepted: FQDN form (checked below as not refused)
    };
    for (const auto& c : cases) {
        std::string why;
        auto got = parse_address(c.input, &why);
        if (!c.reason_has) {
            EXPECT_TRUE(got) << "input \"" << c.input << "\": got refused (" << why << "), want accepted";
            continue;
        }
        EXPECT_FALSE(got) << "input \"" << c.input << "\": got " << (got ? got->full() : "") << ", want refused with \""
                          << c.reason_has << "\"";
        EXPECT_NE(why.find(c.reason_has), std::string::npos) << "input \"" << c.input << "\": reason got \"" << why
                                                             << "\" want it to contain \"" << c.reason_has << "\"";
    }
    // The reason names the address as typed (without the brackets).
    std::string why;
    EXPECT_FALSE(parse_address("<nobody>", &why));
    EXPECT_NE(why.find("\"nobody\""), std::string::npos) << "got \"" << why << "\"";
    // Too long a domain and too long a label.
    EXPECT_FALSE(parse_address("u@" + std::string(64, 'a') + ".com", &why));
    EXPECT_NE(why.find("longer than 63"), std::string::npos) << "got \"" << why << "\"";
    std::string long_domain;
    for (int i = 0; i < 50; ++i) long_domain += "abcde.";
    EXPECT_FALSE(parse_address("u@" + long_domain + "com", &why));
    EXPECT_NE(why.find("longer than 253"), std::string::npos) << "got \"" << why << "\"";
    // A null why is allowed.
    EXPECT_FALSE(parse_address("user"));
}

TEST(Address, NullSender)
{
    struct Case {
        const char* input;
        bool is_null;
        std::optional<std::string> normalised;
    };
    const Case cases[] = {
        {"", true, ""},
        {"<>", true, ""},
        {"  <>  ", true, ""},
        {" ", true, ""},
        {"<User@Example.COM>", false, "user@example.com"},
        {"User@Example.COM", false, "user@example.com"},
        {"MAILER-DAEMON@Example.com", false, "mailer-daemon@example.com"},
        {"<user>", false, std::nullopt},
        {"a@b@c.com", false, std::nullopt},
        {"< >", false, std::nullopt},  // brackets around a blank: not the null sender, not an address
    };
    for (const auto& c : cases) {
        EXPECT_EQ(is_null_sender(c.input), c.is_null)
            << "is_null_sender(\"" << c.input << "\"): got " << !c.is_null << " want " << c.is_null;
        std::string why;
        auto got = normalize_sender(c.input, &why);
        EXPECT_EQ(got, c.normalised) << "normalize_sender(\"" << c.input << "\"): got " << show(got) << " (" << why
                                     << ") want " << show(c.normalised);
    }
}

TEST(Address, RuleKeys)
{
    struct Case {
        const char* input;
        std::optional<std::string> want;
        const char* reason_has;  // when refused
    };
    const Case cases[] = {
        {"*", "*", nullptr},
        {" * ", "*", nullptr},
        {"@Example.COM", "@example.com", nullptr},
        {"@bücher.example", "@xn--bcher-kva.example", nullptr},
        {"@example.com.", "@example.com", nullptr},
        {"User@Example.COM", "user@example.com", nullptr},
        {"<User+Tag@Example.com>", "user+tag@example.com", nullptr},
        {"user@bücher.example", "user@xn--bcher-kva.example", nullptr},
        {"@", std::nullopt, "empty domain"},
        {"@exa mple.com", std::nullopt, "invalid character"},
        {"example.com", std::nullopt, "is not an address, @domain or *"},
        {"**", std::nullopt, "is not an address, @domain or *"},
        // '*' is a valid local-part character, so this is the address
        // *@example.com, never a wildcard key (lookups never produce it).
        {"*@example.com", "*@example.com", nullptr},
        {"", std::nullopt, "empty address"},
        {"a@b@example.com", std::nullopt, "more than one '@'"},
    };
    for (const auto& c : cases) {
        std::string why;
        auto got = normalize_key(c.input, &why);
        EXPECT_EQ(got, c.want) << "normalize_key(\"" << c.input << "\"): got " << show(got) << " want " << show(c.want)
                               << " (why: " << why << ")";
        if (!c.want) {
            EXPECT_NE(why.find(c.reason_has), std::string::npos)
                << "normalize_key(\"" << c.input << "\"): reason got \"" << why << "\" want it to contain \""
                << c.reason_has << "\"";
        }
    }
}

TEST(Address, LookupKeysWithTheRecipientDelimiter)
{
    struct Case {
        const char* address;
        const char* delimiters;
        const char* base;
        std::vector<std::string> keys;
    };
    const std::vector<Case> cases = {
        {"user@example.com", "+", "user@example.com", {"user@example.com", "@example.com", "*"}},
        {"User+Ext@Example.com",
         "+",
         "user@example.com",
         {"user+ext@example.com", "user@example.com", "@example.com", "*"}},
        // The first delimiter cuts: the rest of the extension goes too.
        {"user+a+b@example.com",
         "+",
         "user@example.com",
         {"user+a+b@example.com", "user@example.com", "@example.com", "*"}},
        {"user+@example.com", "+", "user@example.com", {"user+@example.com", "user@example.com", "@example.com", "*"}},
        // Another delimiter character is not a delimiter.
        {"user-ext@example.com", "+", "user-ext@example.com", {"user-ext@example.com", "@example.com", "*"}},
        // Several delimiter characters (Postfix 2.11+): any of them cuts, the first found wins.
        {"user-ext@example.com",
         "+-",
         "user@example.com",
         {"user-ext@example.com", "user@example.com", "@example.com", "*"}},
        {"user+ext@example.com",
         "+-",
         "user@example.com",
         {"user+ext@example.com", "user@example.com", "@example.com", "*"}},
        {"user-a+b@example.com",
         "+-",
         "user@example.com",
         {"user-a+b@example.com", "user@example.com", "@example.com", "*"}},
        {"user+a-b@example.com",
         "-+",
         "user@example.com",
         {"user+a-b@example.com", "user@example.com", "@example.com", "*"}},
        // No delimiter configured: no base address.
        {"user+ext@example.com", "", "user+ext@example.com", {"user+ext@example.com", "@example.com", "*"}},
        // A local part that starts with the delimiter has no base.
        {"+foo@example.com", "+", "+foo@example.com", {"+foo@example.com", "@example.com", "*"}},
        {"-foo+bar@example.com", "+-", "-foo+bar@example.com", {"-foo+bar@example.com", "@example.com", "*"}},
        // The domain part is never cut.
        {"user@ex+ample.com", "+", "user@ex+ample.com", {}},  // refused by the parser: see below
        {"user@bücher.example",
         "+",
         "user@xn--bcher-kva.example",
         {"user@xn--bcher-kva.example", "@xn--bcher-kva.example", "*"}},
        {"user-x@my-domain.example",
         "-",
         "user@my-domain.example",
         {"user-x@my-domain.example", "user@my-domain.example", "@my-domain.example", "*"}},
    };
    for (const auto& c : cases) {
        auto a = parse_address(c.address);
        if (c.keys.empty()) {
            EXPECT_FALSE(a) << c.address << " should not parse";
            continue;
        }
        ASSERT_TRUE(a) << c.address;
        EXPECT_EQ(base_address(*a, c.delimiters), c.base)
            << "base_address(\"" << c.address << "\", \"" << c.delimiters << "\"): got \""
            << base_address(*a, c.delimiters) << "\" want \"" << c.base << "\"";
        auto got = lookup_keys(*a, c.delimiters);
        EXPECT_EQ(got, c.keys) << "lookup_keys(\"" << c.address << "\", \"" << c.delimiters << "\"):\n  got  "
                               << join(got) << "\n  want " << join(c.keys);
    }
}

TEST(Address, AsciiLowerLeavesOtherBytes)
{
    EXPECT_EQ(ascii_lower("AbC-Ü@X.ORG"), "abc-Ü@x.org");
    EXPECT_EQ(ascii_lower(""), "");
}

TEST(Address, NormaliseDomain)
{
    struct Case {
        const char* input;
        std::optional<std::string> want;
    };
    const Case cases[] = {
        {"Example.COM", "example.com"},
        {"example.com.", "example.com"},
        {" example.com ", "example.com"},
        {"bücher.example", "xn--bcher-kva.example"},
        {"Bücher.Example", "xn--bcher-kva.example"},
        {"", std::nullopt},
        {".", std::nullopt},
        {"a..b", std::nullopt},
        {"exa$mple.com", std::nullopt},
    };
    for (const auto& c : cases) {
        std::string why;
        auto got = normalize_domain(c.input, &why);
        EXPECT_EQ(got, c.want) << "normalize_domain(\"" << c.input << "\"): got " << show(got) << " (" << why
                               << ") want " << show(c.want);
    }
}

}  // namespace
}  // namespace sesame::engine
