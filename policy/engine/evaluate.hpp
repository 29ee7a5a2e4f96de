// evaluate.hpp - the policy decision for one message, per recipient.
//
// evaluate() applies DESIGN.md's "Policy semantics" in order: hop limit,
// local domains, the blocklist (envelope sender, then the From: address),
// the loop marker, forwarding, then out-of-office. It takes everything it
// needs as arguments, the time included, and returns a Decision whose trace
// says which key, pattern or condition made each verdict; the daemons log
// that trace and `sesame policy test` prints it.
//
// The reply-interval state is read through ReplyHistory (read-only: the
// caller records a reply it actually sends). A history that throws makes
// the engine skip the reply and say so in the trace: a broken reply state
// never fails the message. evaluate() is pure and re-entrant.
#pragma once

#include <optional>
#include <string_view>

#include "policy/engine/snapshot.hpp"
#include "policy/engine/types.hpp"

namespace sesame::engine {

class ReplyHistory {
  public:
    virtual ~ReplyHistory() = default;
    // When MAILBOX last auto-replied to SENDER, nullopt if never. May throw
    // std::exception on a store error.
    virtual std::optional<Time> last_reply(std::string_view mailbox, std::string_view sender) const = 0;
};

// The SMTP replies Sesame gives.
inline constexpr std::string_view kReplyBlockedSender = "550 5.7.1 Sender blocked by recipient policy";
inline constexpr std::string_view kReplyBlockedFrom = "550 5.7.1 From address blocked by recipient policy";
inline constexpr std::string_view kReplyTooManyHops = "554 5.4.6 Too many hops";
inline constexpr std::string_view kReplyTempfail = "451 4.3.0 Temporary policy failure, try again later";

// T as "2026-11-22T10:00:00Z" (UTC), as traces and S3 marks show times.
std::string utc_time(Time t);

Decision evaluate(const Snapshot& snapshot, const Envelope& envelope, const MessageInfo& message, Time now,
                  const ReplyHistory* history);

// RCPT-time check (the milter knows only the envelope then): the blocklist
// for one recipient against the envelope sender. Same verdict and trace as
// evaluate() gives that recipient when the envelope sender is blocked.
RecipientDecision evaluate_envelope(const Snapshot& snapshot, std::string_view sender, std::string_view recipient);

}  // namespace sesame::engine
