// notification.cpp - the SQS body of an SES inbound queue, read with
// nlohmann::json.
//
// The formats, as AWS documents them:
//   * SNS envelope (SNS -> SQS without raw message delivery): an object with
//     "Type" ("Notification", "SubscriptionConfirmation",
//     "UnsubscribeConfirmation"), "MessageId", "TopicArn", "Message" (a JSON
//     *string*), "Timestamp", optional "Subject", signature fields.
//   * raw message delivery: the body is the SNS Message itself.
//   * the SES receipt notification (the Message): "notificationType"
//     "Received", "mail" {timestamp, source, messageId, destination, headers,
//     commonHeaders {subject, ...}}, "receipt" {recipients, verdicts,
//     action {type "S3", topicArn, bucketName, objectKeyPrefix, objectKey}}.
//
// The rules, checked in this order:
//   1. empty, over kMaxBodyBytes, not JSON (a raw NUL byte included), not a
//      JSON object, nested deeper than kMaxDepth, or with a key twice in one
//      object: malformed. (Two
//      "bucketName" keys would leave what we read to the parser's whim; no
//      AWS service writes them.) A body that is not JSON but mentions
//      AMAZON_SES_SETUP_NOTIFICATION is the setup message: acknowledged.
//   2. an object with "Type" is an SNS envelope. SubscriptionConfirmation
//      and UnsubscribeConfirmation: acknowledged (SQS subscriptions are
//      confirmed by SNS itself). Notification: "MessageId" and "Message" must
//      be strings, "TopicArn", "Timestamp", "Subject" strings (or null) when
//      present; the SNS Subject "Amazon SES Email Receipt Subscription
//      Notification" is the setup message (acknowledged); otherwise the
//      Message is read as an SES notification, by the rules of 1 and 3 (a
//      Message that is plain text is acknowledged when it is a setup message
//      - it mentions AMAZON_SES_SETUP_NOTIFICATION or is the event-publishing
//      "Successfully validated SNS topic for Amazon SES ..." - and malformed
//      otherwise). Any other Type: malformed.
//   3. an object without "Type" is an SES notification. notificationType
//      must be a string. Bounce, Complaint, Delivery, DeliveryDelay and
//      AmazonSnsSubscriptionSucceeded are acknowledged; so is an
//      event-publishing record ("eventType" instead of notificationType).
//      An unknown type is malformed: nothing we do not understand is deleted.
//   4. Received: "mail" and "receipt" objects. mail.messageId (or the last
//      path segment of receipt.action.objectKey) AMAZON_SES_SETUP_NOTIFICATION
//      is the setup message: acknowledged. Otherwise receipt.action.type must
//      be "S3" (an SNS action carries the mail inline, which Sesame does not
//      take), bucketName, objectKey and mail.messageId non-empty strings,
//      mail.source a string (empty for the null sender), receipt.recipients
//      an array of 1 to kMaxRecipients non-empty strings. Every string read
//      is at most kMaxFieldBytes and holds no control character (a CR LF in
//      a recipient would reach an SMTP command). mail.timestamp,
//      mail.commonHeaders.subject and the verdicts' status are optional but
//      must be strings when present; the subject alone is cleaned and cut
//      rather than refused.
// Nothing here throws but std::bad_alloc: the parser's own exceptions are
// caught where they are raised, and every other access checks types first.
#include "aws/ingest/notification.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <unordered_set>
#include <utility>

#include "policy/text/ascii.hpp"

namespace sesame::ingest {
namespace {

using json = nlohmann::json;

constexpr std::string_view kSetupSubject = "Amazon SES Email Receipt Subscription Notification";
constexpr std::string_view kEventPublishingSetup = "Successfully validated SNS topic for Amazon SES";
constexpr std::size_t kQuoteMax = 40;

// Notification types that carry no mail; acknowledged.
constexpr std::string_view kHousekeepingTypes[] = {"Bounce", "Complaint", "Delivery", "DeliveryDelay",
                                                   "AmazonSnsSubscriptionSucceeded"};

bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

bool has_control(std::string_view s)
{
    return std::any_of(s.begin(), s.end(), [](char c) { return is_control(static_cast<unsigned char>(c)); });
}

std::string_view trim_ws(std::string_view s)
{
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && ws(s.back())) s.remove_suffix(1);
    return s;
}

// A short excerpt of S in double quotes, safe for a log line: printable
// ASCII kept, anything else '?', at most kQuoteMax bytes.
std::string quote(std::string_view s)
{
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < kQuoteMax; ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? static_cast<char>(c) : '?';
    }
    out += s.size() > kQuoteMax ? "...\"" : "\"";
    return out;
}

