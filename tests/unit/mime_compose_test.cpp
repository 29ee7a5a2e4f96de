// mime_compose_test.cpp - the messages Sesame writes, parsed back.
//
// Every built message is parsed again twice: with gmime (headers, MIME
// structure, decoded bodies and attachments) and with read_message (what
// Sesame itself will see if the message comes back: the marker and
// Auto-Submitted must stop any reply to it). expect_wire() checks, for
// every result, the promises that hold for any input: CRLF line ends only,
// no line over 998 octets, a header block that parses. Tables print
// got/want. The resend sample is tests/data/compose-original.eml (LF line
// ends, read as written and with CRLF); its attachments are known bytes.
#include <gmime/gmime.h>

#include <algorithm>
#include <cstring>
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
using sesame::engine::MessageInfo;
using sesame::mime::add_header_on_top;
using sesame::mime::adopt;
using sesame::mime::build_autoreply;
using sesame::mime::build_resend;
using sesame::mime::ComposeContext;
using sesame::mime::GCharPtr;
using sesame::mime::GObjectPtr;
using sesame::mime::read_message;
using sesame::mime::test::compose_context;
using sesame::mime::test::parse;

namespace {

using sesame::testdata::kMarker;
const char* const kNowDate = "Tue, 14 Nov 2023 22:13:20 +0000";  // compose_context()'s time

using sesame::testdata::with_crlf;
using sesame::testdata::with_lf;

std::string bytes_0_to_255()
{
    std::string b;
    for (int i = 0; i < 256; ++i) b += static_cast<char>(i);
    return b;
}

// A header of OBJECT, decoded by gmime; "(absent)" when missing.
std::string header(GMimeObject* object, const char* name)
{
    const char* v = g_mime_object_get_header(object, name);
    return v != nullptr ? std::string(v) : std::string("(absent)");
}

std::string header(GMimeMessage* message, const char* name)
{
    return header(GMIME_OBJECT(message), name);
}

std::vector<std::string> addresses(InternetAddressList* list)
{
    std::vector<std::string> out;
    for (int i = 0; list != nullptr && i < internet_address_list_length(list); ++i) {
        InternetAddress* a = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(a))
            out.emplace_back(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
    }
    return out;
}

std::string mime_type(GMimeObject* object)
{
    GMimeContentType* type = g_mime_object_get_content_type(object);
    if (type == nullptr) return "(none)";
    GCharPtr s(g_mime_content_type_get_mime_type(type));
    return s.get();
}

// The decoded content of a leaf part (transfer encoding undone, bytes as
// they are: no charset conversion).
std::string decoded(GMimeObject* object)
{
    if (!GMIME_IS_PART(object)) return "(not a part)";
    GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(object));
    if (content == nullptr) return "";
    GObjectPtr<GMimeStream> out = adopt(g_mime_stream_mem_new());
    g_mime_data_wrapper_write_to_stream(content, out.get());
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

// The text of a text part, as UTF-8 with LF line ends.
std::string text_of(GMimeObject* object)
{
    if (!GMIME_IS_TEXT_PART(object)) return "(not a text part)";
    GCharPtr text(g_mime_text_part_get_text(GMIME_TEXT_PART(object)));
    return text != nullptr ? with_lf(text.get()) : std::string();
}

// The promises every built message keeps, whatever went in.
void expect_wire(const std::string& raw)
{
    ASSERT_FALSE(raw.empty());
    std::size_t line = 0, longest = 0, bare_lf = 0, bare_cr = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\n') {
            if (i == 0 || raw[i - 1] != '\r') ++bare_lf;
            line = 0;
        } else if (raw[i] == '\r') {
            if (i + 1 >= raw.size() || raw[i + 1] != '\n') ++bare_cr;
        } else {
            longest = std::max(longest, ++line);
        }
    }
    EXPECT_EQ(bare_lf, 0u) << "bare LF line ends";
    EXPECT_EQ(bare_cr, 0u) << "bare CR";
    EXPECT_LE(longest, 998u) << "line over 998 octets";
    EXPECT_EQ(raw.find('\0'), std::string::npos) << "NUL in message";
    EXPECT_NE(raw.find("\r\n\r\n"), std::string::npos) << "no end of header";
    GObjectPtr<GMimeMessage> m = parse(raw);
    ASSERT_NE(m, nullptr) << "does not parse:\n" << raw;
    EXPECT_EQ(header(m.get(), "MIME-Version"), "1.0");
}

