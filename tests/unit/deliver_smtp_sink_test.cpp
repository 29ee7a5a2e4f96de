// deliver_smtp_sink_test.cpp - SmtpPool against Postfix's real smtp-sink.
//
// Each test starts its own smtp-sink (tests/integration/smtp_sink.hpp) on
// 127.0.0.1 and a port picked at run time, with the options that make it
// misbehave the way the test needs (-f/-r reject commands with 5xx/4xx, -L
// speaks LMTP, -p hides PIPELINING, -P hides ESMTP, -8 hides 8BITMIME, -Q
// answers 421 and hangs up, -q hangs up silently), and stops it by PID.
// What arrived is read back from smtp-sink's dump files (-d: envelope and
// content, CR removed by smtp-sink, dot-stuffing undone) and its counters
// (-c: sessions, QUITs, messages). Only loopback is used, so these run with
// the unit tests; suite name SmtpSink to filter them. Waits are bounded
// polls on an observable condition, never sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "policy/deliver/smtp_client.hpp"
#include "tests/integration/smtp_sink.hpp"
#include "tests/unit/smtp_options.hpp"

namespace sesame::deliver {
namespace {

using namespace std::chrono_literals;
using testenv::SmtpSink;
using testenv::wait_until;

// Lines starting with '.', a lone '.', a dot inside, 8-bit text, CRLF ends.
const std::string kMessage =
    "From: sender@example.com\r\n"
    "To: rcpt@example.net\r\n"
    "Subject: dots and bytes\r\n"
    "\r\n"
    ".leading dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "a . in the middle\r\n"
    "caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65\r\n"
    "last line\r\n";

using testenv::fast_options;

// The content as smtp-sink dumps it: LF line ends.
std::string lf(std::string s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
        out += s[i];
    }
    return out;
}

std::string describe(const SendResult& r)
{
    std::string out = std::string(to_string(r.outcome)) + " \"" + r.reply + "\"";
    for (const auto& rr : r.recipients) out += "\n  " + rr.address + ": " + to_string(rr.outcome) + " " + rr.reply;
    return out;
}

SmtpSink::Options sink_args(std::vector<std::string> args)
{
    return {std::move(args), false};
}

// Waits (bounded) until smtp-sink's counters show SESSIONS ended sessions.
SmtpSink::Counters counters_after(const SmtpSink& sink, long sessions)
{
    wait_until([&] { return sink.counters().sess >= sessions; });
    return sink.counters();
}

TEST(SmtpSink, OneRecipientArrivesByteForByte)
{
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    SendResult r = pool.send("sender@example.com", {"rcpt@example.net"}, kMessage);
    ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);
    EXPECT_EQ(r.reply, "250 2.0.0 Ok");
    ASSERT_EQ(r.recipients.size(), 1u);
    EXPECT_EQ(r.recipients[0].address, "rcpt@example.net");
    EXPECT_EQ(r.recipients[0].outcome, Outcome::ok);
    EXPECT_EQ(r.recipients[0].reply, "250 2.0.0 Ok");

    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].content, lf(kMessage));
    EXPECT_EQ(messages[0].proto, "ESMTP");
    EXPECT_EQ(messages[0].helo, "localhost");
    EXPECT_EQ(messages[0].mail_args, "<sender@example.com> BODY=8BITMIME");
    EXPECT_EQ(messages[0].rcpt_args, std::vector<std::string>{"<rcpt@example.net>"});
}

TEST(SmtpSink, ThreeRecipientsOneCopy)
{
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    std::vector<std::string> rcpts = {"a@example.net", "<b@example.net>", "c@example.org"};
    SendResult r = pool.send("sender@example.com", rcpts, kMessage);
    ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);
    ASSERT_EQ(r.recipients.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(r.recipients[i].address, rcpts[i]);
        EXPECT_EQ(r.recipients[i].outcome, Outcome::ok) << rcpts[i];
    }
    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].content, lf(kMessage));
    EXPECT_EQ(messages[0].rcpt_args,
              (std::vector<std::string>{"<a@example.net>", "<b@example.net>", "<c@example.org>"}));
}

