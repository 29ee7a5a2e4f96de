// deliver_security_test.cpp - what message content and addresses can do to
// the SMTP conversation Sesame holds with Postfix (docs/security.md, "SMTP
// command injection").
//
// Sesame hands on bytes an outsider wrote: the message of a forward, and on
// the SES path the whole raw mail from S3. SMTP smuggling (a lone "." line
// hidden behind a bare LF, a bare CR, or a mix) must not end the DATA
// early and make the rest read as commands: every line Postfix will see as
// a line (LF ends it, a CR before it is dropped) that starts with '.' is
// dot-stuffed, whatever ended the line before. Addresses with a line break,
// an angle bracket or a control character never reach a command line. The
// pure encoder is checked line by line, then the whole path against a real
// smtp-sink (Postfix's own SMTP reader), which must see one message only.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "policy/deliver/smtp_client.hpp"
#include "policy/deliver/smtp_wire.hpp"
#include "tests/integration/smtp_sink.hpp"
#include "tests/unit/smtp_options.hpp"

namespace sesame::deliver {
namespace {

using namespace std::chrono_literals;
using testenv::SmtpSink;

const std::string kHead = "From: a@friend.example\r\nSubject: smuggle\r\n\r\nfirst\r\n";
const std::string kCommands =
    "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@victim.example>\r\nDATA\r\nsmuggled\r\n";

// Bodies that would end the DATA early if sent without care: a "." line
// behind every kind of line end (Postfix, the only server Sesame talks to,
// ends lines at LF; a bare CR is an ordinary byte to it, and is sent as is).
const std::vector<std::string> kPayloads = {
    kHead + "x\n.\n" + kCommands + ".\r\n",      // bare LF
    kHead + "x\r\n.\n" + kCommands + ".\r\n",    // CR LF, then LF
    kHead + "x\n.\r\n" + kCommands + ".\r\n",    // LF, then CR LF
    kHead + "x\r\n.\r" + kCommands + ".\r\n",    // "." then bare CR
    kHead + "x\r.\r\n" + kCommands + ".\r\n",    // bare CR before "."
    kHead + "x\r\n.\r\n" + kCommands + ".\r\n",  // the plain one
    kHead + "x\r\n..\r\n.\r\n" + kCommands,      // already stuffed, then a "."
    kHead + ".\r\n" + kCommands,                 // "." as the first body line
    kHead + "x\r\n.",                            // "." without a final line end
};

// The lines of WIRE as Postfix's smtpd reads them: LF ends a line, one CR
// before it is dropped.
std::vector<std::string> postfix_lines(std::string_view wire)
{
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < wire.size()) {
        std::size_t lf = wire.find('\n', pos);
        std::size_t end = lf == std::string_view::npos ? wire.size() : lf;
        std::string line(wire.substr(pos, end - pos));
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(line);
        pos = end + 1;
    }
    return out;
}

using testenv::fast_options;

// The DATA body holds exactly one end-of-data line, its last, and a line
// Postfix reads as a command cannot appear before it.
TEST(DeliverSecurity, SmugglingPayloadsCannotEndTheDataEarly)
{
    for (const std::string& payload : kPayloads) {
        const std::string wire = wire::encode_body(payload);
        SCOPED_TRACE(::testing::PrintToString(payload));
        const std::vector<std::string> lines = postfix_lines(wire);
        ASSERT_FALSE(lines.empty());
        EXPECT_EQ(lines.back(), ".");
        for (std::size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_NE(lines[i], ".") << "line " << i;
        EXPECT_TRUE(wire.ends_with("\r\n.\r\n"));
        // Strictly CR LF: only the final terminator as well.
        EXPECT_EQ(wire.find("\r\n.\r\n"), wire.size() - 5);
    }
}

// Through the client to smtp-sink: one message, one recipient, and the
// smuggled commands arrive as text of the body.
TEST(DeliverSecurity, SmugglingPayloadsArriveAsOneMessage)
{
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    for (const std::string& payload : kPayloads) {
        SendResult r = pool.send("a@friend.example", {"rcpt@example.com"}, payload);
        EXPECT_EQ(r.outcome, Outcome::ok) << ::testing::PrintToString(payload) << ": " << r.reply;
    }
    const auto messages = sink.messages();
    ASSERT_EQ(messages.size(), kPayloads.size());
    for (const auto& m : messages) {
        EXPECT_EQ(m.mail_args.rfind("<a@friend.example>", 0), 0u) << m.mail_args;
        EXPECT_EQ(m.rcpt_args, std::vector<std::string>{"<rcpt@example.com>"});
    }
}

// An address that would close the angle brackets, add an ESMTP parameter
// or start a new command line is refused before anything is sent.
TEST(DeliverSecurity, AddressesCannotCarryCommandsOrParameters)
{
    for (const char* bad : {"a@b.example>\r\nRSET", "a@b.example> NOTIFY=SUCCESS,FAILURE", "a@b.example\nQUIT",
                            "a@b.example\rQUIT", "<a@b.example> SIZE=1", "a@b.example\x1b[2J", "a\x7f@b.example"}) {
        EXPECT_FALSE(wire::valid_address(wire::strip_brackets(bad))) << ::testing::PrintToString(std::string(bad));
    }
    SmtpSink sink;
    SmtpPool pool(Endpoint::parse(sink.endpoint()), fast_options());
    SendResult sender = pool.send("a@b.example> AUTH=<victim@victim.example>", {"rcpt@example.com"}, kHead);
    EXPECT_EQ(sender.outcome, Outcome::permfail) << sender.reply;
    SendResult rcpt = pool.send("a@b.example", {"rcpt@example.com> NOTIFY=NEVER"}, kHead);
    EXPECT_EQ(rcpt.outcome, Outcome::permfail) << rcpt.reply;
    EXPECT_TRUE(sink.messages().empty());
}

}  // namespace
}  // namespace sesame::deliver
