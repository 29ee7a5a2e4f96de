// types.hpp - the plain data the policy engine reads and returns.
//
// The engine takes an Envelope (SMTP sender and recipients), a MessageInfo
// (the few header facts policy needs, extracted by policy/mime), a compiled
// Snapshot and a time handed in by the caller; it returns a Decision with
// one RecipientDecision per recipient, each with its verdict, SMTP reply,
// actions and trace.
//
// Everything here is a value type: no pointers into snapshots or messages,
// so a Decision outlives the snapshot that produced it. Addresses are kept
// as given by the caller; the engine lower-cases them where it compares.
// Nothing here throws except std::bad_alloc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sesame::engine {

// Seconds since the Unix epoch; the engine never reads a clock itself.
using Time = std::int64_t;

struct Envelope {
    std::string sender;                   // "" or "<>" is the null sender
    std::vector<std::string> recipients;  // as given at RCPT time
    // The client authenticated (SASL): one of our own users sending. The
    // inbound blocklist does not apply to it.
    bool authenticated = false;
};

// What policy needs from the message header; filled by policy/mime.
struct MessageInfo {
    std::optional<std::string> from_address;  // first address of From:
    std::vector<std::string> to_cc;           // every address in To: and Cc:
    std::vector<std::string> delivered_to;    // Delivered-To: and X-Original-To:
    std::vector<std::string> original_to;     // X-Original-To: only
    std::string subject;                      // RFC 2047 decoded
    std::string message_id;                   // with angle brackets, or ""
    std::string references;                   // References: as found, unfolded
    std::string in_reply_to;
    int received_count = 0;      // number of Received: headers
    bool has_marker = false;     // our marker or X-SES-Worker-Processed
    std::string marker_name;     // which marker header was found
    std::string auto_submitted;  // value, lower-cased, "" if absent
    std::string precedence;      // value, lower-cased, "" if absent
    bool has_list_id = false;
};

enum class Verdict { deliver, reject, discard, defer };
enum class Route { internal, external };
enum class ForwardMode { redirect, resend };

const char* to_string(Verdict v);
const char* to_string(Route r);
const char* to_string(ForwardMode m);

struct ForwardAction {
    std::vector<std::string> to;
    Route route = Route::external;
    ForwardMode mode = ForwardMode::redirect;
};

struct AutoReplyAction {
    std::string from;     // the recipient that is away
    std::string to;       // the envelope sender
    std::string subject;  // rule subject, or "Auto: <original subject>"
    std::string text;
    std::string html;  // optional
    std::string in_reply_to;
    std::string references;
    std::string rule_key;  // whose reply-interval state to record
    Time interval_seconds = 0;
};

struct AddHeaderAction {
    std::string name;
    std::string value;
};

struct RecipientDecision {
    std::string address;
    bool local = false;
    Verdict verdict = Verdict::deliver;
    std::string smtp;  // "550 5.7.1 ..." where there is a reply, else ""
    std::vector<ForwardAction> forwards;
    std::optional<AutoReplyAction> autoreply;
    std::vector<AddHeaderAction> add_headers;
    std::vector<std::string> trace;
    // True when the block came from the From: header (known only at end of
    // message), false when it came from the envelope sender (RCPT time).
    bool blocked_by_header = false;
};

struct Decision {
    std::string sender;
    bool loop = false;
    std::vector<RecipientDecision> recipients;
};

}  // namespace sesame::engine
