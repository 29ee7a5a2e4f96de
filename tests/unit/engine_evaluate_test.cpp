// engine_evaluate_test.cpp - evaluate() applies DESIGN.md's policy semantics.
//
// Got/want tables over one Snapshot built from a RuleSet and PolicySettings,
// one row per recipient decision: non-local recipients untouched, case-
// insensitive matching, the recipient-delimiter fallback (blocks accumulate
// over the lookup path, forward and out-of-office take the most specific
// key), envelope sender vs From header, the null sender, the hop limit, the
// loop marker, forwarding (routes, modes, copies, skipped targets), and
// every out-of-office suppression condition with the reply's fields. The
// reply history is a fake: the engine only reads it through ReplyHistory.
// Trace lines a postmaster reads (`sesame policy test`, the milter log) are
// compared exactly. Failures print the whole decision, got and want.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "policy/engine/evaluate.hpp"
#include "tests/unit/engine_test_support.hpp"

namespace sesame::engine {
namespace {

using test::dump;
using test::FakeHistory;
using test::forward;
using test::render;

constexpr Time kDay = 86400;
constexpr Time kStart = 1735689600;   // 2025-01-01T00:00:00Z
constexpr Time kUntil = 1736294400;   // 2025-01-08T00:00:00Z
constexpr Time kNow = kStart + kDay;  // 2025-01-02T00:00:00Z

const std::string kSender(kReplyBlockedSender);
const std::string kFrom(kReplyBlockedFrom);
const std::string kHops(kReplyTooManyHops);

PolicySettings settings()
{
    PolicySettings s;
    s.domains = {"example.com"};
    s.recipient_delimiter = "+";
    s.max_hops = 30;
    s.marker_header = "X-Sesame-Processed";
    return s;
}

OooRule ooo(bool active, std::string subject, std::string text, std::string html, std::optional<Time> start,
            std::optional<Time> until, std::int64_t interval_days)
{
    OooRule r;
    r.active = active;
    r.subject = std::move(subject);
    r.text = std::move(text);
    r.html = std::move(html);
    r.start = start;
    r.until = until;
    r.interval_days = interval_days;
    return r;
}

RuleSet rules()
{
    RuleSet r;
    r.domains = {"Example.NET"};  // from the store; mixed case on purpose
    r.blocks = {
        {"@example.com", "*@spam.com"},
        {"user@example.com", "Friend@Evil.ORG"},  // upper case as another tool might write it
        {"user+list@example.com", "*@lists.example.org"},
        {"*", "*@global-spam.net"},
        {"nobounce@example.com", "<>"},
        {"catchall@example.com", "*"},
    };
    r.forwards["fwd@example.com"] =
        forward({"Inside@Example.com", "outside@other.org", "FWD@example.com", "already@other.org"},
                ForwardMode::redirect, true);
    r.forwards["resend@example.com"] = forward({"x@other.org", "y@example.net"}, ForwardMode::resend, false);
    r.forwards["loopy@example.com"] = forward({"Loopy@Example.com", "seen@example.net"}, ForwardMode::redirect, false);
    r.forwards["self@example.com"] = forward({"Self@Example.com", "out@other.org"}, ForwardMode::redirect, true);
    r.forwards["boss@example.net"] = forward({"assistant@example.net"}, ForwardMode::redirect, true);
    r.forwards["@example.net"] = forward({"catch@other.org"}, ForwardMode::redirect, true);
    // alias@ forwards to away@: mail to alias@ reaches away@ "forwarded from" it.
    r.forwards["alias@example.com"] = forward({"Away@Example.com"}, ForwardMode::redirect, true);
    r.ooo["away@example.com"] = ooo(true, "", "I am away", "<p>I am away</p>", kStart, kUntil, 7);
    r.ooo["inactive@example.com"] = ooo(false, "", "gone", "", std::nullopt, std::nullopt, 7);
    r.ooo["subj@example.com"] = ooo(true, "Out until Monday", "back Monday", "", std::nullopt, std::nullopt, 3);
    r.ooo["boss@example.net"] = ooo(true, "Boss is away", "boss", "", std::nullopt, std::nullopt, 7);
    r.ooo["@example.net"] = ooo(true, "Everyone is away", "all", "", std::nullopt, std::nullopt, 7);
    r.version = 42;
    return r;
}

const Snapshot& snapshot()
{
    static const auto snap = Snapshot::build(rules(), settings());
    return *snap;
}

struct Want {
    Verdict verdict = Verdict::deliver;
    std::string smtp;
    bool local = true;
    bool blocked_by_header = false;
    std::vector<std::string> forwards;
    std::optional<std::string> autoreply;
    std::vector<std::string> headers;
    std::vector<std::string> trace;  // exact lines that must appear, in this order
};

std::string dump(const Want& w)
{
    std::ostringstream os;
    os << "  " << (w.local ? "(local)" : "(not local)") << "\n  verdict " << to_string(w.verdict)
       << (w.smtp.empty() ? "" : " \"" + w.smtp + "\"") << (w.blocked_by_header ? " blocked_by_header" : "") << "\n";
    for (const auto& f : w.forwards) os << "  forward " << f << "\n";
    if (w.autoreply) os << "  autoreply " << *w.autoreply << "\n";
    for (const auto& h : w.headers) os << "  add-header " << h << "\n";
    for (const auto& t : w.trace) os << "  trace " << t << "\n";
    return os.str();
}

// One recipient of one message, and what must become of it.
struct Case {
    std::string name;
    std::string sender;
    std::string rcpt;
    MessageInfo msg;
    Time now = kNow;
    std::shared_ptr<FakeHistory> history;
    Want want;