TEST(SmtpSink, BareLfAndUnterminatedMessages)
{
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    const std::string bare_lf = "Subject: bare LF\n\n.dot\n.\nend\n";
    const std::string unterminated = "Subject: no final newline\r\n\r\nbody";
    ASSERT_EQ(pool.send("", {"a@example.net"}, bare_lf).outcome, Outcome::ok);
    ASSERT_EQ(pool.send("", {"b@example.net"}, unterminated).outcome, Outcome::ok);

    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 2u);
    std::set<std::string> got;
    for (const auto& m : messages) {
        got.insert(m.content);
        EXPECT_EQ(m.mail_args, "<>") << "null sender, 7-bit: no BODY=";
    }
    EXPECT_EQ(got, (std::set<std::string>{bare_lf, lf(unterminated) + "\n"}));
}

TEST(SmtpSink, EightBitSentAsIsWithout8BitMime)
{
    SmtpSink sink(sink_args({"-8"}));
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    SendResult r = pool.send("sender@example.com", {"rcpt@example.net"}, kMessage);
    ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);
    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].mail_args, "<sender@example.com>");
    EXPECT_EQ(messages[0].content, lf(kMessage));
}

TEST(SmtpSink, ManyRecipientsPipelinedInWindows)
{
    // More recipients than one pipelined write carries (100 commands).
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    std::vector<std::string> rcpts;
    for (int i = 0; i < 250; ++i) rcpts.push_back("user" + std::to_string(i) + "@example.net");
    SendResult r = pool.send("sender@example.com", rcpts, kMessage);
    ASSERT_EQ(r.outcome, Outcome::ok) << r.reply;
    for (const auto& rr : r.recipients) EXPECT_EQ(rr.outcome, Outcome::ok) << rr.address;
    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 1u);
    ASSERT_EQ(messages[0].rcpt_args.size(), 250u);
    EXPECT_EQ(messages[0].rcpt_args[249], "<user249@example.net>");
    EXPECT_EQ(messages[0].content, lf(kMessage));
}

TEST(SmtpSink, HardRejectedRecipientsArePermfailAndNoDataIsSent)
{
    SmtpSink sink(sink_args({"-f", "RCPT"}));
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    SendResult r = pool.send("sender@example.com", {"a@example.net", "b@example.net"}, kMessage);
    EXPECT_EQ(r.outcome, Outcome::permfail) << describe(r);
    EXPECT_EQ(r.reply, "500 5.3.0 Error: command failed");
    ASSERT_EQ(r.recipients.size(), 2u);
    for (const auto& rr : r.recipients) {
        EXPECT_EQ(rr.outcome, Outcome::permfail);
        EXPECT_EQ(rr.reply, "500 5.3.0 Error: command failed");
    }
    EXPECT_TRUE(sink.messages().empty());
    EXPECT_EQ(pool.idle_connections(), 1u) << "a refusal does not cost the connection";
}

TEST(SmtpSink, SoftRejectedRecipientsAreTempfail)
{
    SmtpSink sink(sink_args({"-r", "RCPT"}));
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    SendResult r = pool.send("sender@example.com", {"a@example.net", "b@example.net"}, kMessage);
    EXPECT_EQ(r.outcome, Outcome::tempfail) << describe(r);
    EXPECT_EQ(r.reply, "450 4.3.0 Error: command failed");
    for (const auto& rr : r.recipients) EXPECT_EQ(rr.outcome, Outcome::tempfail) << rr.address;
    EXPECT_TRUE(sink.messages().empty());
}

TEST(SmtpSink, RefusalAtEachStage)
{
    struct Case {
        std::string option, command;
        Outcome want;
        std::string reply;
    };
    const std::vector<Case> cases = {
        {"-f", "MAIL", Outcome::permfail, "500 5.3.0 Error: command failed"},
        {"-r", "MAIL", Outcome::tempfail, "450 4.3.0 Error: command failed"},
        {"-f", "DATA", Outcome::permfail, "500 5.3.0 Error: command failed"},
        {"-r", "DATA", Outcome::tempfail, "450 4.3.0 Error: command failed"},
        {"-f", ".", Outcome::permfail, "500 5.3.0 Error: command failed"},
        {"-r", ".", Outcome::tempfail, "450 4.3.0 Error: command failed"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.option + " " + c.command);
        SmtpSink sink(sink_args({c.option, c.command}));
        SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
        SendResult r = pool.send("sender@example.com", {"a@example.net", "b@example.net"}, kMessage);
        EXPECT_EQ(r.outcome, c.want) << describe(r);
        EXPECT_EQ(r.reply, c.reply);
        for (const auto& rr : r.recipients) {
            EXPECT_EQ(rr.outcome, c.want) << rr.address;
            EXPECT_EQ(rr.reply, c.reply) << rr.address;
        }
        // The session survives a refusal: the next message goes on it.
        EXPECT_EQ(pool.idle_connections(), 1u);
    }
}

