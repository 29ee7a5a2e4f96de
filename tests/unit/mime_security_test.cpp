// mime_security_test.cpp - header injection through rule data or message
// content, in the messages Sesame writes (docs/security.md, "Header
// injection").
//
// Text that reaches a header of an auto-reply or a resend forward comes from
// the rule (subject, text, HTML: `sesame ooo set` or a DynamoDB item, which
// no CLI check guards), from the message (its subject, RFC 2047-encoded line
// breaks included), from the envelope (the sender a reply goes to) or from
// the configuration (the marker header's name). Whatever it holds, the
// result has exactly the header fields Sesame means to write, each once,
// and the hostile text stays inside the field it was meant for. Each built
// message is split into fields by hand (not by gmime, which is forgiving)
// and parsed back with gmime.
#include <gmime/gmime.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "policy/engine/types.hpp"
#include "policy/mime/compose.hpp"
#include "policy/mime/gobject_ptr.hpp"
#include "policy/mime/message_reader.hpp"
#include "tests/unit/mime_test_support.hpp"
#include "tests/unit/test_text.hpp"

using sesame::engine::AutoReplyAction;
using sesame::mime::build_autoreply;
using sesame::mime::build_resend;
using sesame::mime::ComposeContext;
using sesame::mime::GObjectPtr;
using sesame::mime::test::compose_context;
using sesame::mime::test::parse;

namespace {

using sesame::testdata::kMarker;

// The header fields of RAW by name (lower case) and how often each occurs,
// read the strict way: every line of the header block is "name:" with an
// RFC 5322 field name, or a continuation starting with a blank.
std::map<std::string, int> fields(const std::string& raw)
{
    std::map<std::string, int> out;
    const std::size_t end = raw.find("\r\n\r\n");
    EXPECT_NE(end, std::string::npos) << "no end of header";
    std::string_view block(raw.data(), end == std::string::npos ? raw.size() : end + 2);
    for (std::size_t pos = 0; pos < block.size();) {
        std::size_t eol = block.find("\r\n", pos);
        std::string_view line = block.substr(pos, eol - pos);
        pos = eol + 2;
        EXPECT_EQ(line.find_first_of(std::string_view("\r\n\0", 3)), std::string_view::npos)
            << "bare CR, LF or NUL in " << ::testing::PrintToString(std::string(line));
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) continue;
        std::size_t colon = line.find(':');
        EXPECT_NE(colon, std::string_view::npos) << "not a field: " << line;
        std::string name(line.substr(0, colon));
        for (char& c : name) c = static_cast<char>(g_ascii_tolower(c));
        EXPECT_TRUE(!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c > 32 && c < 127; }))
            << "bad field name in " << line;
        ++out[name];
    }
    return out;
}

std::string subject_of(const std::string& raw)
{
    GObjectPtr<GMimeMessage> m = parse(raw);
    const char* s = m ? g_mime_message_get_subject(m.get()) : nullptr;
    return s ? s : "(none)";
}

// Every field of RAW is one of ALLOWED, and none is there twice.
void expect_only(const std::string& raw, const std::set<std::string>& allowed)
{
    for (const auto& [name, count] : fields(raw)) {
        EXPECT_TRUE(allowed.count(name)) << "unexpected field " << name << " in:\n" << raw;
        EXPECT_EQ(count, 1) << name << " appears " << count << " times in:\n" << raw;
    }
}

const std::set<std::string> kReplyFields = {"from",
                                            "to",
                                            "subject",
                                            "date",
                                            "message-id",
                                            "in-reply-to",
                                            "references",
                                            "mime-version",
                                            "content-type",
                                            "content-transfer-encoding",
                                            "auto-submitted",
                                            "x-auto-response-suppress",
                                            "x-sesame-processed"};

const std::set<std::string> kResendFields = {"from",       "to",           "reply-to",     "subject",           "date",
                                             "message-id", "mime-version", "content-type", "x-sesame-processed"};

constexpr char kNulLine[] = "Away\0\r\nBcc: victim@victim.example";
const std::vector<std::string> kHostileLines = {
    "Away\r\nBcc: victim@victim.example",     "Away\nBcc: victim@victim.example",
    "Away\rBcc: victim@victim.example",       std::string(kNulLine, sizeof kNulLine - 1),
    "Away\r\n\r\nBcc: victim@victim.example", "Away\r\n Bcc: victim@victim.example",
};

AutoReplyAction action()
{
    AutoReplyAction a;
    a.from = "away@example.com";
    a.to = "sender@friend.example";
    a.subject = "Away";
    a.text = "I am away.";
    a.in_reply_to = "<1@friend.example>";
    a.references = "<1@friend.example>";
    return a;
}

}  // namespace

// The rule's subject, text and HTML, and the reply's To (the envelope
// sender), cannot add a header field or a MIME part to an auto-reply.
TEST(ComposeSecurity, RuleTextCannotAddHeaderFieldsToAReply)
{
    for (const std::string& hostile : kHostileLines) {
        SCOPED_TRACE(::testing::PrintToString(hostile));
        AutoReplyAction a = action();
        a.subject = hostile;
        a.to = "sender@friend.example" + hostile.substr(4);
        a.in_reply_to = "<1@friend.example>" + hostile.substr(4);
        a.references = a.in_reply_to;
        a.text = "I am away." + hostile.substr(4) + "\r\n.\r\nMAIL FROM:<x@attacker.example>\r\n";
        a.html = "<p>away</p>\r\n--\r\nContent-Type: text/plain\r\n\r\n" + hostile;
        const std::string raw = build_autoreply(a, compose_context());
        expect_only(raw, kReplyFields);
        const std::string subject = subject_of(raw);
        EXPECT_EQ(subject.find_first_of("\r\n"), std::string::npos) << subject;
        EXPECT_NE(subject.find("Bcc: victim@victim.example"), std::string::npos) << "kept as text: " << subject;

        // Exactly the two alternatives: the rule's text opened no part.
        GObjectPtr<GMimeMessage> m = parse(raw);
        ASSERT_NE(m, nullptr);
        GMimeObject* body = g_mime_message_get_mime_part(m.get());
        ASSERT_TRUE(GMIME_IS_MULTIPART(body));
        EXPECT_EQ(g_mime_multipart_get_count(GMIME_MULTIPART(body)), 2);
    }
}