    Case& from(std::string a)
    {
        msg.from_address = std::move(a);
        return *this;
    }
    Case& with(const std::function<void(MessageInfo&)>& f)
    {
        f(msg);
        return *this;
    }
    Case& at(Time t)
    {
        now = t;
        return *this;
    }
    Case& replied(std::string mailbox, std::string sender_, Time when)
    {
        if (!history) history = std::make_shared<FakeHistory>();
        history->replies[{std::move(mailbox), std::move(sender_)}] = when;
        return *this;
    }
    Case& history_fails(std::string what)
    {
        if (!history) history = std::make_shared<FakeHistory>();
        history->error = std::move(what);
        return *this;
    }
    Case& reject(std::string smtp)
    {
        want.verdict = Verdict::reject;
        want.smtp = std::move(smtp);
        return *this;
    }
    Case& discard()
    {
        want.verdict = Verdict::discard;
        return *this;
    }
    Case& by_header()
    {
        want.blocked_by_header = true;
        return *this;
    }
    Case& not_local()
    {
        want.local = false;
        return *this;
    }
    Case& fwd(std::string f)
    {
        want.forwards.push_back(std::move(f));
        return *this;
    }
    Case& reply(std::string r)
    {
        want.autoreply = std::move(r);
        return *this;
    }
    Case& header(std::string h)
    {
        want.headers.push_back(std::move(h));
        return *this;
    }
    Case& trace(std::string t)
    {
        want.trace.push_back(std::move(t));
        return *this;
    }
};

Case on(std::string name, std::string sender, std::string rcpt)
{
    Case c;
    c.name = std::move(name);
    c.sender = std::move(sender);
    c.rcpt = std::move(rcpt);
    return c;
}

// A message that qualifies for an out-of-office reply from RCPT.
Case ooo_case(std::string name, std::string sender, std::string rcpt)
{
    Case c = on(std::move(name), std::move(sender), rcpt);
    c.msg.from_address = c.sender.empty() || c.sender == "<>" ? std::string("someone@sender.org") : c.sender;
    c.msg.to_cc = {rcpt};
    c.msg.subject = "Hello";
    c.msg.message_id = "<m1@sender.org>";
    c.msg.references = "<r0@sender.org>";
    return c;
}

bool contains_in_order(const std::vector<std::string>& got, const std::vector<std::string>& want)
{
    std::size_t i = 0;
    for (const auto& line : got)
        if (i < want.size() && line == want[i]) ++i;
    return i == want.size();
}

void check(const Case& c, const RecipientDecision& got)
{
    std::vector<std::string> forwards;
    for (const auto& f : got.forwards) forwards.push_back(render(f));
    std::vector<std::string> headers;
    for (const auto& h : got.add_headers) headers.push_back(h.name + ": " + h.value);
    std::optional<std::string> reply;
    if (got.autoreply) reply = render(*got.autoreply);
    const bool ok = got.verdict == c.want.verdict && got.smtp == c.want.smtp && got.local == c.want.local &&
                    got.blocked_by_header == c.want.blocked_by_header && forwards == c.want.forwards &&
                    reply == c.want.autoreply && headers == c.want.headers &&
                    contains_in_order(got.trace, c.want.trace);
    EXPECT_TRUE(ok) << c.name << ": " << c.sender << " -> " << c.rcpt << "\ngot:\n"
                    << dump(got) << "want:\n"
                    << dump(c.want);
}

void run(const std::vector<Case>& cases)
{
    for (const auto& c : cases) {
        Envelope env{c.sender, {c.rcpt}};
        Decision d = evaluate(snapshot(), env, c.msg, c.now, c.history.get());
        ASSERT_EQ(d.recipients.size(), 1u) << c.name;
        check(c, d.recipients[0]);
    }
}

TEST(Evaluate, Blocklist)
{
    run({
        on("non-local recipient untouched", "bob@spam.com", "someone@elsewhere.org")
            .not_local()
            .trace("recipient domain elsewhere.org is not local: untouched"),
        on("non-local recipient untouched by the global key", "a@global-spam.net", "x@Elsewhere.ORG")
            .not_local()
            .trace("recipient domain elsewhere.org is not local: untouched"),
        on("domain key, case-insensitive", "Bob@SPAM.Com", "User@Example.COM")
            .reject(kSender)
            .trace("block *@spam.com matched envelope sender (key @example.com)"),
        on("own key, pattern stored in upper case", "friend@evil.org", "user@example.com")
            .reject(kSender)
            .trace("block friend@evil.org matched envelope sender (key user@example.com)"),
        on("delimiter fallback to the base address", "FRIEND@Evil.org", "user+shop@example.com")
            .reject(kSender)
            .trace("block friend@evil.org matched envelope sender (key user@example.com)"),
        on("the extension's own key", "x@lists.example.org", "user+list@example.com")
            .reject(kSender)
            .trace("block *@lists.example.org matched envelope sender (key user+list@example.com)"),
        on("an extension's key does not apply to the base address", "x@lists.example.org", "user@example.com")
            .trace("no block matched envelope sender (keys user@example.com, @example.com, *)"),
        on("accumulates down to the global key", "a@global-spam.net", "user+list@example.com")
            .reject(kSender)
            .trace("block *@global-spam.net matched envelope sender (key *)"),
        on("local domain from the store, any case", "a@global-spam.net", "someone@EXAMPLE.net")
            .reject(kSender)
            .trace("block *@global-spam.net matched envelope sender (key *)"),
        on("angle brackets on both sides", "<Bob@Spam.com>", "<user@example.com>")
            .reject(kSender)
            .trace("block *@spam.com matched envelope sender (key @example.com)"),
        on("not blocked", "ok@good.org", "user@example.com")
            .trace("no block matched envelope sender (keys user@example.com, @example.com, *)"),
        on("From header blocked", "ok@good.org", "user@example.com")
            .from("Bob@Spam.COM")
            .reject(kFrom)
            .by_header()
            .trace("block *@spam.com matched From header bob@spam.com (key @example.com)"),
        on("From header blocked through the delimiter fallback", "ok@good.org", "user+x@example.com")
            .from("<friend@evil.org>")
            .reject(kFrom)
            .by_header()
            .trace("block friend@evil.org matched From header friend@evil.org (key user@example.com)"),
        on("envelope sender wins over From header", "bob@spam.com", "user@example.com")
            .from("friend@evil.org")
            .reject(kSender)
            .trace("block *@spam.com matched envelope sender (key @example.com)"),
        on("neither envelope nor From blocked", "ok@good.org", "user@example.com")
            .from("ok@good.org")
            .trace("no block matched envelope sender or From header (keys user@example.com, @example.com, *)"),
        on("unparseable From header ignored", "ok@good.org", "user@example.com")
            .from("not an address")
            .trace("no block matched envelope sender (keys user@example.com, @example.com, *)"),
        on("null sender \"\" matched by <>", "", "nobounce@example.com")
            .reject(kSender)
            .trace("block <> matched envelope sender (key nobounce@example.com)"),
        on("null sender <> matched by <>", "<>", "NoBounce@Example.com")
            .reject(kSender)
            .trace("block <> matched envelope sender (key nobounce@example.com)"),
        on("null sender with a From header still matched as the envelope", "<>", "nobounce@example.com")
            .from("mailer-daemon@other.org")
            .reject(kSender)
            .trace("block <> matched envelope sender (key nobounce@example.com)"),
        on("<> does not match a real sender", "someone@other.org", "nobounce@example.com")
            .trace("no block matched envelope sender (keys nobounce@example.com, @example.com, *)"),
        on("null sender not matched by *", "", "catchall@example.com")
            .trace("no block matched envelope sender (keys catchall@example.com, @example.com, *)"),
        on("* matches any real sender", "someone@other.org", "catchall@example.com")
            .reject(kSender)
            .trace("block * matched envelope sender (key catchall@example.com)"),
        on("null sender, From header blocked", "", "user@example.com")
            .from("bob@spam.com")
            .reject(kFrom)
            .by_header()
            .trace("block *@spam.com matched From header bob@spam.com (key @example.com)"),
        on("a blocked recipient gets no forward", "bob@spam.com", "fwd@example.com")
            .reject(kSender)
            .trace("block *@spam.com matched envelope sender (key @example.com)"),
        on("a blocked recipient gets no autoreply", "bob@spam.com", "away@example.com")
            .with([](MessageInfo& m) { m.to_cc = {"away@example.com"}; })
            .reject(kSender),
        on("the loop marker does not lift a block", "bob@spam.com", "user@example.com")
            .with([](MessageInfo& m) {
                m.has_marker = true;
                m.marker_name = "X-Sesame-Processed";
            })
            .reject(kSender),
    });
}

TEST(Evaluate, Forwarding)
{
    run({
        on("internal and external targets, self and Delivered-To skipped", "ok@good.org", "fwd@example.com")
            .with([](MessageInfo& m) { m.delivered_to = {"Already@Other.org"}; })
            .fwd("internal redirect: inside@example.com")
            .fwd("external redirect: outside@other.org")
            .header("X-Sesame-Processed: forwarded")
            .trace("forward target fwd@example.com skipped: it is the original recipient")
            .trace("forward target already@other.org skipped: already in Delivered-To/X-Original-To")
            .trace("forward (key fwd@example.com, redirect, keep copy): inside@example.com internal "
                   "outside@other.org external"),
        on("resend without a copy: discarded", "ok@good.org", "resend@example.com")
            .discard()
            .fwd("internal resend: y@example.net")
            .fwd("external resend: x@other.org")
            .header("X-Sesame-Processed: forwarded")
            .trace("forward (key resend@example.com, resend, no copy): y@example.net internal x@other.org external")
            .trace("not kept in the mailbox (forward without copy)"),
        on("every target skipped: delivered, not discarded, no marker", "ok@good.org", "loopy@example.com")
            .with([](MessageInfo& m) {
                m.delivered_to = {"x@example.com", "SEEN@example.net"};
            })
            .trace("forward target loopy@example.com skipped: it is the original recipient")
            .trace("forward target seen@example.net skipped: already in Delivered-To/X-Original-To")
            .trace("forward (key loopy@example.com): no target left, delivered to the mailbox"),
        on("most specific key wins: base address over @domain", "ok@good.org", "boss+x@example.net")
            .fwd("internal redirect: assistant@example.net")
            .header("X-Sesame-Processed: forwarded")
            .trace("forward (key boss@example.net, redirect, keep copy): assistant@example.net internal"),
        on("@domain forward for anyone else", "ok@good.org", "clerk@example.net")
            .fwd("external redirect: catch@other.org")
            .header("X-Sesame-Processed: forwarded")
            .trace("forward (key @example.net, redirect, keep copy): catch@other.org external"),
        on("a target equal to the base address is the original recipient", "ok@good.org", "self+tag@example.com")
            .fwd("external redirect: out@other.org")
            .header("X-Sesame-Processed: forwarded")
            .trace("forward target self@example.com skipped: it is the original recipient")
            .trace("forward (key self@example.com, redirect, keep copy): out@other.org external"),
        on("our marker: delivered, no forward", "ok@good.org", "fwd@example.com")
            .with([](MessageInfo& m) {
                m.has_marker = true;
                m.marker_name = "X-Sesame-Processed";
            })
            .trace("message carries loop marker X-Sesame-Processed")
            .trace("forward (key fwd@example.com) skipped: message carries a loop marker"),
        on("the older workers' marker: delivered, no forward", "ok@good.org", "resend@example.com")
            .with([](MessageInfo& m) {
                m.has_marker = true;
                m.marker_name = "X-SES-Worker-Processed";
            })
            .trace("message carries loop marker X-SES-Worker-Processed")
            .trace("forward (key resend@example.com) skipped: message carries a loop marker"),
    });
}

TEST(Evaluate, ForwardingIsCaseInsensitive)
{
    Envelope env{"OK@Good.org", {"FWD@Example.COM"}};
    MessageInfo msg;
    msg.delivered_to = {"<ALREADY@other.ORG>"};
    Decision d = evaluate(snapshot(), env, msg, kNow, nullptr);
    ASSERT_EQ(d.recipients.size(), 1u);
    Case c = on("case-insensitive recipient and targets", env.sender, env.recipients[0])
                 .fwd("internal redirect: inside@example.com")
                 .fwd("external redirect: outside@other.org")
                 .header("X-Sesame-Processed: forwarded")
                 .trace("forward target fwd@example.com skipped: it is the original recipient")
                 .trace("forward target already@other.org skipped: already in Delivered-To/X-Original-To");
    check(c, d.recipients[0]);
    EXPECT_EQ(d.recipients[0].address, "fwd@example.com");
    EXPECT_EQ(d.sender, "ok@good.org");
}

TEST(Evaluate, ForwardUsesTheConfiguredMarkerName)
{
    PolicySettings s = settings();
    s.marker_header = "X-Our-Loop";
    auto snap = Snapshot::build(rules(), s);
    Decision d = evaluate(*snap, Envelope{"ok@good.org", {"boss@example.net"}}, MessageInfo{}, kNow, nullptr);
    ASSERT_EQ(d.recipients.size(), 1u);
    ASSERT_EQ(d.recipients[0].add_headers.size(), 1u) << dump(d.recipients[0]);
    EXPECT_EQ(d.recipients[0].add_headers[0].name, "X-Our-Loop");
    EXPECT_EQ(d.recipients[0].add_headers[0].value, "forwarded");
    EXPECT_EQ(d.recipients[0].forwards.size(), 1u);
}

TEST(Evaluate, OutOfOffice)
{
    const std::string reply = "from away@example.com to bob@sender.org subject \"Auto: Hello\" key away@example.com";
    const std::string suppressed = "autoreply (key away@example.com) suppressed: ";
    auto marker = [](const char* name) {
        return [name](MessageInfo& m) {
            m.has_marker = true;
            m.marker_name = name;
        };
    };
    run({
        ooo_case("replies", "Bob@Sender.org", "away@example.com")
            .reply(reply)
            .trace("autoreply (key away@example.com): reply from away@example.com to bob@sender.org, interval 7 days"),
        ooo_case("inactive rule", "bob@sender.org", "inactive@example.com")
            .trace("autoreply (key inactive@example.com) suppressed: rule is not active"),
        ooo_case("before start", "bob@sender.org", "away@example.com")
            .at(kStart - 1)
            .trace(suppressed + "not started (starts 2025-01-01T00:00:00Z)"),
        ooo_case("at start", "bob@sender.org", "away@example.com").at(kStart).reply(reply),
        ooo_case("just before until", "bob@sender.org", "away@example.com").at(kUntil - 1).reply(reply),
        ooo_case("at until", "bob@sender.org", "away@example.com")
            .at(kUntil)
            .trace(suppressed + "ended (2025-01-08T00:00:00Z)"),
        ooo_case("after until", "bob@sender.org", "away@example.com")
            .at(kUntil + 30 * kDay)
            .trace(suppressed + "ended (2025-01-08T00:00:00Z)"),
        ooo_case("null sender \"\"", "", "away@example.com").trace(suppressed + "null envelope sender"),
        ooo_case("null sender <>", "<>", "away@example.com").trace(suppressed + "null envelope sender"),
        ooo_case("MAILER-DAEMON", "MAILER-DAEMON@sender.org", "away@example.com")
            .trace(suppressed + "sender mailer-daemon@sender.org is a mailer-daemon address"),
        ooo_case("postmaster", "Postmaster@sender.org", "away@example.com")
            .trace(suppressed + "sender postmaster@sender.org is a postmaster address"),
        ooo_case("owner-*", "owner-list@lists.org", "away@example.com")
            .trace(suppressed + "sender owner-list@lists.org is an owner- address"),
        ooo_case("*-request", "list-request@lists.org", "away@example.com")
            .trace(suppressed + "sender list-request@lists.org is a -request address"),
        ooo_case("noreply", "NoReply@shop.com", "away@example.com")
            .trace(suppressed + "sender noreply@shop.com is a noreply address"),
        ooo_case("no-reply", "no-reply@shop.com", "away@example.com")
            .trace(suppressed + "sender no-reply@shop.com is a no-reply address"),
        ooo_case("a name merely containing noreply is a person", "noreplyjoe@shop.com", "away@example.com")
            .reply("from away@example.com to noreplyjoe@shop.com subject \"Auto: Hello\" key away@example.com"),
        ooo_case("Auto-Submitted: auto-generated", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.auto_submitted = "auto-generated"; })
            .trace(suppressed + "Auto-Submitted: auto-generated"),
        ooo_case("Auto-Submitted: auto-replied", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.auto_submitted = "auto-replied"; })
            .trace(suppressed + "Auto-Submitted: auto-replied"),
        ooo_case("Auto-Submitted: no is allowed", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.auto_submitted = "no"; })
            .reply(reply),
        ooo_case("Precedence: bulk", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.precedence = "bulk"; })
            .trace(suppressed + "Precedence: bulk"),
        ooo_case("Precedence: list", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.precedence = "list"; })
            .trace(suppressed + "Precedence: list"),
        ooo_case("Precedence: junk", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.precedence = "junk"; })
            .trace(suppressed + "Precedence: junk"),
        ooo_case("Precedence: first-class is allowed", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.precedence = "first-class"; })
            .reply(reply),
        ooo_case("List-Id", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.has_list_id = true; })
            .trace(suppressed + "message has a List-Id header"),
        ooo_case("our marker", "bob@sender.org", "away@example.com")
            .with(marker("X-Sesame-Processed"))
            .trace("message carries loop marker X-Sesame-Processed")
            .trace(suppressed + "message carries a loop marker"),
        ooo_case("the older workers' marker", "bob@sender.org", "away@example.com")
            .with(marker("X-SES-Worker-Processed"))
            .trace("message carries loop marker X-SES-Worker-Processed")
            .trace(suppressed + "message carries a loop marker"),
        ooo_case("recipient not in To or Cc (Bcc)", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.to_cc = {"someone@else.org"}; })
            .trace(suppressed + "recipient is not in To or Cc"),
        ooo_case("no To or Cc at all", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) { m.to_cc.clear(); })
            .trace(suppressed + "recipient is not in To or Cc"),
        ooo_case("recipient in To, any case, with brackets", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) {
                m.to_cc = {"someone@else.org", "<AWAY@EXAMPLE.COM>"};
            })
            .reply(reply),
        ooo_case("forwarded-from address in To (a forward rule targets the recipient)", "bob@sender.org",
                 "away@example.com")
            .with([](MessageInfo& m) { m.to_cc = {"Alias@Example.com"}; })
            .reply(reply),
        ooo_case("forwarded-from address of the base address in Cc", "bob@sender.org", "away+x@example.com")
            .with([](MessageInfo& m) {
                m.to_cc = {"someone@else.org", "alias@example.com"};
            })
            .reply("from away+x@example.com to bob@sender.org subject \"Auto: Hello\" key away@example.com"),
        ooo_case("an address that forwards elsewhere is not a forwarded-from address", "bob@sender.org",
                 "away@example.com")
            .with([](MessageInfo& m) {
                m.to_cc = {"fwd@example.com", "boss@example.net"};
            })
            .trace(suppressed + "recipient is not in To or Cc"),
        ooo_case("X-Original-To not in To either", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) {
                m.to_cc = {"other@example.com"};
                m.original_to = {"team@example.com"};
            })
            .trace(suppressed + "recipient is not in To or Cc"),
        ooo_case("base address in To, extension as recipient", "bob@sender.org", "away+work@example.com")
            .with([](MessageInfo& m) { m.to_cc = {"away@example.com"}; })
            .reply("from away+work@example.com to bob@sender.org subject \"Auto: Hello\" key away@example.com")
            .trace("autoreply (key away@example.com): reply from away+work@example.com to bob@sender.org, "
                   "interval 7 days"),
        ooo_case("replied within the interval", "bob@sender.org", "away@example.com")
            .replied("away@example.com", "bob@sender.org", kNow - 6 * kDay)
            .trace(suppressed + "already replied to bob@sender.org at 2024-12-27T00:00:00Z (interval 7 days)"),
        ooo_case("replied one second inside the interval", "bob@sender.org", "away@example.com")
            .replied("away@example.com", "bob@sender.org", kNow - 7 * kDay + 1)
            .trace(suppressed + "already replied to bob@sender.org at 2024-12-26T00:00:01Z (interval 7 days)"),
        ooo_case("replied exactly one interval ago", "bob@sender.org", "away@example.com")
            .replied("away@example.com", "bob@sender.org", kNow - 7 * kDay)
            .reply(reply),
        ooo_case("replied long ago", "bob@sender.org", "away@example.com")
            .replied("away@example.com", "bob@sender.org", kNow - 30 * kDay)
            .reply(reply),
        ooo_case("replied recently, but to someone else", "bob@sender.org", "away@example.com")
            .replied("away@example.com", "carol@sender.org", kNow - kDay)
            .replied("other@example.com", "bob@sender.org", kNow - kDay)
            .reply(reply),
        ooo_case("the interval is per base mailbox", "bob@sender.org", "away+x@example.com")
            .replied("away@example.com", "bob@sender.org", kNow - kDay)
            .trace(suppressed + "already replied to bob@sender.org at 2025-01-01T00:00:00Z (interval 7 days)"),
        ooo_case("reply state unavailable: no reply, still delivered", "bob@sender.org", "away@example.com")
            .history_fails("database is locked")
            .trace(suppressed + "reply state unavailable: database is locked"),
        ooo_case("subject from the rule", "bob@sender.org", "subj@example.com")
            .reply("from subj@example.com to bob@sender.org subject \"Out until Monday\" key subj@example.com")
            .trace("autoreply (key subj@example.com): reply from subj@example.com to bob@sender.org, interval 3 days"),
        ooo_case("most specific key wins: base address over @domain", "bob@sender.org", "boss+x@example.net")
            .fwd("internal redirect: assistant@example.net")
            .header("X-Sesame-Processed: forwarded")
            .reply("from boss+x@example.net to bob@sender.org subject \"Boss is away\" key boss@example.net"),
        ooo_case("@domain rule for anyone else", "bob@sender.org", "clerk@example.net")
            .fwd("external redirect: catch@other.org")
            .header("X-Sesame-Processed: forwarded")
            .reply("from clerk@example.net to bob@sender.org subject \"Everyone is away\" key clerk@example.net"),
    });
}