AutoReplyAction sample_action()
{
    AutoReplyAction a;
    a.from = "bob@example.com";
    a.to = "alice@example.org";
    a.subject = "Auto: Quarterly report";
    a.text = "I am away until Monday.\nYour mail will be read then.\n";
    a.in_reply_to = "<20250512091400.1234@example.org>";
    a.references = "<root-0@example.com> <20250512091400.1234@example.org>";
    return a;
}

}  // namespace

// ------------------------------------------------------------ autoreply

TEST(ComposeAutoreply, HeadersPlainText)
{
    const std::string raw = build_autoreply(sample_action(), compose_context());
    expect_wire(raw);
    GObjectPtr<GMimeMessage> m = parse(raw);
    ASSERT_NE(m, nullptr);

    struct Want {
        const char* name;
        std::string value;
    };
    const std::vector<Want> want = {
        {"From", "bob@example.com"},
        {"To", "alice@example.org"},
        {"Subject", "Auto: Quarterly report"},
        {"Date", kNowDate},
        {"In-Reply-To", "<20250512091400.1234@example.org>"},
        {"References", "<root-0@example.com> <20250512091400.1234@example.org>"},
        {"Auto-Submitted", "auto-replied"},
        {"X-Auto-Response-Suppress", "All"},
        {"X-Sesame-Processed", "auto-replied"},
        {"MIME-Version", "1.0"},
    };
    for (const Want& w : want)
        EXPECT_EQ(header(m.get(), w.name), w.value)
            << w.name << "\n   got: " << header(m.get(), w.name) << "\n  want: " << w.value;

    const std::string id = header(m.get(), "Message-ID");
    EXPECT_EQ(id.front(), '<') << id;
    EXPECT_TRUE(id.size() > 20 && id.ends_with("@mx1.example.com>")) << id;

    GMimeObject* body = g_mime_message_get_mime_part(m.get());
    EXPECT_EQ(mime_type(body), "text/plain");
    EXPECT_EQ(header(body, "Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(text_of(body), sample_action().text);
}

TEST(ComposeAutoreply, ReadBackMarksItAsOurs)
{
    const std::string raw = build_autoreply(sample_action(), compose_context());
    MessageInfo got = read_message(raw, kMarker);
    EXPECT_TRUE(got.has_marker);
    EXPECT_EQ(got.marker_name, kMarker);
    EXPECT_EQ(got.auto_submitted, "auto-replied");
    EXPECT_EQ(got.from_address.value_or("(none)"), "bob@example.com");
    EXPECT_EQ(got.to_cc, std::vector<std::string>{"alice@example.org"});
    EXPECT_EQ(got.subject, "Auto: Quarterly report");
    EXPECT_EQ(got.in_reply_to, "<20250512091400.1234@example.org>");
    EXPECT_EQ(got.references, "<root-0@example.com> <20250512091400.1234@example.org>");
    EXPECT_FALSE(got.message_id.empty());

    // A site that still runs the old marker name recognises ours only by
    // Auto-Submitted, which is enough to stop a reply.
    MessageInfo other = read_message(raw, "X-Other-Marker");
    EXPECT_FALSE(other.has_marker);
    EXPECT_EQ(other.auto_submitted, "auto-replied");
}

TEST(ComposeAutoreply, HtmlMakesMultipartAlternative)
{
    AutoReplyAction a = sample_action();
    a.text = "Bin weg. Grüße\n";
    a.html = "<p>Bin weg. <b>Grüße</b></p>\n";
    const std::string raw = build_autoreply(a, compose_context());
    expect_wire(raw);
    GObjectPtr<GMimeMessage> m = parse(raw);
    ASSERT_NE(m, nullptr);
    GMimeObject* body = g_mime_message_get_mime_part(m.get());
    ASSERT_EQ(mime_type(body), "multipart/alternative");
    GMimeMultipart* alt = GMIME_MULTIPART(body);
    ASSERT_EQ(g_mime_multipart_get_count(alt), 2);
    GMimeObject* plain = g_mime_multipart_get_part(alt, 0);
    GMimeObject* html = g_mime_multipart_get_part(alt, 1);
    EXPECT_EQ(mime_type(plain), "text/plain");
    EXPECT_EQ(mime_type(html), "text/html");
    EXPECT_EQ(header(plain, "Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(header(html, "Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(text_of(plain), a.text);
    EXPECT_EQ(text_of(html), a.html);
    EXPECT_EQ(header(m.get(), "Auto-Submitted"), "auto-replied");
}

TEST(ComposeAutoreply, SubjectRfc2047RoundTrip)
{
    struct Case {
        std::string subject;
        std::string want;  // decoded, by gmime and by read_message
    };
    const std::vector<Case> cases = {
        {"Auto: Grüße", "Auto: Grüße"},
        {"Auto: 自動応答 — 不在です", "Auto: 自動応答 — 不在です"},
        {"", ""},
        {"plain ascii", "plain ascii"},
        {std::string(300, 'x') + " end", std::string(300, 'x') + " end"},
        {"Auto: " + std::string(40, 'a') + " Grüße " + std::string(200, 'b'),
         "Auto: " + std::string(40, 'a') + " Grüße " + std::string(200, 'b')},
        {"injected\r\nBcc: victim@example.net", "injected Bcc: victim@example.net"},
        {"tab\tand\x01"
         "control",
         "tab and control"},
        {"bad utf-8 \xff\xfe here", "bad utf-8 \xef\xbf\xbd\xef\xbf\xbd here"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE("subject " + ::testing::PrintToString(c.subject));
        AutoReplyAction a = sample_action();
        a.subject = c.subject;
        const std::string raw = build_autoreply(a, compose_context());
        expect_wire(raw);
        GObjectPtr<GMimeMessage> m = parse(raw);
        ASSERT_NE(m, nullptr);
        const char* got = g_mime_message_get_subject(m.get());
        EXPECT_EQ(std::string(got != nullptr ? got : ""), c.want);
        EXPECT_EQ(read_message(raw, kMarker).subject, c.want);
        EXPECT_EQ(header(m.get(), "Bcc"), "(absent)");
        if (c.subject.find("Grüße") != std::string::npos) {
            EXPECT_NE(raw.find("=?"), std::string::npos) << raw;
        }
    }
}

TEST(ComposeAutoreply, ThreadingHeadersOmittedWhenEmptyOrUnusable)
{
    struct Case {
        std::string in_reply_to, references;
        std::string want_in_reply_to, want_references;
    };
    const std::vector<Case> cases = {
        {"", "", "(absent)", "(absent)"},
        {"<a@x>", "", "<a@x>", "(absent)"},
        {"", "<r@x> <a@x>", "(absent)", "<r@x> <a@x>"},
        {"not a message id", "  ", "(absent)", "(absent)"},
        {"<a@x>\r\nBcc: v@example.net", "<r@x>", "<a@x>", "<r@x>"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(::testing::PrintToString(c.in_reply_to) + " / " + ::testing::PrintToString(c.references));
        AutoReplyAction a = sample_action();
        a.in_reply_to = c.in_reply_to;
        a.references = c.references;
        const std::string raw = build_autoreply(a, compose_context());
        expect_wire(raw);
        GObjectPtr<GMimeMessage> m = parse(raw);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(header(m.get(), "In-Reply-To"), c.want_in_reply_to);
        EXPECT_EQ(header(m.get(), "References"), c.want_references);
        EXPECT_EQ(header(m.get(), "Bcc"), "(absent)");
    }
}

TEST(ComposeAutoreply, BodyEncodings)
{
    struct Case {
        const char* name;
        std::string text;
        std::vector<std::string> encodings;  // any of these is fine
    };
    const std::vector<Case> cases = {
        {"ascii", "Away.\n", {"7bit", "(absent)"}},
        {"mostly ascii", std::string(200, 'a') + " Grüße\n", {"quoted-printable"}},
        {"mostly non-ascii", "自動応答です。不在です。\n", {"base64"}},
        {"very long ascii line", std::string(5000, 'y') + "\n", {"quoted-printable"}},
        {"very long non-ascii line", std::string(3000, 'z') + "ß" + std::string(3000, 'z'), {"quoted-printable"}},
        {"empty", "", {"7bit", "(absent)"}},
        {"CR line ends", "one\r\ntwo\rthree\n", {"7bit", "(absent)"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        AutoReplyAction a = sample_action();
        a.text = c.text;
        const std::string raw = build_autoreply(a, compose_context());
        expect_wire(raw);
        GObjectPtr<GMimeMessage> m = parse(raw);
        ASSERT_NE(m, nullptr);
        GMimeObject* body = g_mime_message_get_mime_part(m.get());
        const std::string encoding = header(body, "Content-Transfer-Encoding");
        EXPECT_TRUE(std::find(c.encodings.begin(), c.encodings.end(), encoding) != c.encodings.end())
            << "   got: " << encoding << "\n  want: one of " << ::testing::PrintToString(c.encodings);
        // LF line ends, the last line ended.
        std::string want = c.text == "one\r\ntwo\rthree\n" ? "one\ntwo\nthree\n" : c.text;
        if (!want.empty() && want.back() != '\n') want += '\n';
        // The same text whatever the encoding (EXPECT_TRUE: no 6000-byte dumps).
        EXPECT_TRUE(text_of(body) == want) << "text differs";
        EXPECT_TRUE(with_lf(decoded(body)) == want) << "decoded bytes differ";
    }
}

TEST(ComposeAutoreply, OddInputStillMakesAMessage)
{
    std::vector<AutoReplyAction> cases(6);
    cases[1] = sample_action();
    cases[1].from = "not an address";
    cases[1].to = "<>";
    cases[2] = sample_action();
    cases[2].text = std::string("nul\0inside", 10) + " and bad \xc3\x28 utf-8";
    cases[2].html = std::string(100000, '<');
    cases[3] = sample_action();
    cases[3].from = "Bob Example <bob@example.com>";
    cases[3].to = std::string(5000, 'a') + "@example.org";
    cases[4] = sample_action();
    cases[4].from = "bob@example.com\r\nBcc: victim@example.net";
    cases[5] = sample_action();
    cases[5].to = "jörg@exämple.de";
    ComposeContext odd{"bad marker:name", "", -1};
    for (std::size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE("case " + std::to_string(i));
        for (const ComposeContext& ctx : {compose_context(), odd}) {
            std::string raw;
            ASSERT_NO_THROW(raw = build_autoreply(cases[i], ctx));
            expect_wire(raw);
            GObjectPtr<GMimeMessage> m = parse(raw);
            ASSERT_NE(m, nullptr);
            EXPECT_EQ(header(m.get(), "Bcc"), "(absent)");
            MessageInfo info = read_message(raw, kMarker);
            EXPECT_TRUE(info.has_marker);  // an unusable marker name falls back to the default
            EXPECT_EQ(info.auto_submitted, "auto-replied");
        }
    }
    // The named cases: what could be kept was kept.
    GObjectPtr<GMimeMessage> named = parse(build_autoreply(cases[3], compose_context()));
    EXPECT_EQ(addresses(g_mime_message_get_from(named.get())), std::vector<std::string>{"bob@example.com"});
    EXPECT_EQ(header(named.get(), "To"), "(absent)");  // oversized: left out
    GObjectPtr<GMimeMessage> null_to = parse(build_autoreply(cases[1], compose_context()));
    EXPECT_EQ(header(null_to.get(), "To"), "(absent)");
    GObjectPtr<GMimeMessage> odd_ctx = parse(build_autoreply(sample_action(), odd));
    EXPECT_EQ(header(odd_ctx.get(), "Date"), "Wed, 31 Dec 1969 23:59:59 +0000");
    EXPECT_TRUE(header(odd_ctx.get(), "Message-ID").ends_with("@localhost>"));
}

TEST(ComposeAutoreply, MessageIdsAreFresh)
{
    const std::string a = header(parse(build_autoreply(sample_action(), compose_context())).get(), "Message-ID");
    const std::string b = header(parse(build_autoreply(sample_action(), compose_context())).get(), "Message-ID");
    EXPECT_NE(a, b);
    ComposeContext ctx = compose_context();
    ctx.hostname = "mx 2.example.com/\r\n";
    EXPECT_TRUE(
        header(parse(build_autoreply(sample_action(), ctx)).get(), "Message-ID").ends_with("@mx2.example.com>"));
}

// --------------------------------------------------------------- resend

namespace {

const std::string kForwarder = "bob@example.com";
const std::vector<std::string> kTargets = {"bob.private@example.net", "Assistant <assist@example.net>"};

struct Resent {
    std::string raw;
    GObjectPtr<GMimeMessage> message;
    GMimeObject* intro = nullptr;     // the text part
    GMimeObject* original = nullptr;  // the attached original, or null
};

Resent resend(std::string_view original, std::string_view envelope_sender = "alice@example.org",
              const std::vector<std::string>& targets = kTargets)
{
    Resent r;
    r.raw = build_resend(original, kForwarder, envelope_sender, targets, compose_context());
    expect_wire(r.raw);
    r.message = parse(r.raw);
    if (r.message == nullptr) return r;
    GMimeObject* body = g_mime_message_get_mime_part(r.message.get());
    EXPECT_EQ(mime_type(body), "multipart/mixed");
    if (!GMIME_IS_MULTIPART(body)) return r;
    int n = g_mime_multipart_get_count(GMIME_MULTIPART(body));
    if (n >= 1) r.intro = g_mime_multipart_get_part(GMIME_MULTIPART(body), 0);
    if (n >= 2) r.original = g_mime_multipart_get_part(GMIME_MULTIPART(body), 1);
    EXPECT_LE(n, 2);
    return r;
}

// The attachments of MESSAGE: filename -> decoded bytes, in order.
std::vector<std::pair<std::string, std::string>> attachments(GMimeMessage* message)
{
    std::vector<std::pair<std::string, std::string>> out;
    GMimeObject* root = g_mime_message_get_mime_part(message);
    if (!GMIME_IS_MULTIPART(root)) return out;
    for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(root)); ++i) {
        GMimeObject* part = g_mime_multipart_get_part(GMIME_MULTIPART(root), i);
        if (!GMIME_IS_PART(part) || !g_mime_part_is_attachment(GMIME_PART(part))) continue;
        const char* name = g_mime_part_get_filename(GMIME_PART(part));
        out.emplace_back(name != nullptr ? name : "", decoded(part));
    }
    return out;
}

}  // namespace

TEST(ComposeResend, SampleHeadersAndAttachments)
{
    const std::string lf = sesame::testdata::read("compose-original.eml");
    ASSERT_FALSE(lf.empty());
    for (const std::string& original : {with_crlf(lf), lf}) {
        SCOPED_TRACE(original == lf ? "LF original" : "CRLF original");
        Resent r = resend(original);
        ASSERT_NE(r.message, nullptr);
        GMimeMessage* m = r.message.get();

        EXPECT_EQ(header(m, "Subject"), "Fwd: Quartalszahlen für Mai");
        EXPECT_EQ(addresses(g_mime_message_get_from(m)), std::vector<std::string>{kForwarder});
        EXPECT_EQ(addresses(g_mime_message_get_to(m)),
                  (std::vector<std::string>{"bob.private@example.net", "assist@example.net"}));
        EXPECT_EQ(header(m, "Reply-To"), "Alice Example <alice@example.org>");
        EXPECT_EQ(header(m, "X-Sesame-Processed"), "forwarded");
        EXPECT_EQ(header(m, "Date"), kNowDate);
        EXPECT_TRUE(header(m, "Message-ID").ends_with("@mx1.example.com>"));
        EXPECT_NE(header(m, "Message-ID"), "<figures-0512@example.org>");
        EXPECT_EQ(header(m, "Auto-Submitted"), "(absent)");
        EXPECT_EQ(header(m, "DKIM-Signature"), "(absent)");  // the original's stays inside it

        // The text part names who, to whom, when and what.
        ASSERT_NE(r.intro, nullptr);
        EXPECT_EQ(mime_type(r.intro), "text/plain");
        const std::string intro = text_of(r.intro);
        for (const char* want :
             {"From: \"Alice Example\" <alice@example.org>\n", "Date: Mon, 12 May 2025 09:14:00 +0200\n",
              "Subject: Quartalszahlen für Mai\n", "To: bob@example.com, Carol <carol@example.com>\n",
              "Cc: dave@example.net\n", "Forwarded by bob@example.com to bob.private@example.net, "})
            EXPECT_NE(intro.find(want), std::string::npos) << "missing " << ::testing::PrintToString(want) << " in\n"
                                                           << intro;

        // The original is attached as a message, byte for byte (CRLF).
        ASSERT_NE(r.original, nullptr);
        EXPECT_EQ(mime_type(r.original), "message/rfc822");
        EXPECT_NE(r.raw.find(with_crlf(original)), std::string::npos) << "original not embedded unchanged";
        ASSERT_TRUE(GMIME_IS_MESSAGE_PART(r.original));
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(r.original));
        ASSERT_NE(inner, nullptr);
        EXPECT_EQ(header(inner, "Message-ID"), "<figures-0512@example.org>");
        EXPECT_NE(header(inner, "DKIM-Signature"), "(absent)");

        auto got = attachments(inner);
        ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(got[0].first, "figures.bin");
        EXPECT_TRUE(got[0].second == bytes_0_to_255()) << "figures.bin differs after decoding";
        EXPECT_EQ(got[1].first, "summe.csv");
        EXPECT_EQ(with_lf(got[1].second), "Monat;Summe\nMai;1\u00a0234,50 €\nGrüße;=\n");
    }
}

TEST(ComposeResend, ReadBackCarriesMarker)
{
    const std::string raw = build_resend(with_crlf(sesame::testdata::read("compose-original.eml")), kForwarder,
                                         "alice@example.org", kTargets, compose_context());
    MessageInfo got = read_message(raw, kMarker);
    EXPECT_TRUE(got.has_marker);
    EXPECT_EQ(got.marker_name, kMarker);
    EXPECT_EQ(got.from_address.value_or("(none)"), kForwarder);
    EXPECT_EQ(got.to_cc, (std::vector<std::string>{"bob.private@example.net", "assist@example.net"}));
    EXPECT_EQ(got.subject, "Fwd: Quartalszahlen für Mai");
    EXPECT_EQ(got.received_count, 0);  // the original's Received: lines are inside the attachment
}

TEST(ComposeResend, SubjectPrefix)
{
    struct Case {
        std::string subject_header;  // "" means no Subject: at all
        std::string want;
    };
    const std::vector<Case> cases = {
        {"Hello", "Fwd: Hello"},    {"Fwd: Hello", "Fwd: Hello"},    {"FWD: Hello", "FWD: Hello"},
        {"Fw: Hello", "Fw: Hello"}, {"Re: Hello", "Fwd: Re: Hello"}, {"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", "Fwd: Grüße"},
        {"", "Fwd: (no subject)"},  {"   ", "Fwd: (no subject)"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.subject_header);
        std::string original = "From: alice@example.org\r\nTo: bob@example.com\r\n";
        if (!c.subject_header.empty()) original += "Subject: " + c.subject_header + "\r\n";
        original += "\r\nbody\r\n";
        Resent r = resend(original);
        ASSERT_NE(r.message, nullptr);
        EXPECT_EQ(header(r.message.get(), "Subject"), c.want);
    }
}

TEST(ComposeResend, ReplyToFallsBackToEnvelopeSender)
{
    struct Case {
        const char* name;
        std::string original;
        std::string envelope_sender;
        std::string want;  // Reply-To as gmime decodes it
    };
    const std::vector<Case> cases = {
        {"From wins", "From: Alice <alice@example.org>\r\n\r\nx\r\n", "bounce@lists.example.org",
         "Alice <alice@example.org>"},
        {"no From", "To: bob@example.com\r\nSubject: s\r\n\r\nx\r\n", "alice@example.org", "alice@example.org"},
        {"no From, bracketed sender", "Subject: s\r\n\r\nx\r\n", "<alice@example.org>", "alice@example.org"},
        {"unparseable From", "From: ,,,\r\n\r\nx\r\n", "alice@example.org", "alice@example.org"},
        {"no From, null sender", "Subject: s\r\n\r\nx\r\n", "<>", "(absent)"},
        {"no From, empty sender", "Subject: s\r\n\r\nx\r\n", "", "(absent)"},
        {"From in a group", "From: team: Alice <alice@example.org>;\r\n\r\nx\r\n", "", "Alice <alice@example.org>"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Resent r = resend(c.original, c.envelope_sender);
        ASSERT_NE(r.message, nullptr);
        EXPECT_EQ(header(r.message.get(), "Reply-To"), c.want);
    }
}

TEST(ComposeResend, MalformedOriginalsStillMakeAMessage)
{
    const std::string long_line = "From: a@example.org\r\n\r\n" + std::string(5000, 'x') + "\r\n";
    static constexpr char kWithNul[] = "From: a@example.org\r\n\r\nnul\0here\r\n";
    struct Case {
        const char* name;
        std::string original;
        std::string want_type;  // of the attachment; "" for none
    };
    const std::vector<Case> cases = {
        {"sample with 8-bit junk", sesame::testdata::read("mime-malformed.eml"), "message/rfc822"},
        {"no header at all", "just some text\nwithout any header\n", "application/octet-stream"},
        {"starts with a blank line", "\r\nbody only\r\n", "application/octet-stream"},
        {"NUL bytes", std::string(kWithNul, sizeof kWithNul - 1), "application/octet-stream"},
        {"bare CR", "From: a@example.org\r\n\r\nbare\rCR\r\n", "application/octet-stream"},
        {"line over 998", long_line, "application/octet-stream"},
        {"mbox From line", "From alice@example.org Mon May 12 09:14:00 2025\nFrom: a@example.org\n\nx\n",
         "application/octet-stream"},
        {"binary", bytes_0_to_255(), "application/octet-stream"},
        {"headers only, no newline", "From: a@example.org", "message/rfc822"},
        {"unterminated multipart", "From: a@example.org\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nx",
         "message/rfc822"},
        {"empty", "", ""},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Resent r;
        ASSERT_NO_THROW(r = resend(c.original, "sender@example.org"));
        ASSERT_NE(r.message, nullptr);
        EXPECT_EQ(header(r.message.get(), "X-Sesame-Processed"), "forwarded");
        EXPECT_EQ(addresses(g_mime_message_get_to(r.message.get())).size(), 2u);
        ASSERT_NE(r.intro, nullptr);
        if (c.want_type.empty()) {
            EXPECT_EQ(r.original, nullptr);
            EXPECT_NE(text_of(r.intro).find("was empty"), std::string::npos);
            continue;
        }
        ASSERT_NE(r.original, nullptr);
        EXPECT_EQ(mime_type(r.original), c.want_type);
        if (c.want_type == "message/rfc822") {
            EXPECT_NE(r.raw.find(with_crlf(c.original)), std::string::npos) << "original not embedded unchanged";
        } else {
            EXPECT_TRUE(decoded(r.original) == c.original) << "attached file differs from the original";
        }
        EXPECT_TRUE(read_message(r.raw, kMarker).has_marker);
    }
}

// --------------------------------------------------------- header on top

TEST(ComposeHeaderOnTop, Table)
{
    struct Case {
        const char* name;
        std::string original, header_name, value, want;
    };
    const std::vector<Case> cases = {
        {"CRLF message", "From: a@x\r\n\r\nbody\r\n", "X-Sesame-Processed", "redirected",
         "X-Sesame-Processed: redirected\r\nFrom: a@x\r\n\r\nbody\r\n"},
        {"LF message", "From: a@x\n\nbody\n", "X-Sesame-Processed", "redirected",
         "X-Sesame-Processed: redirected\nFrom: a@x\n\nbody\n"},
        {"first line decides", "From: a@x\nTo: b@x\r\n\r\n", "X-A", "1", "X-A: 1\nFrom: a@x\nTo: b@x\r\n\r\n"},
        {"empty original", "", "X-A", "1", "X-A: 1\r\n"},
        {"no line end at all", "From: a@x", "X-A", "1", "X-A: 1\r\nFrom: a@x"},
        {"starts with LF", "\nbody", "X-A", "1", "X-A: 1\n\nbody"},
        {"empty value", "From: a@x\r\n", "X-A", "", "X-A:\r\nFrom: a@x\r\n"},
        {"name with colon and blanks", "From: a@x\r\n", " X-A: ", " v", "X-A: v\r\nFrom: a@x\r\n"},
        {"value with line breaks", "From: a@x\r\n", "X-A", "v\r\nBcc: evil@x", "X-A: v  Bcc: evil@x\r\nFrom: a@x\r\n"},
        {"invalid name inserts nothing", "From: a@x\r\n", "Bad Name", "v", "From: a@x\r\n"},
        {"empty name inserts nothing", "From: a@x\r\n", "", "v", "From: a@x\r\n"},
        {"8-bit value kept", "From: a@x\r\n", "X-A", "Grüße", "X-A: Grüße\r\nFrom: a@x\r\n"},
    };
    for (const Case& c : cases) {
        std::string got = add_header_on_top(c.original, c.header_name, c.value);
        EXPECT_EQ(got, c.want) << c.name << "\n   got: " << ::testing::PrintToString(got)
                               << "\n  want: " << ::testing::PrintToString(c.want);
    }
}

TEST(ComposeHeaderOnTop, OriginalBytesUntouched)
{
    // Binary junk, NULs, bare CRs and 8-bit bytes after the first line: all kept.
    std::string original = "DKIM-Signature: v=1; a=rsa-sha256; b=abc\r\n\tdef\r\nFrom:  odd   spacing \r\n\r\n";
    original += bytes_0_to_255();
    original += with_crlf(sesame::testdata::read("compose-original.eml"));
    for (std::string_view eol : {"\r\n", "\n"}) {
        std::string o = original;
        if (eol == "\n") o = with_lf(o);
        const std::string line = "X-Sesame-Processed: redirected" + std::string(eol);
        std::string got = add_header_on_top(o, "X-Sesame-Processed", "redirected");
        ASSERT_EQ(got.size(), line.size() + o.size());
        EXPECT_EQ(got.compare(0, line.size(), line), 0) << got.substr(0, line.size());
        EXPECT_EQ(std::memcmp(got.data() + line.size(), o.data(), o.size()), 0);
        EXPECT_TRUE(read_message(got, kMarker).has_marker);
    }
}
