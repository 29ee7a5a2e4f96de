// ingest_notification_test.cpp - parse_notification() on the samples in
// tests/data/ses/*.json and on hostile bodies.
//
// Every case is a row of a got/want table: the body (a sample file, or a
// sample changed by a small function, or bytes written here), the kind and
// the exact reason wanted, and for a received notification the receipt
// fields. A failing row prints what it got next to what it wanted. Reasons
// are compared whole because the daemon logs them and operators grep them;
// a reason ending in '*' is compared as a prefix. Every result, of every
// case and of a few thousand random mutations of the samples, is also
// checked against the promises any caller relies on (expect_sane).
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws/ingest/notification.hpp"
#include "tests/unit/test_text.hpp"

using nlohmann::json;
using sesame::ingest::kMaxBodyBytes;
using sesame::ingest::kMaxFieldBytes;
using sesame::ingest::Notification;
using sesame::ingest::parse_notification;
using sesame::ingest::SesReceipt;
using Kind = sesame::ingest::Notification::Kind;

namespace {

json sample_json(const std::string& name)
{
    return json::parse(sesame::testdata::read("ses/" + name));
}

// received-raw.json changed by EDIT, as a raw-delivery body.
std::string raw_with(const std::function<void(json&)>& edit)
{
    json j = sample_json("received-raw.json");
    edit(j);
    return j.dump();
}

// The SNS envelope of received-sns.json around MESSAGE (any JSON value; a
// string is the usual case).
std::string sns_with_message(const json& message)
{
    json env = sample_json("received-sns.json");
    env["Message"] = message;
    return env.dump();
}

// received-sns.json with its envelope changed by EDIT.
std::string sns_with(const std::function<void(json&)>& edit)
{
    json env = sample_json("received-sns.json");
    edit(env);
    return env.dump();
}

// received-sns.json with the SES notification inside changed by EDIT.
std::string sns_message_with(const std::function<void(json&)>& edit)
{
    json env = sample_json("received-sns.json");
    json ses = json::parse(env["Message"].get<std::string>());
    edit(ses);
    env["Message"] = ses.dump();
    return env.dump();
}

std::string nested(int depth, char open, char close)
{
    return std::string(static_cast<std::size_t>(depth), open) + std::string(static_cast<std::size_t>(depth), close);
}

using sesame::testdata::show;

const char* show(Kind k)
{
    return sesame::ingest::to_string(k);
}

// The promises every result keeps, whatever the input.
void expect_sane(const Notification& n, std::string_view body)
{
    auto clean = [](std::string_view s) {
        for (char c : s)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
        return true;
    };
    EXPECT_FALSE(n.reason.empty() && n.kind != Kind::received) << "no reason for " << show(n.kind);
    EXPECT_TRUE(clean(n.reason)) << "reason with a control character: " << n.reason;
    EXPECT_LT(n.reason.size(), 400u) << n.reason;
    if (n.kind != Kind::received) return;
    const SesReceipt& r = n.receipt;
    EXPECT_FALSE(r.message_id.empty());
    EXPECT_FALSE(r.bucket.empty());
    EXPECT_FALSE(r.object_key.empty());
    EXPECT_FALSE(r.recipients.empty());
    EXPECT_LE(r.recipients.size(), sesame::ingest::kMaxRecipients);
    for (const std::string& a : r.recipients) {
        EXPECT_FALSE(a.empty());
        EXPECT_TRUE(clean(a)) << a;
        EXPECT_LE(a.size(), kMaxFieldBytes);
    }
    for (std::string_view s :
         {std::string_view(r.source), std::string_view(r.message_id), std::string_view(r.timestamp),
          std::string_view(r.bucket), std::string_view(r.object_key), std::string_view(r.subject),
          std::string_view(r.sns_message_id), std::string_view(r.spam_verdict), std::string_view(r.virus_verdict)}) {
        EXPECT_TRUE(clean(s)) << s;
        EXPECT_LE(s.size(), kMaxFieldBytes);
    }
    EXPECT_LE(body.size(), kMaxBodyBytes);
}

struct Case {
    std::string name;
    std::string body;
    Kind kind;
    std::string reason;       // exact, or a prefix when it ends in '*'
    SesReceipt receipt = {};  // compared when kind == received
};

void expect_case(const Case& c)
{
    SCOPED_TRACE(c.name);
    Notification got;
    EXPECT_NO_THROW(got = parse_notification(c.body));
    expect_sane(got, c.body);
    EXPECT_EQ(got.kind, c.kind) << "kind\n   got: " << show(got.kind) << " (" << got.reason
                                << ")\n  want: " << show(c.kind);
    if (!c.reason.empty() && c.reason.back() == '*') {
        std::string prefix = c.reason.substr(0, c.reason.size() - 1);
        EXPECT_EQ(got.reason.substr(0, prefix.size()), prefix)
            << "reason\n   got: " << got.reason << "\n  want: " << c.reason;
    } else {
        EXPECT_EQ(got.reason, c.reason) << "reason\n   got: " << got.reason << "\n  want: " << c.reason;
    }
    if (c.kind != Kind::received || got.kind != Kind::received) return;
    const SesReceipt& g = got.receipt;
    const SesReceipt& w = c.receipt;
#define SESAME_EXPECT_FIELD(f) EXPECT_EQ(g.f, w.f) << #f << "\n   got: " << g.f << "\n  want: " << w.f
    SESAME_EXPECT_FIELD(source);
    SESAME_EXPECT_FIELD(message_id);
    SESAME_EXPECT_FIELD(timestamp);
    SESAME_EXPECT_FIELD(bucket);
    SESAME_EXPECT_FIELD(object_key);
    SESAME_EXPECT_FIELD(subject);
    SESAME_EXPECT_FIELD(sns_message_id);
    SESAME_EXPECT_FIELD(spam_verdict);
    SESAME_EXPECT_FIELD(virus_verdict);
#undef SESAME_EXPECT_FIELD
    EXPECT_EQ(g.recipients, w.recipients)
        << "recipients\n   got: " << show(g.recipients) << "\n  want: " << show(w.recipients);
}

const std::string kSesId = "o3vdrc5pl1b0eqp5q6o1uoqbu4b5k1l7vtmsvp81";

// What received-sns.json holds.
SesReceipt sns_receipt()
{
    SesReceipt r;
    r.source = "carol@example.net";
    r.message_id = kSesId;
    r.timestamp = "2024-05-14T09:21:07.114Z";
    r.recipients = {"alice@example.com", "bob@example.com"};
    r.bucket = "sesame-inbound-example";
    r.object_key = "incoming/" + kSesId;
    r.subject = "Quarterly report, second draft";
    r.sns_message_id = "b7e5c1a2-3d4f-5a6b-9c8d-7e6f5a4b3c2d";
    r.spam_verdict = "PASS";
    r.virus_verdict = "PASS";
    return r;
}

// What received-raw.json holds.
SesReceipt raw_receipt()
{
    SesReceipt r = sns_receipt();
    r.recipients = {"alice@example.com"};
    r.sns_message_id.clear();
    return r;
}

SesReceipt with(SesReceipt r, const std::function<void(SesReceipt&)>& edit)
{
    edit(r);
    return r;
}

TEST(IngestNotification, Samples)
{
    const std::vector<Case> cases = {
        {"received-sns.json", sesame::testdata::read("ses/received-sns.json"), Kind::received, "", sns_receipt()},
        {"received-raw.json", sesame::testdata::read("ses/received-raw.json"), Kind::received, "", raw_receipt()},
        {"subscription-confirmation.json", sesame::testdata::read("ses/subscription-confirmation.json"),
         Kind::acknowledge, "SNS SubscriptionConfirmation (nothing to deliver)"},
        {"unsubscribe-confirmation.json", sesame::testdata::read("ses/unsubscribe-confirmation.json"),
         Kind::acknowledge, "SNS UnsubscribeConfirmation (nothing to deliver)"},
        {"setup-notification.json", sesame::testdata::read("ses/setup-notification.json"), Kind::acknowledge,
         "SES setup notification (AMAZON_SES_SETUP_NOTIFICATION)"},
        {"setup-notification-raw.json", sesame::testdata::read("ses/setup-notification-raw.json"), Kind::acknowledge,
         "SES setup notification (AMAZON_SES_SETUP_NOTIFICATION)"},
        {"bounce-notification.json", sesame::testdata::read("ses/bounce-notification.json"), Kind::acknowledge,
         "SES Bounce notification, not a receipt"},
        {"malformed-sns-action.json", sesame::testdata::read("ses/malformed-sns-action.json"), Kind::malformed,
         "receipt.action.type is \"SNS\", not \"S3\" (Sesame reads the mail from S3 only)"},
        {"malformed-missing-bucket.json", sesame::testdata::read("ses/malformed-missing-bucket.json"), Kind::malformed,
         "receipt.action.bucketName missing"},
        {"malformed-message-object.json", sesame::testdata::read("ses/malformed-message-object.json"), Kind::malformed,
         "Message is not a string"},
        {"malformed-recipient-number.json", sesame::testdata::read("ses/malformed-recipient-number.json"),
         Kind::malformed, "receipt.recipients[1] is not a string"},
        {"malformed-notification-type-missing.json",
         sesame::testdata::read("ses/malformed-notification-type-missing.json"), Kind::malformed,
         "notificationType missing"},
    };
    for (const Case& c : cases) expect_case(c);
}

TEST(IngestNotification, Housekeeping)
{
    const std::vector<Case> cases = {
        {"SNS Subject of the setup message",
         sns_with([](json& j) { j["Subject"] = "Amazon SES Email Receipt Subscription Notification"; }),
         Kind::acknowledge, "SES setup notification (AMAZON_SES_SETUP_NOTIFICATION)"},
        {"setup by object key alone",
         raw_with([](json& j) { j["receipt"]["action"]["objectKey"] = "incoming/AMAZON_SES_SETUP_NOTIFICATION"; }),
         Kind::acknowledge, "SES setup notification (AMAZON_SES_SETUP_NOTIFICATION)"},
        {"setup message as plain text in Message",
         sns_with_message("Amazon SES has stored AMAZON_SES_SETUP_NOTIFICATION in your bucket"), Kind::acknowledge,
         "SES setup notification (AMAZON_SES_SETUP_NOTIFICATION)"},
        {"setup message as the whole raw body", "AMAZON_SES_SETUP_NOTIFICATION", Kind::acknowledge,
         "SES setup notification (AMAZON_SES_SETUP_NOTIFICATION)"},
        {"setup message as a JSON string", "\"AMAZON_SES_SETUP_NOTIFICATION\"", Kind::acknowledge,
         "SES setup notification (AMAZON_SES_SETUP_NOTIFICATION)"},
        {"event-publishing setup",
         sns_with_message("Successfully validated SNS topic for Amazon SES event publishing."), Kind::acknowledge,
         "SES event-publishing setup message"},
        {"Complaint", sns_message_with([](json& j) { j["notificationType"] = "Complaint"; }), Kind::acknowledge,
         "SES Complaint notification, not a receipt"},
        {"Delivery", raw_with([](json& j) { j["notificationType"] = "Delivery"; }), Kind::acknowledge,
         "SES Delivery notification, not a receipt"},
        {"identity subscription succeeded",
         R"({"notificationType":"AmazonSnsSubscriptionSucceeded","message":"You have successfully subscribed."})",
         Kind::acknowledge, "SES AmazonSnsSubscriptionSucceeded notification, not a receipt"},
        {"event publishing record", R"({"eventType":"Send","mail":{"messageId":"x"},"send":{}})", Kind::acknowledge,
         "SES \"Send\" event, not a receipt"},
        // A mail that only talks about the setup message is still mail.
        {"subject naming the setup message",
         raw_with([](json& j) { j["mail"]["commonHeaders"]["subject"] = "AMAZON_SES_SETUP_NOTIFICATION"; }),
         Kind::received, "", with(raw_receipt(), [](SesReceipt& r) { r.subject = "AMAZON_SES_SETUP_NOTIFICATION"; })},
    };
    for (const Case& c : cases) expect_case(c);
}

TEST(IngestNotification, ReceivedVariants)
{
    const std::string long_subject = [] {
        std::string s;
        while (s.size() < 10000) s += "\xC3\xA9t\xC3\xA9 ";  // "été "
        return s;
    }();
    const std::vector<Case> cases = {
        {"null sender", raw_with([](json& j) { j["mail"]["source"] = ""; }), Kind::received, "",
         with(raw_receipt(), [](SesReceipt& r) { r.source = ""; })},
        {"bounce sender kept as given", raw_with([](json& j) { j["mail"]["source"] = "MAILER-DAEMON@amazonses.com"; }),
         Kind::received, "", with(raw_receipt(), [](SesReceipt& r) { r.source = "MAILER-DAEMON@amazonses.com"; })},
        {"optional fields absent", raw_with([](json& j) {
             j["mail"].erase("timestamp");
             j["mail"].erase("commonHeaders");
             j["receipt"].erase("spamVerdict");
             j["receipt"].erase("virusVerdict");
         }),
         Kind::received, "",
         with(raw_receipt(),
              [](SesReceipt& r) {
                  r.timestamp.clear();
                  r.subject.clear();
                  r.spam_verdict.clear();
                  r.virus_verdict.clear();
              })},
        {"optional fields null", raw_with([](json& j) {
             j["mail"]["timestamp"] = nullptr;
             j["mail"]["commonHeaders"]["subject"] = nullptr;
         }),
         Kind::received, "",
         with(raw_receipt(),
              [](SesReceipt& r) {
                  r.timestamp.clear();
                  r.subject.clear();
              })},
        {"SNS Subject null and absent", sns_with([](json& j) { j["Subject"] = nullptr; }), Kind::received, "",
         sns_receipt()},
        {"spam verdict FAIL passed on", raw_with([](json& j) { j["receipt"]["spamVerdict"]["status"] = "FAIL"; }),
         Kind::received, "", with(raw_receipt(), [](SesReceipt& r) { r.spam_verdict = "FAIL"; })},
        {"subject with control characters",
         raw_with([](json& j) { j["mail"]["commonHeaders"]["subject"] = "Hi\r\nBcc: x\tthere"; }), Kind::received, "",
         with(raw_receipt(), [](SesReceipt& r) { r.subject = "Hi  Bcc: x there"; })},
        {"long subject cut at a character boundary",
         raw_with([&](json& j) { j["mail"]["commonHeaders"]["subject"] = long_subject; }), Kind::received, "",
         with(raw_receipt(),
              [&](SesReceipt& r) {
                  r.subject = long_subject.substr(0, kMaxFieldBytes);
                  while ((static_cast<unsigned char>(long_subject[r.subject.size()]) & 0xC0) == 0x80)
                      r.subject.pop_back();
              })},
        {"exactly 1000 recipients", raw_with([](json& j) {
             json list = json::array();
             for (int i = 0; i < 1000; ++i) list.push_back("u" + std::to_string(i) + "@example.com");
             j["receipt"]["recipients"] = list;
         }),
         Kind::received, "",
         with(raw_receipt(),
              [](SesReceipt& r) {
                  r.recipients.clear();
                  for (int i = 0; i < 1000; ++i) r.recipients.push_back("u" + std::to_string(i) + "@example.com");
              })},
        {"300 KB of headers Sesame ignores", raw_with([](json& j) {
             for (int i = 0; i < 3000; ++i)
                 j["mail"]["headers"].push_back({{"name", "X-Padding"}, {"value", std::string(100, 'p')}});
         }),
         Kind::received, "", raw_receipt()},
        {"nesting of exactly 32 levels", raw_with([](json& j) { j["mail"]["x"] = json::parse(nested(30, '[', ']')); }),
         Kind::received, "", raw_receipt()},
        {"a field of exactly 4096 bytes",
         raw_with([](json& j) { j["receipt"]["action"]["objectKey"] = std::string(kMaxFieldBytes, 'k'); }),
         Kind::received, "",
         with(raw_receipt(), [](SesReceipt& r) { r.object_key = std::string(kMaxFieldBytes, 'k'); })},
        {"UTF-8 BOM and blanks around", "\xEF\xBB\xBF \n" + sesame::testdata::read("ses/received-raw.json") + "\n\n",
         Kind::received, "", raw_receipt()},
    };
    for (const Case& c : cases) expect_case(c);
}

TEST(IngestNotification, Hostile)
{
    const std::string raw = sesame::testdata::read("ses/received-raw.json");
    std::string invalid_utf8 = raw;
    invalid_utf8.replace(invalid_utf8.find("carol@example.net"), 5, "c\xFF\xFEol");
    std::string nul_in_json = raw;
    nul_in_json.replace(nul_in_json.find("alice@"), 1, std::string(1, '\0'));

    const std::vector<Case> cases = {
        // Framing.
        {"empty body", "", Kind::malformed, "body is empty"},
        {"blank body", " \r\n\t ", Kind::malformed, "body is empty"},
        {"body over the limit", std::string(kMaxBodyBytes + 1, ' '), Kind::malformed,
         "body is 1048577 bytes (at most 1048576)"},
        {"plain text", "hello", Kind::malformed, "body is not a JSON object"},
        {"JSON array", "[1,2]", Kind::malformed, "body is not a JSON object"},
        {"JSON number", "42", Kind::malformed, "body is not a JSON object"},
        {"JSON null", "null", Kind::malformed, "body is not a JSON object"},
        {"truncated", raw.substr(0, raw.size() / 2), Kind::malformed, "body is not valid JSON (at byte *"},
        {"trailing garbage", raw + "x", Kind::malformed, "body is not valid JSON (at byte *"},
        {"two documents", raw + raw, Kind::malformed, "body is not valid JSON (at byte *"},
        {"invalid UTF-8", invalid_utf8, Kind::malformed, "body is not valid JSON (at byte *"},
        {"raw NUL byte", nul_in_json, Kind::malformed, "body contains a NUL byte"},
        {"NUL then a second document", raw + std::string(1, '\0') + "{\"notificationType\":\"Bounce\"}",
         Kind::malformed, "body contains a NUL byte"},
        {"number overflow", R"({"notificationType":"Received","x":1e999})", Kind::malformed,
         "body is not valid JSON (*"},
        {"deep arrays", nested(100000, '[', ']'), Kind::malformed, "body is not a JSON object"},
        {"deep objects", "{" + std::string(100000, '{'), Kind::malformed, "body nests deeper than 32 levels"},
        {"deep arrays in an object", "{\"a\":" + nested(100000, '[', ']') + "}", Kind::malformed,
         "body nests deeper than 32 levels"},
        {"33 levels", raw_with([](json& j) { j["mail"]["x"] = json::parse(nested(31, '[', ']')); }), Kind::malformed,
         "body nests deeper than 32 levels"},
        {"brackets inside strings do not nest",
         raw_with([](json& j) { j["mail"]["x"] = nested(1000, '[', ']') + "\\\"{{{"; }), Kind::received, "",
         raw_receipt()},
        {"deep Message", sns_with_message("{\"a\":" + nested(1000, '[', ']') + "}"), Kind::malformed,
         "Message nests deeper than 32 levels"},
        {"duplicate key", R"({"notificationType":"Received","notificationType":"Bounce"})", Kind::malformed,
         "body has the key \"notificationType\" twice in one object"},
        {"duplicate bucketName",
         [&] {
             std::string s = raw;
             s.replace(s.find("\"bucketName\""), 0, "\"bucketName\": \"attacker-bucket\", ");
             return s;
         }(),
         Kind::malformed, "body has the key \"bucketName\" twice in one object"},
        {"same key in sibling objects is fine", R"({"notificationType":"Bounce","a":{"k":1},"b":{"k":2}})",
         Kind::acknowledge, "SES Bounce notification, not a receipt"},

        // The SNS envelope.
        {"Type a number", sns_with([](json& j) { j["Type"] = 1; }), Kind::malformed, "Type is not a string"},
        {"Type null", sns_with([](json& j) { j["Type"] = nullptr; }), Kind::malformed, "Type is not a string"},
        {"unknown Type", sns_with([](json& j) { j["Type"] = "Notification\r\nX"; }), Kind::malformed,
         "Type \"Notification??X\" is not an SNS message type"},
        {"MessageId missing", sns_with([](json& j) { j.erase("MessageId"); }), Kind::malformed, "MessageId missing"},
        {"MessageId a number", sns_with([](json& j) { j["MessageId"] = 12345; }), Kind::malformed,
         "MessageId is not a string"},
        {"TopicArn an object", sns_with([](json& j) { j["TopicArn"] = json::object(); }), Kind::malformed,
         "TopicArn is not a string"},
        {"Subject a number", sns_with([](json& j) { j["Subject"] = 7; }), Kind::malformed, "Subject is not a string"},
        {"Message missing", sns_with([](json& j) { j.erase("Message"); }), Kind::malformed, "Message missing"},
        {"Message a number", sns_with_message(3), Kind::malformed, "Message is not a string"},
        {"Message an array", sns_with_message(json::array({"x"})), Kind::malformed, "Message is not a string"},
        {"Message empty", sns_with_message(""), Kind::malformed, "Message is empty"},
        {"Message plain text", sns_with_message("hello"), Kind::malformed, "Message is not a JSON object"},
        {"Message bad JSON", sns_with_message("{\"notificationType\":"), Kind::malformed,
         "Message is not valid JSON (at byte *"},
        {"Message with a NUL after the object", sns_with_message(std::string("{\"a\":1}\0", 8)), Kind::malformed,
         "Message contains a NUL byte"},

        // The SES notification.
        {"notificationType a number", raw_with([](json& j) { j["notificationType"] = 5; }), Kind::malformed,
         "notificationType is not a string"},
        {"unknown notificationType", raw_with([](json& j) { j["notificationType"] = "received"; }), Kind::malformed,
         "notificationType \"received\" is not one Sesame knows"},
        {"mail missing", raw_with([](json& j) { j.erase("mail"); }), Kind::malformed, "mail missing"},
        {"mail a string", raw_with([](json& j) { j["mail"] = "x"; }), Kind::malformed, "mail is not an object"},
        {"receipt missing", raw_with([](json& j) { j.erase("receipt"); }), Kind::malformed, "receipt missing"},
        {"receipt an array", sns_message_with([](json& j) { j["receipt"] = json::array(); }), Kind::malformed,
         "receipt is not an object"},
        {"action missing", raw_with([](json& j) { j["receipt"].erase("action"); }), Kind::malformed,
         "receipt.action missing"},
        {"action a string", raw_with([](json& j) { j["receipt"]["action"] = "S3"; }), Kind::malformed,
         "receipt.action is not an object"},
        {"action type missing", raw_with([](json& j) { j["receipt"]["action"].erase("type"); }), Kind::malformed,
         "receipt.action.type missing"},
        {"Lambda action", raw_with([](json& j) { j["receipt"]["action"]["type"] = "Lambda"; }), Kind::malformed,
         "receipt.action.type is \"Lambda\", not \"S3\" (Sesame reads the mail from S3 only)"},
        {"bucketName a number", raw_with([](json& j) { j["receipt"]["action"]["bucketName"] = 42; }), Kind::malformed,
         "receipt.action.bucketName is not a string"},
        {"bucketName empty", raw_with([](json& j) { j["receipt"]["action"]["bucketName"] = ""; }), Kind::malformed,
         "receipt.action.bucketName is empty"},
        {"objectKey missing", sns_message_with([](json& j) { j["receipt"]["action"].erase("objectKey"); }),
         Kind::malformed, "receipt.action.objectKey missing"},
        {"objectKey of 300 KB",
         raw_with([](json& j) { j["receipt"]["action"]["objectKey"] = std::string(300 * 1024, 'k'); }), Kind::malformed,
         "receipt.action.objectKey is longer than 4096 bytes"},
        {"objectKey with a newline", raw_with([](json& j) { j["receipt"]["action"]["objectKey"] = "a\nb"; }),
         Kind::malformed, "receipt.action.objectKey contains a control character"},
        {"messageId missing", raw_with([](json& j) { j["mail"].erase("messageId"); }), Kind::malformed,
         "mail.messageId missing"},
        {"messageId a number", raw_with([](json& j) { j["mail"]["messageId"] = 123456789; }), Kind::malformed,
         "mail.messageId is not a string"},
        {"messageId true", raw_with([](json& j) { j["mail"]["messageId"] = true; }), Kind::malformed,
         "mail.messageId is not a string"},
        {"source missing", raw_with([](json& j) { j["mail"].erase("source"); }), Kind::malformed,
         "mail.source missing"},
        {"source null", raw_with([](json& j) { j["mail"]["source"] = nullptr; }), Kind::malformed,
         "mail.source missing"},
        {"source a number", raw_with([](json& j) { j["mail"]["source"] = 0; }), Kind::malformed,
         "mail.source is not a string"},
        {"timestamp a number", raw_with([](json& j) { j["mail"]["timestamp"] = 1715678467; }), Kind::malformed,
         "mail.timestamp is not a string"},
        {"recipients missing", raw_with([](json& j) { j["receipt"].erase("recipients"); }), Kind::malformed,
         "receipt.recipients missing"},
        {"recipients an object", raw_with([](json& j) {
             j["receipt"]["recipients"] = {{"a", "b@example.com"}};
         }),
         Kind::malformed, "receipt.recipients is not an array"},
        {"recipients a string", raw_with([](json& j) { j["receipt"]["recipients"] = "alice@example.com"; }),
         Kind::malformed, "receipt.recipients is not an array"},
        {"recipients empty", raw_with([](json& j) { j["receipt"]["recipients"] = json::array(); }), Kind::malformed,
         "receipt.recipients is empty"},
        {"recipient empty", raw_with([](json& j) { j["receipt"]["recipients"].push_back(""); }), Kind::malformed,
         "receipt.recipients[1] is empty"},
        {"recipient an array", raw_with([](json& j) { j["receipt"]["recipients"][0] = json::array({"a@b"}); }),
         Kind::malformed, "receipt.recipients[0] is not a string"},
        {"recipient null", raw_with([](json& j) { j["receipt"]["recipients"][0] = nullptr; }), Kind::malformed,
         "receipt.recipients[0] is not a string"},
        {"recipient with CR LF",
         raw_with([](json& j) { j["receipt"]["recipients"][0] = "alice@example.com>\r\nRCPT TO:<victim@example.net"; }),
         Kind::malformed, "receipt.recipients[0] contains a control character"},
        {"recipient with NUL", raw_with([](json& j) { j["receipt"]["recipients"][0] = std::string("a\0b@c", 5); }),
         Kind::malformed, "receipt.recipients[0] contains a control character"},
        {"recipient over 4 KB",
         raw_with([](json& j) { j["receipt"]["recipients"][0] = std::string(5000, 'a') + "@example.com"; }),
         Kind::malformed, "receipt.recipients[0] is longer than 4096 bytes"},
        {"1001 recipients", raw_with([](json& j) {
             json list = json::array();
             for (int i = 0; i < 1001; ++i) list.push_back("u" + std::to_string(i) + "@example.com");
             j["receipt"]["recipients"] = list;
         }),
         Kind::malformed, "receipt.recipients has 1001 entries (at most 1000)"},
        {"commonHeaders an array", raw_with([](json& j) { j["mail"]["commonHeaders"] = json::array(); }),
         Kind::malformed, "mail.commonHeaders is not an object"},
        {"subject a number", raw_with([](json& j) { j["mail"]["commonHeaders"]["subject"] = 3.5; }), Kind::malformed,
         "mail.commonHeaders.subject is not a string"},
        {"spamVerdict a string", raw_with([](json& j) { j["receipt"]["spamVerdict"] = "PASS"; }), Kind::malformed,
         "receipt.spamVerdict is not an object"},
        {"virusVerdict status a number", raw_with([](json& j) { j["receipt"]["virusVerdict"]["status"] = 1; }),
         Kind::malformed, "receipt.virusVerdict.status is not a string"},
        {"SNS action with inline content", raw_with([](json& j) {
             j["receipt"]["action"] = {
                 {"type", "SNS"}, {"topicArn", "arn:aws:sns:eu-west-1:1:t"}, {"encoding", "UTF-8"}};
             j["content"] = "From: a@b\r\n\r\nhi\r\n";
         }),
         Kind::malformed, "receipt.action.type is \"SNS\", not \"S3\" (Sesame reads the mail from S3 only)"},
        {"long hostile type quoted short", raw_with([](json& j) { j["notificationType"] = std::string(5000, 'Z'); }),
         Kind::malformed, "notificationType \"" + std::string(40, 'Z') + "...\" is not one Sesame knows"},
    };
    for (const Case& c : cases) expect_case(c);
}

// Random byte edits of every sample: whatever the result, the promises hold
// and nothing throws.
TEST(IngestNotification, MutatedSamplesKeepPromises)
{
    std::mt19937 rng(20240514);
    const char* files[] = {"received-sns.json", "received-raw.json", "setup-notification.json",
                           "bounce-notification.json", "subscription-confirmation.json"};
    const char alphabet[] = "{}[]\":,\\0123456789 aeZ\x00\x1f\x7f\xc3\xff";
    int received = 0;
    for (const char* file : files) {
        const std::string sample = sesame::testdata::read(std::string("ses/") + file);
        for (int round = 0; round < 600; ++round) {
            std::string body = sample;
            int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits && !body.empty(); ++e) {
                std::size_t at = rng() % body.size();
                switch (rng() % 3) {
                    case 0:
                        body[at] = alphabet[rng() % (sizeof alphabet - 1)];
                        break;
                    case 1:
                        body.erase(at, 1 + rng() % 8);
                        break;
                    default:
                        body.insert(at, 1, alphabet[rng() % (sizeof alphabet - 1)]);
                        break;
                }
            }
            SCOPED_TRACE(std::string(file) + " round " + std::to_string(round));
            Notification n;
            ASSERT_NO_THROW(n = parse_notification(body));
            expect_sane(n, body);
            received += n.kind == Kind::received;
        }
    }
    EXPECT_GT(received, 0);  // some edits land where nothing is read
}

TEST(IngestNotification, KindNames)
{
    EXPECT_STREQ(sesame::ingest::to_string(Kind::received), "received");
    EXPECT_STREQ(sesame::ingest::to_string(Kind::acknowledge), "acknowledge");
    EXPECT_STREQ(sesame::ingest::to_string(Kind::malformed), "malformed");
}

}  // namespace