// DESIGN.md: "the recipient (or its forwarded-from address) appears in To
// or Cc". A recipient reached through an alias outside Sesame (Postfix
// virtual(5), a mailing alias) shows that address in X-Original-To, which
// policy/mime hands over as MessageInfo::original_to.
// X-Original-To is written by whichever system delivered the message last
// (at SMTP time: an upstream one), so it does not make a recipient
// "addressed"; only its own addresses and Sesame's forward rules do.
TEST(Evaluate, OutOfOfficeIgnoresXOriginalTo)
{
    run({
        ooo_case("X-Original-To names an alias that is in To", "bob@sender.org", "away@example.com")
            .with([](MessageInfo& m) {
                m.to_cc = {"team@example.com"};
                m.original_to = {"Team@Example.com"};
                m.delivered_to = {"team@example.com"};
            })
            .trace("autoreply (key away@example.com) suppressed: recipient is not in To or Cc"),
    });
}

TEST(Evaluate, AutoReplyFields)
{
    FakeHistory history;
    MessageInfo msg;
    msg.from_address = "bob@sender.org";
    msg.to_cc = {"Away@Example.com"};
    msg.subject = "Quarterly report";
    msg.message_id = "<m1@sender.org>";
    msg.references = "<r0@sender.org> <r1@sender.org>";
    msg.in_reply_to = "<r1@sender.org>";
    Decision d = evaluate(snapshot(), Envelope{"<Bob@Sender.ORG>", {"Away@Example.com"}}, msg, kNow, &history);
    ASSERT_EQ(d.recipients.size(), 1u);
    const auto& r = d.recipients[0];
    ASSERT_TRUE(r.autoreply) << dump(r);
    const AutoReplyAction& a = *r.autoreply;
    struct Field {
        const char* name;
        std::string got, want;
    };
    const Field fields[] = {
        {"from", a.from, "away@example.com"},
        {"to", a.to, "bob@sender.org"},
        {"subject", a.subject, "Auto: Quarterly report"},
        {"text", a.text, "I am away"},
        {"html", a.html, "<p>I am away</p>"},
        {"in_reply_to", a.in_reply_to, "<m1@sender.org>"},
        {"references", a.references, "<r0@sender.org> <r1@sender.org> <m1@sender.org>"},
        {"rule_key", a.rule_key, "away@example.com"},
        {"interval_seconds", std::to_string(a.interval_seconds), std::to_string(7 * kDay)},
    };
    for (const auto& f : fields)
        EXPECT_EQ(f.got, f.want) << f.name << ": got \"" << f.got << "\" want \"" << f.want << "\"";
    EXPECT_EQ(r.verdict, Verdict::deliver);
    // The history was asked about the base mailbox and the normalised sender.
    ASSERT_EQ(history.asked.size(), 1u);
    EXPECT_EQ(history.asked[0].first, "away@example.com");
    EXPECT_EQ(history.asked[0].second, "bob@sender.org");

    // Without References, the reply references the message itself.
    msg.references.clear();
    d = evaluate(snapshot(), Envelope{"bob@sender.org", {"away@example.com"}}, msg, kNow, nullptr);
    ASSERT_TRUE(d.recipients[0].autoreply) << dump(d.recipients[0]);
    EXPECT_EQ(d.recipients[0].autoreply->references, "<m1@sender.org>");
    EXPECT_EQ(d.recipients[0].autoreply->in_reply_to, "<m1@sender.org>");
}