// True when no array or object in TEXT (strings skipped) nests deeper than
// LIMIT. Checked before parsing, so depth costs nothing but this scan.
bool nesting_within(std::string_view text, int limit)
{
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

// Parses TEXT (named WHAT in reasons) into OUT; returns "" or the reason.
// Depth, duplicate keys, invalid UTF-8 and syntax are all refused here.
std::string parse_json(std::string_view text, std::string_view what, json& out)
{
    // nlohmann's lexer takes a NUL byte for the end of input, so
    // "{...}\0anything" would pass; JSON has no raw NUL, not even in strings.
    if (text.find('\0') != std::string_view::npos) return std::string(what) + " contains a NUL byte";
    if (!nesting_within(text, kMaxDepth))
        return std::string(what) + " nests deeper than " + std::to_string(kMaxDepth) + " levels";

    // One key set per object being read; a key seen twice is refused.
    std::vector<std::unordered_set<std::string>> open;
    bool duplicate = false;
    std::string duplicate_key;
    auto track = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
                open.emplace_back();
                break;
            case json::parse_event_t::object_end:
                if (!open.empty()) open.pop_back();
                break;
            case json::parse_event_t::key:
                if (!open.empty() && parsed.is_string() &&
                    !open.back().insert(parsed.get_ref<const std::string&>()).second && !duplicate) {
                    duplicate = true;
                    duplicate_key = parsed.get_ref<const std::string&>();
                }
                break;
            default:
                break;
        }
        return true;
    };
    try {
        out = json::parse(text.begin(), text.end(), track, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    } catch (const json::parse_error& e) {
        return std::string(what) + " is not valid JSON (at byte " + std::to_string(e.byte) + ")";
    } catch (const json::exception& e) {
        // out_of_range: a number too large for a double.
        return std::string(what) + " is not valid JSON (error " + std::to_string(e.id) + ")";
    }
    if (duplicate) return std::string(what) + " has the key " + quote(duplicate_key) + " twice in one object";
    if (!out.is_object()) return std::string(what) + " is not a JSON object";
    return {};
}