TEST(SmtpSink, ConnectionRefusedIsTempfail)
{
    // A port nobody listens on (picked free, then closed).
    int port = testenv::pick_free_port();
    SmtpPool pool(Endpoint::parse("smtp:127.0.0.1:" + std::to_string(port)), fast_options());
    SendResult r = pool.send("sender@example.com", {"a@example.net"}, kMessage);
    EXPECT_EQ(r.outcome, Outcome::tempfail);
    EXPECT_EQ(r.reply, "connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
    ASSERT_EQ(r.recipients.size(), 1u);
    EXPECT_EQ(r.recipients[0].outcome, Outcome::tempfail);
    EXPECT_EQ(r.recipients[0].reply, r.reply);
    EXPECT_EQ(pool.idle_connections(), 0u);
}

TEST(SmtpSink, FiveMessagesOneSession)
{
    SmtpSink sink;
    {
        SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
        for (int i = 0; i < 5; ++i) {
            SendResult r = pool.send("sender@example.com", {"a@example.net"},
                                     "Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n");
            ASSERT_EQ(r.outcome, Outcome::ok) << i << ": " << describe(r);
            EXPECT_EQ(pool.idle_connections(), 1u);
        }
    }  // the pool QUITs its idle connection
    SmtpSink::Counters c = counters_after(sink, 1);
    EXPECT_EQ(c.sess, 1);
    EXPECT_EQ(c.quit, 1);
    EXPECT_EQ(c.mesg, 5);
    EXPECT_EQ(sink.messages().size(), 5u);
}

TEST(SmtpSink, ReconnectsAfterServerRestart)
{
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    ASSERT_EQ(pool.send("sender@example.com", {"a@example.net"}, "Subject: one\r\n\r\n1\r\n").outcome, Outcome::ok);
    ASSERT_EQ(pool.idle_connections(), 1u);

    sink.kill();   // a crash: the pooled connection is now dead
    sink.start();  // same port
    SendResult r = pool.send("sender@example.com", {"a@example.net"}, "Subject: two\r\n\r\n2\r\n");
    ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);

    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 2u) << "each message exactly once";
    std::set<std::string> got;
    for (const auto& m : messages) got.insert(m.content);
    EXPECT_EQ(got, (std::set<std::string>{"Subject: one\n\n1\n", "Subject: two\n\n2\n"}));
}

TEST(SmtpSink, ReusedConnectionAnswering421IsRetriedOnAFreshOne)
{
    // -Q RSET: "421, hang up" when a reused connection says RSET, like a
    // Postfix that shut down while our connection idled. Nothing of the
    // message was taken, so the pool retries once on a new connection.
    SmtpSink sink(sink_args({"-Q", "RSET"}));
    {
        SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
        ASSERT_EQ(pool.send("s@example.com", {"a@example.net"}, "Subject: one\r\n\r\n1\r\n").outcome, Outcome::ok);
        SendResult r = pool.send("s@example.com", {"a@example.net"}, "Subject: two\r\n\r\n2\r\n");
        ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);
        EXPECT_EQ(r.recipients[0].reply, "250 2.0.0 Ok");
    }
    SmtpSink::Counters c = counters_after(sink, 2);
    EXPECT_EQ(c.sess, 2) << "the refused session and the retry";
    EXPECT_EQ(c.mesg, 2);
    EXPECT_EQ(sink.messages().size(), 2u);
}

TEST(SmtpSink, LostReplyAfterDotIsTempfailAndNotRetried)
{
    // -q .: smtp-sink takes the message and hangs up without a reply.
    SmtpSink sink(sink_args({"-q", "."}));
    {
        SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
        SendResult r = pool.send("s@example.com", {"a@example.net", "b@example.net"}, kMessage);
        EXPECT_EQ(r.outcome, Outcome::tempfail) << describe(r);
        EXPECT_EQ(r.reply, "lost connection with 127.0.0.1:" + std::to_string(sink.port()) +
                               " while receiving reply to end of data");
        for (const auto& rr : r.recipients) EXPECT_EQ(rr.reply, r.reply);
        EXPECT_EQ(pool.idle_connections(), 0u);
    }
    SmtpSink::Counters c = counters_after(sink, 1);
    EXPECT_EQ(c.sess, 1) << "no second attempt";
}