TEST(Evaluate, AutoReplyIsNotAttemptedWithoutARule)
{
    FakeHistory history;
    MessageInfo msg;
    msg.to_cc = {"user@example.com"};
    Decision d = evaluate(snapshot(), Envelope{"bob@sender.org", {"user@example.com"}}, msg, kNow, &history);
    EXPECT_FALSE(d.recipients[0].autoreply) << dump(d.recipients[0]);
    EXPECT_TRUE(history.asked.empty()) << "history consulted for a recipient without a rule";
}

// A history that throws is reported, the reply skipped, and the message
// delivered: the same for every recipient with a rule.
TEST(Evaluate, BrokenReplyStateNeverFailsTheMessage)
{
    FakeHistory history;
    history.error = "disk I/O error";
    MessageInfo msg;
    msg.to_cc = {"away@example.com", "subj@example.com"};
    Decision d =
        evaluate(snapshot(), Envelope{"bob@sender.org", {"away@example.com", "subj@example.com"}}, msg, kNow, &history);
    ASSERT_EQ(d.recipients.size(), 2u);
    for (const auto& r : d.recipients) {
        EXPECT_EQ(r.verdict, Verdict::deliver) << dump(r);
        EXPECT_EQ(r.smtp, "") << dump(r);
        EXPECT_FALSE(r.autoreply) << dump(r);
        const std::string key = r.address;
        EXPECT_TRUE(contains_in_order(r.trace, {"autoreply (key " + key +
                                                ") suppressed: reply state unavailable: "
                                                "disk I/O error"}))
            << dump(r);
    }
}