// OBJ[KEY], or null when OBJ is not an object or has no KEY.
const json* member(const json& obj, std::string_view key)
{
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

bool present(const json* v)
{
    return v != nullptr && !v->is_null();
}

enum class Need { required, optional };
enum class Empty { refused, allowed };

// Reads OBJ[KEY] (called PATH in reasons) as a string into OUT; returns ""
// or the reason. An optional field that is absent or null leaves OUT empty.
std::string read_string(const json& obj, std::string_view key, std::string_view path, Need need, Empty empty,
                        std::string& out)
{
    const json* v = member(obj, key);
    if (!present(v)) return need == Need::required ? std::string(path) + " missing" : std::string();
    if (!v->is_string()) return std::string(path) + " is not a string";
    const std::string& s = v->get_ref<const std::string&>();
    if (s.empty() && empty == Empty::refused) return std::string(path) + " is empty";
    if (s.size() > kMaxFieldBytes)
        return std::string(path) + " is longer than " + std::to_string(kMaxFieldBytes) + " bytes";
    if (has_control(s)) return std::string(path) + " contains a control character";
    out = s;
    return {};
}

// The subject for logs: control characters become spaces, and it is cut at
// a UTF-8 character boundary to kMaxFieldBytes (the parser has already
// refused invalid UTF-8).
std::string clean_subject(const std::string& s)
{
    std::string out = s.substr(0, std::min(s.size(), kMaxFieldBytes));
    if (out.size() < s.size())
        while (!out.empty() && (static_cast<unsigned char>(s[out.size()]) & 0xC0) == 0x80) out.pop_back();
    for (char& c : out)
        if (is_control(static_cast<unsigned char>(c))) c = ' ';
    return out;
}

// The last '/'-separated segment of KEY.
std::string_view last_segment(std::string_view key)
{
    std::size_t slash = key.rfind('/');
    return slash == std::string_view::npos ? key : key.substr(slash + 1);
}

Notification malformed(std::string reason)
{
    Notification n;
    n.kind = Notification::Kind::malformed;
    n.reason = std::move(reason);
    return n;
}

Notification acknowledge(std::string reason)
{
    Notification n;
    n.kind = Notification::Kind::acknowledge;
    n.reason = std::move(reason);
    return n;
}

Notification setup_notification()
{
    return acknowledge("SES setup notification (" + std::string(kSesSetupNotification) + ")");
}

// A Received notification (rule 4).
Notification read_received(const json& ses, std::string sns_message_id)
{
    const json* mail = member(ses, "mail");
    const json* receipt = member(ses, "receipt");
    if (!present(mail)) return malformed("mail missing");
    if (!mail->is_object()) return malformed("mail is not an object");
    if (!present(receipt)) return malformed("receipt missing");
    if (!receipt->is_object()) return malformed("receipt is not an object");
    const json* action = member(*receipt, "action");

    // The setup message first: it need not have recipients.
    const json* mid = member(*mail, "messageId");
    if (mid != nullptr && mid->is_string() && mid->get_ref<const std::string&>() == kSesSetupNotification)
        return setup_notification();
    const json* key = action != nullptr ? member(*action, "objectKey") : nullptr;
    if (key != nullptr && key->is_string() && last_segment(key->get_ref<const std::string&>()) == kSesSetupNotification)
        return setup_notification();

    if (!present(action)) return malformed("receipt.action missing");
    if (!action->is_object()) return malformed("receipt.action is not an object");
    std::string type;
    std::string err = read_string(*action, "type", "receipt.action.type", Need::required, Empty::refused, type);
    if (!err.empty()) return malformed(std::move(err));
    if (type != "S3")
        return malformed("receipt.action.type is " + quote(type) + ", not \"S3\" (Sesame reads the mail from S3 only)");

    Notification n;
    SesReceipt& r = n.receipt;
    r.sns_message_id = std::move(sns_message_id);
    struct Read {
        const json& obj;
        const char* key;
        const char* path;
        Need need;
        Empty empty;
        std::string& out;
    };
    for (const Read& f : {
             Read{*action, "bucketName", "receipt.action.bucketName", Need::required, Empty::refused, r.bucket},
             Read{*action, "objectKey", "receipt.action.objectKey", Need::required, Empty::refused, r.object_key},
             Read{*mail, "messageId", "mail.messageId", Need::required, Empty::refused, r.message_id},
             Read{*mail, "source", "mail.source", Need::required, Empty::allowed, r.source},
             Read{*mail, "timestamp", "mail.timestamp", Need::optional, Empty::allowed, r.timestamp},
         }) {
        if (!(err = read_string(f.obj, f.key, f.path, f.need, f.empty, f.out)).empty())
            return malformed(std::move(err));
    }

    const json* recipients = member(*receipt, "recipients");
    if (!present(recipients)) return malformed("receipt.recipients missing");
    if (!recipients->is_array()) return malformed("receipt.recipients is not an array");
    if (recipients->empty()) return malformed("receipt.recipients is empty");
    if (recipients->size() > kMaxRecipients)
        return malformed("receipt.recipients has " + std::to_string(recipients->size()) + " entries (at most " +
                         std::to_string(kMaxRecipients) + ")");
    r.recipients.reserve(recipients->size());
    for (std::size_t i = 0; i < recipients->size(); ++i) {
        const json& v = (*recipients)[i];
        std::string name = "receipt.recipients[" + std::to_string(i) + "]";
        if (!v.is_string()) return malformed(name + " is not a string");
        const std::string& s = v.get_ref<const std::string&>();
        if (s.empty()) return malformed(name + " is empty");
        if (s.size() > kMaxFieldBytes)
            return malformed(name + " is longer than " + std::to_string(kMaxFieldBytes) + " bytes");
        if (has_control(s)) return malformed(name + " contains a control character");
        r.recipients.push_back(s);
    }

    // Optional, informational fields: the documented type or nothing.
    const json* common = member(*mail, "commonHeaders");
    if (present(common)) {
        if (!common->is_object()) return malformed("mail.commonHeaders is not an object");
        const json* subject = member(*common, "subject");
        if (present(subject)) {
            if (!subject->is_string()) return malformed("mail.commonHeaders.subject is not a string");
            r.subject = clean_subject(subject->get_ref<const std::string&>());
        }
    }
    for (auto [field, out] : {std::pair{"spamVerdict", &r.spam_verdict}, std::pair{"virusVerdict", &r.virus_verdict}}) {
        const json* verdict = member(*receipt, field);
        if (!present(verdict)) continue;
        std::string name = std::string("receipt.") + field;
        if (!verdict->is_object()) return malformed(name + " is not an object");
        if (!(err = read_string(*verdict, "status", name + ".status", Need::optional, Empty::allowed, *out)).empty())
            return malformed(std::move(err));
    }

    n.kind = Notification::Kind::received;
    return n;
}

// A parsed SES notification (rules 3 and 4).
Notification read_ses(const json& ses, std::string sns_message_id)
{
    const json* type = member(ses, "notificationType");
    if (!present(type)) {
        const json* event = member(ses, "eventType");
        if (present(event) && event->is_string())
            return acknowledge("SES " + quote(event->get_ref<const std::string&>()) + " event, not a receipt");
        return malformed("notificationType missing");
    }
    if (!type->is_string()) return malformed("notificationType is not a string");
    const std::string& t = type->get_ref<const std::string&>();
    if (t == "Received") return read_received(ses, std::move(sns_message_id));
    for (std::string_view known : kHousekeepingTypes)
        if (t == known) return acknowledge("SES " + t + " notification, not a receipt");
    return malformed("notificationType " + quote(t) + " is not one Sesame knows");
}

// TEXT that is not a JSON object (WHAT is "body" or "Message"): only the
// setup messages are expected as plain text (rules 1 and 2).
Notification read_plain_text(std::string_view text, std::string_view what)
{
    std::string_view trimmed = trim_ws(text);
    if (trimmed.empty()) return malformed(std::string(what) + " is empty");
    if (text.find(kSesSetupNotification) != std::string_view::npos) return setup_notification();
    if (trimmed.substr(0, kEventPublishingSetup.size()) == kEventPublishingSetup)
        return acknowledge("SES event-publishing setup message");
    return malformed(std::string(what) + " is not a JSON object");
}

// An SNS envelope (rule 2).
Notification read_envelope(const json& sns)
{
    const json* type = member(sns, "Type");
    if (type == nullptr || !type->is_string()) return malformed("Type is not a string");
    const std::string& t = type->get_ref<const std::string&>();
    if (t == "SubscriptionConfirmation" || t == "UnsubscribeConfirmation")
        return acknowledge("SNS " + t + " (nothing to deliver)");
    if (t != "Notification") return malformed("Type " + quote(t) + " is not an SNS message type");

    std::string message_id;
    std::string err = read_string(sns, "MessageId", "MessageId", Need::required, Empty::refused, message_id);
    if (!err.empty()) return malformed(std::move(err));
    for (const char* key : {"TopicArn", "Timestamp", "Subject"}) {
        const json* v = member(sns, key);
        if (present(v) && !v->is_string()) return malformed(std::string(key) + " is not a string");
    }
    const json* subject = member(sns, "Subject");
    if (present(subject) && subject->get_ref<const std::string&>() == kSetupSubject) return setup_notification();

    const json* message = member(sns, "Message");
    if (!present(message)) return malformed("Message missing");
    if (!message->is_string()) return malformed("Message is not a string");
    const std::string& text = message->get_ref<const std::string&>();
    if (trim_ws(text).substr(0, 1) != "{") return read_plain_text(text, "Message");
    json ses;
    if (!(err = parse_json(text, "Message", ses)).empty()) return malformed(std::move(err));
    return read_ses(ses, std::move(message_id));
}

}  // namespace