TEST(SmtpSink, LmtpOneReplyPerRecipient)
{
    SmtpSink sink(sink_args({"-L"}));
    SmtpPool pool(Endpoint::parse(sink.endpoint("lmtp")), fast_options());
    SendResult r = pool.send("sender@example.com", {"a@example.net", "b@example.net", "c@example.net"}, kMessage);
    ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);
    ASSERT_EQ(r.recipients.size(), 3u);
    for (const auto& rr : r.recipients) {
        EXPECT_EQ(rr.outcome, Outcome::ok);
        EXPECT_EQ(rr.reply, "250 2.2.0 Ok");  // LMTP's per-recipient reply, not SMTP's 2.0.0
    }
    // A second message on the same session.
    ASSERT_EQ(pool.send("sender@example.com", {"d@example.net"}, kMessage).outcome, Outcome::ok);
    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 2u);
    for (const auto& m : messages) {
        EXPECT_EQ(m.proto, "LMTP");
        EXPECT_EQ(m.content, lf(kMessage));
    }
}

TEST(SmtpSink, LmtpRejectedAtDotForEveryRecipient)
{
    SmtpSink sink(sink_args({"-L", "-f", "."}));
    SmtpPool pool(Endpoint::parse(sink.endpoint("lmtp")), fast_options());
    SendResult r = pool.send("sender@example.com", {"a@example.net", "b@example.net"}, kMessage);
    EXPECT_EQ(r.outcome, Outcome::permfail) << describe(r);
    for (const auto& rr : r.recipients) {
        EXPECT_EQ(rr.outcome, Outcome::permfail);
        EXPECT_EQ(rr.reply, "500 5.3.0 Error: command failed");
    }
    EXPECT_EQ(pool.idle_connections(), 1u) << "both replies read: the session is in step";
}

TEST(SmtpSink, LmtpOverUnixSocket)
{
    SmtpSink sink({{"-L"}, true});
    SmtpPool pool(Endpoint::parse(sink.endpoint("lmtp")), fast_options());
    SendResult r = pool.send("sender@example.com", {"a@example.net", "b@example.net"}, kMessage);
    ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);
    ASSERT_EQ(sink.messages().size(), 1u);
    EXPECT_EQ(sink.messages()[0].content, lf(kMessage));
}

TEST(SmtpSink, WithoutPipeliningLockStep)
{
    SmtpSink sink(sink_args({"-p"}));
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    for (int i = 0; i < 2; ++i) {  // the second one starts with RSET
        SendResult r = pool.send("sender@example.com", {"a@example.net", "b@example.net", "c@example.net"}, kMessage);
        ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);
        for (const auto& rr : r.recipients) EXPECT_EQ(rr.outcome, Outcome::ok);
    }
    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].rcpt_args.size(), 3u);
    EXPECT_EQ(messages[0].content, lf(kMessage));
}

TEST(SmtpSink, HeloWhenEhloIsRefused)
{
    // -P: a CISCO PIX look-alike that knows no EHLO (500); -f EHLO: refused.
    for (const std::string option : {"-P", "-f"}) {
        SCOPED_TRACE(option);
        SmtpSink sink(option == "-P" ? sink_args({"-P"}) : sink_args({"-f", "EHLO"}));
        SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
        SendResult r = pool.send("sender@example.com", {"a@example.net"}, kMessage);
        ASSERT_EQ(r.outcome, Outcome::ok) << describe(r);
        auto messages = sink.messages();
        ASSERT_EQ(messages.size(), 1u);
        EXPECT_EQ(messages[0].proto, "SMTP");
        EXPECT_EQ(messages[0].mail_args, "<sender@example.com>") << "no BODY= without EHLO";
        EXPECT_EQ(messages[0].content, lf(kMessage));
    }
}

TEST(SmtpSink, NonAsciiAddressNeedsSmtputf8)
{
    // smtp-sink does not advertise SMTPUTF8.
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    SendResult r = pool.send("sender@example.com", {"j\xc3\xb6rg@example.net"}, kMessage);
    EXPECT_EQ(r.outcome, Outcome::tempfail) << describe(r);
    EXPECT_EQ(r.reply, "SMTPUTF8 is required, but was not offered by host 127.0.0.1:" + std::to_string(sink.port()));
    EXPECT_TRUE(sink.messages().empty());
    EXPECT_EQ(pool.idle_connections(), 1u);
}