// Mail from SASL-authenticated clients is our own users sending: the inbound
// blocklist does not apply, the rest of the policy does.
TEST(Evaluate, AuthenticatedSendersSkipTheBlocklist)
{
    MessageInfo msg;
    msg.from_address = "x@spam.com";
    Envelope env{"x@spam.com", {"bob@example.com"}};
    Decision plain = evaluate(snapshot(), env, msg, kNow, nullptr);
    ASSERT_EQ(plain.recipients[0].verdict, Verdict::reject) << "the fixture must block x@spam.com for bob";
    env.authenticated = true;
    Decision d = evaluate(snapshot(), env, msg, kNow, nullptr);
    EXPECT_EQ(d.recipients[0].verdict, Verdict::deliver) << dump(d.recipients[0]);
    EXPECT_TRUE(contains_in_order(d.recipients[0].trace, {"sender authenticated (SASL): blocklist not applied"}))
        << dump(d.recipients[0]);
}

TEST(Evaluate, HopLimit)
{
    struct Case {
        std::int64_t max_hops;
        int received;
        bool too_many;
    };
    const Case cases[] = {
        {30, 0, false}, {30, 30, false}, {30, 31, true}, {30, 100, true}, {2, 2, false}, {2, 3, true}, {0, 1, true},
    };
    for (const auto& c : cases) {
        PolicySettings s = settings();
        s.max_hops = c.max_hops;
        auto snap = Snapshot::build(rules(), s);
        MessageInfo msg;
        msg.received_count = c.received;
        msg.to_cc = {"away@example.com"};
        Envelope env{"ok@good.org", {"user@example.com", "fwd@example.com", "away@example.com", "x@elsewhere.org"}};
        Decision d = evaluate(*snap, env, msg, kNow, nullptr);
        const std::string what =
            "max_hops " + std::to_string(c.max_hops) + ", " + std::to_string(c.received) + " Received headers";
        EXPECT_EQ(d.loop, c.too_many) << what << ": loop got " << d.loop << " want " << c.too_many;
        ASSERT_EQ(d.recipients.size(), 4u);
        for (const auto& r : d.recipients) {
            if (c.too_many) {
                EXPECT_EQ(r.verdict, Verdict::reject) << what << "\n" << dump(r);
                EXPECT_EQ(r.smtp, kHops) << what << "\n" << dump(r);
                EXPECT_TRUE(r.forwards.empty()) << what << "\n" << dump(r);
                EXPECT_FALSE(r.autoreply) << what << "\n" << dump(r);
                EXPECT_TRUE(contains_in_order(r.trace, {"too many hops: " + std::to_string(c.received) +
                                                        " Received headers, max_hops " + std::to_string(c.max_hops)}))
                    << what << "\n"
                    << dump(r);
            } else {
                EXPECT_EQ(r.verdict, Verdict::deliver) << what << "\n" << dump(r);
                EXPECT_EQ(r.smtp, "") << what << "\n" << dump(r);
            }
        }
        EXPECT_FALSE(d.recipients[3].local);
        EXPECT_TRUE(d.recipients[0].local);
    }
}

