// engine_security_test.cpp - what an outsider can and cannot make the
// policy decide (docs/security.md, "What an outsider can make Sesame do").
//
// The sender and every header of a message are the outsider's to choose;
// the rules are the postmaster's. These cases pin the stops that follow
// from that: forward targets come from the rule alone (the message can only
// take targets away, never add one); an auto-reply goes to the envelope
// sender only, never to an address named in the message; the reply
// interval cannot be dodged by changing the case of an address or adding a
// recipient extension; rule data that is not an address (a target with a
// line break, an angle bracket, a blank, as a DynamoDB item may hold) never
// becomes one. Pure: one Snapshot, a fake reply history, a fixed time.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "policy/engine/address.hpp"
#include "policy/engine/evaluate.hpp"
#include "tests/unit/engine_test_support.hpp"

namespace sesame::engine {
// Named, not anonymous: the unit programs are unity builds, and
// engine_evaluate_test.cpp has its own snapshot(), kNow and forward().
namespace security_test {

using test::dump;
using test::FakeHistory;

ForwardRule forward(std::vector<std::string> targets, bool keep_copy = true)
{
    return test::forward(std::move(targets), ForwardMode::redirect, keep_copy);
}

constexpr Time kNow = 1735776000;  // 2025-01-02T00:00:00Z
constexpr Time kDay = 86400;

OooRule away()
{
    OooRule r;
    r.text = "I am away";
    return r;
}

const Snapshot& snapshot()
{
    static const auto snap = [] {
        RuleSet r;
        r.domains = {"example.com"};
        r.blocks = {{"away@example.com", "*@blocked.example"}};
        r.forwards["fwd@example.com"] = forward({"out@other.example"});
        r.forwards["nocopy@example.com"] = forward({"out@other.example"}, /*keep_copy=*/false);
        // As a DynamoDB item written by another tool could hold them: one
        // good target, then text that must never reach an SMTP command.
        r.forwards["dirty@example.com"] = forward({
            "good@other.example",
            "a@other.example\r\nRCPT TO:<evil@attacker.example>",
            "evil@attacker.example>",
            "<evil@attacker.example> NOTIFY=SUCCESS",
            "evil @attacker.example",
            std::string("evil\0@attacker.example", 22),
        });
        r.ooo["away@example.com"] = away();
        PolicySettings s;
        s.domains = {"example.com"};
        return Snapshot::build(r, s);
    }();
    return *snap;
}

// A message whose every header names the attacker's choice of addresses.
MessageInfo hostile_message()
{
    MessageInfo m;
    m.from_address = "ceo@victim.example";
    m.to_cc = {"away@example.com", "fwd@example.com", "plain@example.com", "target@victim.example"};
    m.subject = "Invoice";
    m.message_id = "<1@attacker.example>";
    return m;
}

std::vector<std::string> targets_of(const RecipientDecision& d)
{
    std::vector<std::string> out;
    for (const auto& f : d.forwards) out.insert(out.end(), f.to.begin(), f.to.end());
    return out;
}

// Forward targets are the rule's; no sender, recipient or header adds one.
TEST(EngineSecurity, ForwardTargetsComeOnlyFromTheRule)
{
    Envelope env{"attacker@attacker.example",
                 {"plain@example.com", "fwd@example.com", "fwd+x@example.com", "target@victim.example"}};
    Decision d = evaluate(snapshot(), env, hostile_message(), kNow, nullptr);
    ASSERT_EQ(d.recipients.size(), 4u);
    EXPECT_TRUE(d.recipients[0].forwards.empty()) << dump(d.recipients[0]);
    EXPECT_EQ(targets_of(d.recipients[1]), std::vector<std::string>{"out@other.example"}) << dump(d.recipients[1]);
    EXPECT_EQ(targets_of(d.recipients[2]), std::vector<std::string>{"out@other.example"}) << dump(d.recipients[2]);
    // Not a local domain: nothing but "untouched" (Postfix's relay rules decide).
    EXPECT_FALSE(d.recipients[3].local);
    EXPECT_TRUE(d.recipients[3].forwards.empty()) << dump(d.recipients[3]);
    EXPECT_FALSE(d.recipients[3].autoreply) << dump(d.recipients[3]);
}

// What the message can do to a forward is take targets away (Delivered-To,
// the loop marker); the mail then stays in the mailbox, even under a rule
// without a local copy: an outsider cannot make Sesame drop mail.
TEST(EngineSecurity, TheMessageCanOnlyTakeForwardsAway)
{
    MessageInfo seen = hostile_message();
    seen.delivered_to = {"Out@Other.Example"};
    MessageInfo marked = hostile_message();
    marked.has_marker = true;
    marked.marker_name = "X-Sesame-Processed";
    for (const MessageInfo& m : {seen, marked}) {
        Decision d =
            evaluate(snapshot(), Envelope{"attacker@attacker.example", {"nocopy@example.com"}}, m, kNow, nullptr);
        ASSERT_EQ(d.recipients.size(), 1u);
        const RecipientDecision& r = d.recipients[0];
        EXPECT_TRUE(r.forwards.empty()) << dump(r);
        EXPECT_EQ(r.verdict, Verdict::deliver) << dump(r);
    }
}

// Rule data that is not an address never becomes a target, whatever wrote it.
TEST(EngineSecurity, RuleDataThatIsNotAnAddressIsNeverATarget)
{
    Decision d =
        evaluate(snapshot(), Envelope{"friend@other.example", {"dirty@example.com"}}, hostile_message(), kNow, nullptr);
    ASSERT_EQ(d.recipients.size(), 1u);
    const RecipientDecision& r = d.recipients[0];
    EXPECT_EQ(targets_of(r), std::vector<std::string>{"good@other.example"}) << dump(r);
    int skipped = 0;
    for (const auto& t : r.trace) skipped += t.find("skipped: not an address") != std::string::npos;
    EXPECT_EQ(skipped, 5) << dump(r);

    for (const char* bad : {"a@b.example\r\nRCPT TO:<c@d.example>", "a@b.example\n", "a\r@b.example", "a@b.example>",
                            "<a@b.example", "a<b@c.example", "a b@c.example", "a@b c.example"}) {
        EXPECT_FALSE(parse_address(bad)) << ::testing::PrintToString(std::string(bad));
    }
}

// RFC 3834: the reply goes to the envelope sender (Return-Path), never to
// From, Reply-To or any other address the message names.
TEST(EngineSecurity, AutoReplyGoesToTheEnvelopeSenderOnly)
{
    Decision d =
        evaluate(snapshot(), Envelope{"Forged@Sender.Example", {"away@example.com"}}, hostile_message(), kNow, nullptr);
    ASSERT_EQ(d.recipients.size(), 1u);
    ASSERT_TRUE(d.recipients[0].autoreply) << dump(d.recipients[0]);
    EXPECT_EQ(d.recipients[0].autoreply->to, "forged@sender.example");
    EXPECT_EQ(d.recipients[0].autoreply->from, "away@example.com");
    // The reply carries the rule's text only: nothing of the message's body.
    EXPECT_EQ(d.recipients[0].autoreply->text, "I am away");

    // A sender the recipient blocks gets no reply at all.
    Decision blocked =
        evaluate(snapshot(), Envelope{"x@blocked.example", {"away@example.com"}}, hostile_message(), kNow, nullptr);
    EXPECT_FALSE(blocked.recipients[0].autoreply) << dump(blocked.recipients[0]);
}

// One reply per sender and mailbox per interval: the state is keyed by the
// normalised sender and the base mailbox, so case and +extensions do not
// buy a second reply.
TEST(EngineSecurity, TheReplyIntervalCannotBeDodgedByAddressForms)
{
    FakeHistory history;
    history.replies[{"away@example.com", "bob@sender.example"}] = kNow - kDay;
    for (const auto& [sender, rcpt] : std::vector<std::pair<std::string, std::string>>{
             {"bob@sender.example", "away@example.com"},
             {"BOB@Sender.EXAMPLE", "away@example.com"},
             {"<bob@sender.example>", "AWAY@example.com"},
             {"bob@sender.example", "away+other@example.com"},
         }) {
        MessageInfo m = hostile_message();
        m.to_cc.push_back(rcpt);
        Decision d = evaluate(snapshot(), Envelope{sender, {rcpt}}, m, kNow, &history);
        ASSERT_EQ(d.recipients.size(), 1u);
        EXPECT_FALSE(d.recipients[0].autoreply) << sender << " -> " << rcpt << "\n" << dump(d.recipients[0]);
        if (d.recipients[0].autoreply) continue;
        EXPECT_NE(d.recipients[0].trace.back().find("already replied to bob@sender.example"), std::string::npos)
            << dump(d.recipients[0]);
    }
}

}  // namespace security_test
}  // namespace sesame::engine