// A line break the sender encoded in the Subject (RFC 2047) is decoded by
// the reader and still cannot split the "Auto:" reply's or the "Fwd:"
// resend's Subject.
TEST(ComposeSecurity, AnEncodedLineBreakInTheOriginalSubjectStaysInTheSubject)
{
    const std::string original =
        "From: =?utf-8?q?Evil=0D=0ABcc:_victim@victim.example?= <evil@attacker.example>\r\n"
        "To: away@example.com\r\n"
        "Subject: =?utf-8?q?Hello=0D=0ABcc:_victim@victim.example=0D=0A=0D=0Abody?=\r\n"
        "Message-ID: <1@attacker.example>\r\n"
        "\r\n"
        "hi\r\n";
    const sesame::engine::MessageInfo info = sesame::mime::read_message(original, kMarker);
    EXPECT_EQ(info.subject.find_first_of("\r\n"), std::string::npos) << info.subject;

    AutoReplyAction a = action();
    a.subject = "Auto: " + info.subject;  // what the engine does without a rule subject
    a.to = "evil@attacker.example";
    const std::string reply = build_autoreply(a, compose_context());
    expect_only(reply, kReplyFields);
    EXPECT_EQ(subject_of(reply).find_first_of("\r\n"), std::string::npos) << subject_of(reply);

    const std::string resend =
        build_resend(original, "away@example.com", "evil@attacker.example", {"out@other.example"}, compose_context());
    expect_only(resend, kResendFields);
    EXPECT_EQ(subject_of(resend).find_first_of("\r\n"), std::string::npos) << subject_of(resend);
    EXPECT_EQ(fields(resend).count("bcc"), 0u);
}

// The forwarding address and the targets (rule data) cannot add a field to
// a resend forward, nor the envelope sender used as Reply-To.
TEST(ComposeSecurity, ResendAddressesCannotAddHeaderFields)
{
    const std::string original = "From: a@friend.example\r\nSubject: hi\r\n\r\nhello\r\n";
    for (const std::string& hostile : kHostileLines) {
        SCOPED_TRACE(::testing::PrintToString(hostile));
        const std::string tail = hostile.substr(4);
        const std::string raw = build_resend(original, "fwd@example.com" + tail, "a@friend.example" + tail,
                                             {"out@other.example" + tail, "two@other.example"}, compose_context());
        expect_only(raw, kResendFields);
        GObjectPtr<GMimeMessage> m = parse(raw);
        ASSERT_NE(m, nullptr);
        InternetAddressList* to = g_mime_message_get_to(m.get());
        for (int i = 0; to != nullptr && i < internet_address_list_length(to); ++i) {
            InternetAddress* addr = internet_address_list_get_address(to, i);
            ASSERT_TRUE(INTERNET_ADDRESS_IS_MAILBOX(addr));
            std::string s = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(addr));
            EXPECT_TRUE(s == "out@other.example" || s == "two@other.example") << s;
        }
    }
}

// The marker header's name comes from the configuration (which refuses a
// bad one, config.ConfigSecurity.*); here, even one that slipped through
// cannot split the header: the default name is used, or nothing is added.
TEST(ComposeSecurity, AMarkerNameWithALineBreakIsNeverWritten)
{
    for (const std::string& hostile : kHostileLines) {
        SCOPED_TRACE(::testing::PrintToString(hostile));
        const std::string name = "X-Mark" + hostile.substr(4);
        expect_only(build_autoreply(action(), compose_context(name)), kReplyFields);
        const std::string original = "From: a@friend.example\r\n\r\nhello\r\n";
        EXPECT_EQ(sesame::mime::add_header_on_top(original, name, "forwarded"), original);
        EXPECT_EQ(sesame::mime::add_header_on_top(original, "X-Mark", "forwarded" + hostile.substr(4)).find("\r\nBcc"),
                  std::string::npos);
    }
}

// A display name of any length cannot hide the address a From-header block
// looks at: an item too long to read whole still gives the angle address
// that ends it, and the items around it are read as usual.
TEST(ReaderSecurity, ALongDisplayNameCannotHideTheAddress)
{
    const std::string name = "\"" + std::string(3000, 'N') + "\"";
    const std::string raw = "From: " + name + " <bulk@spam.example>\r\n" + "To: a@example.com, " + name +
                            " <b@example.com>, c@example.com\r\n" +
                            "Subject: hi\r\nMessage-ID: <1@spam.example>\r\n\r\nbody\r\n";
    const sesame::engine::MessageInfo info = sesame::mime::read_message(raw, kMarker);
    EXPECT_EQ(info.from_address.value_or(""), "bulk@spam.example");
    EXPECT_EQ(info.to_cc, (std::vector<std::string>{"a@example.com", "b@example.com", "c@example.com"}));
    // No angle address at its end: nothing of the long item is read.
    const std::string bare = "From: " + std::string(3000, 'x') + "@spam.example\r\nTo: a@example.com\r\n\r\nbody\r\n";
    EXPECT_FALSE(sesame::mime::read_message(bare, kMarker).from_address.has_value());
}