TEST(Evaluate, MarkerSetsLoopAndStopsForwardAndReply)
{
    for (const char* name : {"X-Sesame-Processed", "X-SES-Worker-Processed"}) {
        MessageInfo msg;
        msg.has_marker = true;
        msg.marker_name = name;
        msg.to_cc = {"away@example.com"};
        Decision d =
            evaluate(snapshot(), Envelope{"ok@good.org", {"fwd@example.com", "away@example.com"}}, msg, kNow, nullptr);
        EXPECT_TRUE(d.loop) << name;
        for (const auto& r : d.recipients) {
            EXPECT_EQ(r.verdict, Verdict::deliver) << name << "\n" << dump(r);
            EXPECT_TRUE(r.forwards.empty()) << name << "\n" << dump(r);
            EXPECT_TRUE(r.add_headers.empty()) << name << "\n" << dump(r);
            EXPECT_FALSE(r.autoreply) << name << "\n" << dump(r);
        }
    }
}

// One message, several recipients: each gets its own verdict.
TEST(Evaluate, RecipientsAreIndependent)
{
    MessageInfo msg;
    msg.to_cc = {"away@example.com", "user@example.com"};
    msg.subject = "Hi";
    msg.message_id = "<m@evil.org>";
    Envelope env{"Friend@Evil.org",
                 {"user@example.com", "fwd@example.com", "away@example.com", "x@elsewhere.org", "not an address",
                  "resend@example.com"}};
    Decision d = evaluate(snapshot(), env, msg, kNow, nullptr);
    EXPECT_EQ(d.sender, "friend@evil.org");
    EXPECT_FALSE(d.loop);
    ASSERT_EQ(d.recipients.size(), 6u);
    std::vector<Case> want = {
        on("blocked by its own key", env.sender, env.recipients[0])
            .reject(kSender)
            .trace("block friend@evil.org matched envelope sender (key user@example.com)"),
        on("forwarded (no Delivered-To here, so already@ is not skipped)", env.sender, env.recipients[1])
            .fwd("internal redirect: inside@example.com")
            .fwd("external redirect: outside@other.org already@other.org")
            .header("X-Sesame-Processed: forwarded"),
        on("autoreply", env.sender, env.recipients[2])
            .reply("from away@example.com to friend@evil.org subject \"Auto: Hi\" key away@example.com"),
        on("not local", env.sender, env.recipients[3]).not_local(),
        on("unparseable recipient", env.sender, env.recipients[4])
            .not_local()
            .trace("recipient is not a parseable address: untouched"),
        on("forwarded without copy", env.sender, env.recipients[5])
            .discard()
            .fwd("internal resend: y@example.net")
            .fwd("external resend: x@other.org")
            .header("X-Sesame-Processed: forwarded"),
    };
    for (std::size_t i = 0; i < want.size(); ++i) check(want[i], d.recipients[i]);
    EXPECT_EQ(d.recipients[0].address, "user@example.com");
    EXPECT_EQ(d.recipients[4].address, "not an address");
}