Notification parse_notification(std::string_view body)
{
    if (body.size() > kMaxBodyBytes)
        return malformed("body is " + std::to_string(body.size()) + " bytes (at most " + std::to_string(kMaxBodyBytes) +
                         ")");
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // a UTF-8 byte order mark
    if (trim_ws(body).substr(0, 1) != "{") return read_plain_text(body, "body");

    json top;
    if (std::string err = parse_json(body, "body", top); !err.empty()) return malformed(std::move(err));
    if (member(top, "Type") != nullptr) return read_envelope(top);
    return read_ses(top, {});  // raw message delivery: the body is the SES notification
}

std::string foreign_recipient(std::string_view recipient, std::string_view domain)
{
    const auto at = recipient.rfind('@');
    if (at == std::string_view::npos) return "not in the queue's domain " + std::string(domain);
    if (!text::iequals(recipient.substr(at + 1), domain)) return "not in the queue's domain " + std::string(domain);
    if (recipient.substr(0, at).find_first_of("%!@") != std::string_view::npos)
        return "routing character ('%', '!' or '@') in the local part";
    return "";
}

const char* to_string(Notification::Kind kind)
{
    switch (kind) {
        case Notification::Kind::received:
            return "received";
        case Notification::Kind::acknowledge:
            return "acknowledge";
        case Notification::Kind::malformed:
            return "malformed";
    }
    return "unknown";
}

}  // namespace sesame::ingest
