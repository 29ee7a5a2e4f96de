// notification.hpp - read what SQS hands the ingest daemon: an SES receipt
// notification, wrapped in an SNS envelope or (raw message delivery) not.
//
// parse_notification() takes the SQS message body and says what it is:
//   * an SES "Received" notification: the fields Sesame needs from `mail`
//     and `receipt` (source, messageId, recipients, the S3 action's bucket
//     and key, and the common headers it may use in logs);
//   * something to acknowledge without delivering: an SNS
//     SubscriptionConfirmation / UnsubscribeConfirmation, the SES setup
//     notification ("AMAZON_SES_SETUP_NOTIFICATION"), or an SES
//     notification of another type (Bounce, Complaint, Delivery);
//   * malformed: with a one-line reason (the daemon logs it with the SQS
//     message id and leaves the message for the redrive policy).
// Pure and thread-safe; never throws (only std::bad_alloc): every oddity of
// hostile input (wrong types, missing fields, huge or nested JSON, invalid
// UTF-8) ends as Kind::malformed with a reason.
//
// What is malformed and what is acknowledged (the rules in full are at the
// top of notification.cpp): a field Sesame reads that is missing or has the
// wrong JSON type, a Received notification whose action is not "S3", an
// unknown SNS Type or SES notificationType, duplicate keys, a body over
// kMaxBodyBytes, nesting deeper than kMaxDepth, more than kMaxRecipients
// recipients or a field over kMaxFieldBytes: malformed, so nothing Sesame
// does not understand is ever deleted. Only housekeeping that is known to
// carry no mail is acknowledged. A reason names the field by its JSON path
// ("receipt.action.bucketName missing") and quotes at most a short,
// printable-ASCII excerpt of hostile text, so it is safe to log.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sesame::ingest {

// Bounds on hostile input. SQS bodies are at most 1 MiB (256 KiB before
// 2025); SES notifications nest four levels deep.
inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
inline constexpr int kMaxDepth = 32;
inline constexpr std::size_t kMaxRecipients = 1000;
inline constexpr std::size_t kMaxFieldBytes = 4096;

// The object key and mail.messageId of the message SES writes when a
// receipt rule's S3 action is created; it is not mail.
inline constexpr std::string_view kSesSetupNotification = "AMAZON_SES_SETUP_NOTIFICATION";

struct SesReceipt {
    std::string source;                   // mail.source: the envelope sender ("" for <>)
    std::string message_id;               // mail.messageId: SES's id, the S3 key by default
    std::string timestamp;                // mail.timestamp, as given
    std::vector<std::string> recipients;  // receipt.recipients (those SES accepted for us)
    std::string bucket;                   // receipt.action.bucketName
    std::string object_key;               // receipt.action.objectKey
    std::string subject;                  // mail.commonHeaders.subject, if any (logs only)
    std::string sns_message_id;           // the SNS envelope's MessageId ("" when raw)
    std::string spam_verdict;             // receipt.spamVerdict.status ("PASS", "FAIL", ...; "" if absent)
    std::string virus_verdict;            // receipt.virusVerdict.status, likewise
};
// Every field but subject is as SES wrote it and holds no control character;
// subject has control characters turned into spaces and is cut (at a UTF-8
// character boundary) to kMaxFieldBytes, because a long or odd subject is
// the sender's doing and must not make a mail undeliverable.

struct Notification {
    enum class Kind { received, acknowledge, malformed };
    Kind kind = Kind::malformed;
    SesReceipt receipt;  // when kind == received
    std::string reason;  // acknowledge: what it was; malformed: what is wrong
};

// BODY is the SQS message body, as received. When the result is received,
// message_id, bucket, object_key and every recipient are non-empty, and
// there are 1 to kMaxRecipients recipients.
Notification parse_notification(std::string_view body);

const char* to_string(Notification::Kind kind);

// Why the ingest daemon of a queue for DOMAIN must not deliver to RECIPIENT
// (one of receipt.recipients), or "" when it may. A recipient is not ours
// when its domain (after the last '@', case-insensitively) is not DOMAIN, or
// when its local part holds a routing character ('%', '!' or '@'): Postfix
// rewrites user%host@DOMAIN, host!user@DOMAIN and user@host@DOMAIN to
// user@host when DOMAIN is in its mydestination, and the reinjection
// service relays for loopback, so delivering one would relay the mail to
// any host the sender chose. The reason is a short phrase for the log line.
std::string foreign_recipient(std::string_view recipient, std::string_view domain);

}  // namespace sesame::ingest