// The RCPT-time check gives the verdict, reply and trace evaluate() gives
// the same recipient from the envelope alone.
TEST(Evaluate, EnvelopeCheckAgreesWithEvaluate)
{
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"Bob@Spam.com", "user@example.com"},
        {"friend@evil.org", "user+x@example.com"},
        {"friend@evil.org", "User@Example.com"},
        {"x@lists.example.org", "user+list@example.com"},
        {"x@lists.example.org", "user@example.com"},
        {"a@global-spam.net", "anyone@example.net"},
        {"", "nobounce@example.com"},
        {"<>", "nobounce@example.com"},
        {"", "catchall@example.com"},
        {"a@b.org", "catchall@example.com"},
        {"ok@good.org", "user@example.com"},
        {"bob@spam.com", "x@elsewhere.org"},
        {"bob@spam.com", "not an address"},
        {"bob@spam.com", "fwd@example.com"},
    };
    int blocked = 0;
    for (const auto& [sender, rcpt] : pairs) {
        RecipientDecision env_only = evaluate_envelope(snapshot(), sender, rcpt);
        Decision full = evaluate(snapshot(), Envelope{sender, {rcpt}}, MessageInfo{}, kNow, nullptr);
        ASSERT_EQ(full.recipients.size(), 1u);
        const RecipientDecision& r = full.recipients[0];
        const std::string what = sender + " -> " + rcpt;
        EXPECT_EQ(env_only.address, r.address) << what;
        EXPECT_EQ(env_only.local, r.local) << what;
        EXPECT_EQ(env_only.verdict, r.verdict) << what << "\ngot:\n" << dump(env_only) << "evaluate:\n" << dump(r);
        EXPECT_EQ(env_only.smtp, r.smtp) << what << "\ngot:\n" << dump(env_only) << "evaluate:\n" << dump(r);
        EXPECT_FALSE(env_only.blocked_by_header) << what;
        if (r.verdict == Verdict::reject) {
            ++blocked;
            EXPECT_EQ(env_only.trace, r.trace) << what << "\ngot:\n" << dump(env_only) << "evaluate:\n" << dump(r);
        }
    }
    EXPECT_EQ(blocked, 9);
}

TEST(Evaluate, SnapshotCountsAndVersion)
{
    auto c = snapshot().counts();
    EXPECT_EQ(c.domains, 2u);
    EXPECT_EQ(c.blocks, 6u);
    EXPECT_EQ(c.forwards, 7u);
    EXPECT_EQ(c.ooo, 5u);
    EXPECT_EQ(snapshot().version(), 42u);
    EXPECT_TRUE(snapshot().is_local_domain("example.net"));
    EXPECT_FALSE(snapshot().is_local_domain("elsewhere.org"));
}

}  // namespace
}  // namespace sesame::engine