namespace sesame::engine {
namespace security_test {

// A local part too long to have a key of its own (over 256 bytes: no
// mailbox rule can name it) still gets its domain's and the global
// blocklists, at RCPT and at end of message: otherwise a sender blocked
// for the whole domain reaches it by writing a 2,000-character address.
TEST(EngineSecurity, AnAddressTooLongForAKeyStillGetsItsDomainsBlocklist)
{
    RuleSet r;
    r.domains = {"example.com"};
    r.blocks = {{"@example.com", "*@domainwide.example"}, {"*", "*@everywhere.example"}};
    PolicySettings s;
    s.domains = {"example.com"};
    const auto snap = Snapshot::build(r, s);
    const std::string longer = std::string(2000, 'a') + "@example.com";
    const std::string elsewhere = std::string(2000, 'a') + "@other.example";

    for (const char* sender : {"x@domainwide.example", "x@everywhere.example"}) {
        RecipientDecision at_rcpt = evaluate_envelope(*snap, sender, longer);
        EXPECT_TRUE(at_rcpt.local);
        EXPECT_EQ(at_rcpt.verdict, Verdict::reject) << sender << "\n" << dump(at_rcpt);
        Decision at_eom = evaluate(*snap, Envelope{sender, {longer}}, MessageInfo{}, kNow, nullptr);
        ASSERT_EQ(at_eom.recipients.size(), 1u);
        EXPECT_EQ(at_eom.recipients[0].verdict, Verdict::reject) << sender << "\n" << dump(at_eom.recipients[0]);
    }
    // Not blocked: delivered; not our domain: untouched, as before.
    EXPECT_EQ(evaluate_envelope(*snap, "friend@good.example", longer).verdict, Verdict::deliver);
    RecipientDecision foreign = evaluate_envelope(*snap, "x@domainwide.example", elsewhere);
    EXPECT_FALSE(foreign.local);
    EXPECT_EQ(foreign.verdict, Verdict::deliver);
}

}  // namespace security_test
}  // namespace sesame::engine