TEST(SmtpSink, InvalidRecipientRefusedLocally)
{
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    SendResult r = pool.send("sender@example.com",
                             {"good@example.net", "bad@example.net>\r\nRCPT TO:<evil@example.org"}, kMessage);
    EXPECT_EQ(r.outcome, Outcome::ok) << describe(r);
    ASSERT_EQ(r.recipients.size(), 2u);
    EXPECT_EQ(r.recipients[0].outcome, Outcome::ok);
    EXPECT_EQ(r.recipients[1].outcome, Outcome::permfail);
    auto messages = sink.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].rcpt_args, std::vector<std::string>{"<good@example.net>"});

    SendResult bad_sender = pool.send("a@b\r\nQUIT", {"good@example.net"}, kMessage);
    EXPECT_EQ(bad_sender.outcome, Outcome::permfail);
    SendResult nobody = pool.send("a@example.com", {}, kMessage);
    EXPECT_EQ(nobody.outcome, Outcome::permfail);
    EXPECT_EQ(nobody.reply, "no recipients");
    EXPECT_EQ(sink.messages().size(), 1u);
}

TEST(SmtpSink, FourThreadsConcurrently)
{
    SmtpSink sink;
    constexpr int kThreads = 4, kEach = 5;
    std::vector<std::string> wanted;
    {
        SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
        std::vector<std::vector<SendResult>> results(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < kEach; ++i) {
                    std::string body = "Subject: thread " + std::to_string(t) + " message " + std::to_string(i) +
                                       "\r\n\r\n.dot " + std::string(1000 * (i + 1), 'x') + "\r\n";
                    results[t].push_back(pool.send("s@example.com", {"a@example.net", "b@example.net"}, body));
                }
            });
        }
        for (auto& th : threads) th.join();
        for (int t = 0; t < kThreads; ++t) {
            for (int i = 0; i < kEach; ++i) {
                EXPECT_EQ(results[t][i].outcome, Outcome::ok) << describe(results[t][i]);
                wanted.push_back("Subject: thread " + std::to_string(t) + " message " + std::to_string(i) +
                                 "\n\n.dot " + std::string(1000 * (i + 1), 'x') + "\n");
            }
        }
        EXPECT_GE(pool.idle_connections(), 1u);
        EXPECT_LE(pool.idle_connections(), 4u);
    }
    std::vector<std::string> got;
    for (const auto& m : sink.messages()) got.push_back(m.content);
    std::sort(got.begin(), got.end());
    std::sort(wanted.begin(), wanted.end());
    EXPECT_EQ(got, wanted) << "every message exactly once, intact";
    // Every session ended with QUIT once the pool is gone.
    wait_until([&] { return sink.counters().sess >= 1 && sink.counters().quit == sink.counters().sess; });
    SmtpSink::Counters c = sink.counters();
    EXPECT_LE(c.sess, kThreads) << "connections are reused, one per concurrent sender at most";
    EXPECT_EQ(c.mesg, kThreads * kEach);
}

TEST(SmtpSink, MaxIdleBoundsThePool)
{
    SmtpSink sink;
    SmtpOptions options = fast_options();
    options.max_idle = 1;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), options);
    std::vector<std::thread> threads;
    std::vector<Outcome> outcomes(4, Outcome::tempfail);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back(
            [&, t] { outcomes[t] = pool.send("s@example.com", {"a@example.net"}, "Subject: x\r\n\r\nx\r\n").outcome; });
    }
    for (auto& th : threads) th.join();
    for (Outcome o : outcomes) EXPECT_EQ(o, Outcome::ok);
    EXPECT_EQ(pool.idle_connections(), 1u);
}

TEST(SmtpSink, IdleConnectionClosedAfterIdleTimeout)
{
    SmtpSink sink;
    SmtpOptions options = fast_options();
    options.idle_timeout = 1s;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), options);
    ASSERT_EQ(pool.send("s@example.com", {"a@example.net"}, "Subject: x\r\n\r\nx\r\n").outcome, Outcome::ok);
    EXPECT_EQ(pool.idle_connections(), 1u);
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(wait_until([&] { return pool.idle_connections() == 0; }, 5s));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
    SmtpSink::Counters c = counters_after(sink, 1);
    EXPECT_EQ(c.sess, 1);
    EXPECT_EQ(c.quit, 1) << "closed with QUIT";
}

}  // namespace
}  // namespace sesame::deliver
