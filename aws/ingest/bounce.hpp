// bounce.hpp - recognise an SES bounce of mail Sesame sent through SES, and
// rewrite it so the user who sent the original sees who failed.
//
// read_ses_bounce() looks at a raw message that arrived on the inbound path.
// It is an SES bounce when the envelope sender or the From address is
// MAILER-DAEMON@amazonses.com or MAILER-DAEMON@<anything>.amazonses.com
// (case-insensitive) and the message is a DSN (RFC 3464): a multipart with
// a message/delivery-status part whose recipient blocks name at least one
// failed recipient. From it come the SES MessageIds of the original (from
// X-Original-Message-ID / Original-Message-ID fields of the report and from
// the Message-ID "<id@email.amazonses.com>" or "<id@REGION.amazonses.com>"
// of the returned message/rfc822 or text/rfc822-headers part), the failed
// recipients with their Status and Diagnostic-Code, and the subjects. The
// caller looks the ids up in its outbound table (first match wins).
//
// rewrite_bounce() changes only header fields, by plain string work; every
// other byte (the other fields in order, the body, line ends) is kept:
//   From:      "Delivery failed: a@x, b@y" <the bounce's own address>
//              (one quoted-string, or RFC 2047 encoded-words when it is not
//              ASCII; at most kMaxNamedRecipients addresses named, fewer
//              when they are long, then "(+N more)"; the address stays SES's
//              MAILER-DAEMON, so filters that recognise bounces still do)
//   Reply-To:  the failed recipients, so a reply goes to whom the mail was
//              going; left as it was when the report names none we can use
//   X-Sesame-Bounce-For: ORIGINAL_SOURCE (who sent the original)
//   MARKER:    bounce-rewritten (X-Sesame-Processed if MARKER is unusable)
// From and Reply-To are rewritten where they stand (Reply-To goes after
// From when there was none); the two new fields go on top of the header.
// Any earlier From, Reply-To, X-Sesame-Bounce-For or MARKER field is
// dropped, so each appears exactly once. New fields end their lines as the
// message's first line does. A DKIM signature over From no longer verifies;
// the rewritten bounce is for local delivery only.
//
// Both are pure and thread-safe (gmime is initialised once, through
// sesame::mime::mime_init). Nothing throws but std::bad_alloc; input that is
// not a usable SES bounce gives nullopt, and rewrite_bounce() of a message
// without a header block still returns a message with the new fields on top.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine/types.hpp"

namespace sesame::ingest {

// Header value written in the marker field of a rewritten bounce.
inline constexpr std::string_view kBounceRewrittenMarker = "bounce-rewritten";
// The field recording who sent the original.
inline constexpr std::string_view kBounceForHeader = "X-Sesame-Bounce-For";
// Addresses named in the From display name; Reply-To lists up to kMaxReplyTo.
inline constexpr std::size_t kMaxNamedRecipients = 3;
inline constexpr std::size_t kMaxReplyTo = 50;

// One per-recipient block of the delivery-status report.
struct BouncedRecipient {
    std::string address;     // Final-Recipient without its type ("rfc822;") or angle brackets
    std::string action;      // Action, lower-cased: "failed" for every entry of failed_recipients
    std::string status;      // Status code, e.g. "5.1.1" (the first word of the field)
    std::string diagnostic;  // Diagnostic-Code as one line, e.g. "smtp; 550 5.1.1 user unknown"
};

struct SesBounce {
    // SES MessageIds of the bounced original (the part before '@'),
    // without duplicates, report fields first; may be empty when the report
    // names none (nothing can be matched then). At most 16.
    std::vector<std::string> original_message_ids;
    // Recipient blocks whose Action is "failed" (or, with no Action, whose
    // Status is 5.x.x), in report order; never empty. At most 1000.
    std::vector<BouncedRecipient> failed_recipients;
    std::string subject;           // the bounce's own Subject, decoded ("Delivery Status Notification (Failure)")
    std::string original_subject;  // the returned original's Subject, decoded, if it was returned
    std::string from_address;      // the SES MAILER-DAEMON address it came from
};
// Every string is one line: no control characters, valid UTF-8 subjects.

// RAW is the whole message; ENVELOPE_SENDER is SES's mail.source ("" for <>).
std::optional<SesBounce> read_ses_bounce(std::string_view raw, std::string_view envelope_sender);
// The same, for a caller that has read RAW's header already: INFO is what
// mime::read_message(RAW, ...) returned (the From address and Subject count).
std::optional<SesBounce> read_ses_bounce(std::string_view raw, const engine::MessageInfo& info,
                                         std::string_view envelope_sender);

// RAW rewritten as described above for BOUNCE, whose original was sent by
// ORIGINAL_SOURCE; MARKER_HEADER is the configured marker field name.
std::string rewrite_bounce(std::string_view raw, const SesBounce& bounce, std::string_view original_source,
                           std::string_view marker_header);

// True for MAILER-DAEMON@amazonses.com and MAILER-DAEMON@*.amazonses.com,
// any case, with or without angle brackets.
bool is_ses_mailer_daemon(std::string_view address);

}  // namespace sesame::ingest
