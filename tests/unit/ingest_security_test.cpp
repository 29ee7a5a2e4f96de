// ingest_security_test.cpp - what an SES notification can make sesame-ingest
// deliver (docs/security.md, "What the ingest daemon trusts").
//
// The notification's recipients are the sender's to choose (SES lists what
// the client gave at RCPT), and on a forged queue message everything is.
// foreign_recipient() is the one gate before Postfix's reinjection service,
// which relays for loopback: only the queue's own domain, and no local part
// that Postfix would route elsewhere (user%host@, host!user@, user@host@
// when the domain is in its mydestination). Table: recipient, queue domain,
// the reason given ("" = delivered).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aws/ingest/notification.hpp"

namespace sesame::ingest {
namespace {

TEST(IngestSecurity, OnlyTheQueuesOwnDomainWithoutRoutingCharacters)
{
    const std::string other = "not in the queue's domain example.com";
    const std::string routing = "routing character ('%', '!' or '@') in the local part";
    struct Case {
        std::string recipient, want;
    };
    const std::vector<Case> cases = {
        {"bob@example.com", ""},
        {"Bob@EXAMPLE.com", ""},
        {"bob+tag@example.com", ""},
        {"bob.smith-jones_1@example.com", ""},
        {"victim@evil.example", other},
        {"bob@example.com.evil.example", other},
        {"bob@sub.example.com", other},
        {"bob@example.co", other},
        {"bob@xexample.com", other},
        {"bob@", other},
        {"example.com", other},
        {"", other},
        {"victim%evil.example@example.com", routing},
        {"evil.example!victim@example.com", routing},
        {"victim@evil.example@example.com", routing},
        {"@evil.example:victim@example.com", routing},
        {"\"victim@evil.example\"@example.com", routing},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(foreign_recipient(c.recipient, "example.com"), c.want)
            << "recipient " << c.recipient << "\n   got: \"" << foreign_recipient(c.recipient, "example.com")
            << "\"\n  want: \"" << c.want << "\"";
    }
}

}  // namespace
}  // namespace sesame::ingest
