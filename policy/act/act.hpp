// act.hpp - carrying out the mail a decision generates: forwards and
// out-of-office replies, the same way for both ways in.
//
// A Decision says "forward to X", "reply to Y"; this module builds those
// messages (policy/mime) and hands them to an Outbound: Postfix through the
// SMTP pool (the milter always; the ingest daemon by default) or SES
// (the ingest daemon with [outbound] route = "ses"). External redirect
// forwards keep the original bytes with the marker header on top and an
// SRS envelope sender; resend forwards are new messages. Forwards are all or
// nothing for the caller (a failure is returned, the caller turns it into
// a temporary failure); replies are best effort (logged and counted by the
// caller, never failing the message). Thread-safe as far as the Outbound
// and the ReplyState passed in are; nothing here keeps state.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/deliver/smtp_client.hpp"
#include "policy/deliver/srs.hpp"
#include "policy/engine/types.hpp"

namespace sesame::act {

// Where generated mail goes.
class Outbound {
  public:
    virtual ~Outbound() = default;
    // MAIL_FROM "" is the null sender. FROM_USER is the mailbox of ours on
    // whose behalf the message goes (for SES's outbound record).
    virtual deliver::SendResult send(const std::string& mail_from, const std::vector<std::string>& rcpts,
                                     const std::string& message, const std::string& from_user) = 0;
};

// Postfix (or any SMTP/LMTP server) through a pool.
class SmtpOutbound : public Outbound {
  public:
    explicit SmtpOutbound(deliver::SmtpPool& pool) : pool_(pool) {}
    deliver::SendResult send(const std::string& mail_from, const std::vector<std::string>& rcpts,
                             const std::string& message, const std::string& from_user) override;

  private:
    deliver::SmtpPool& pool_;
};

struct ActContext {
    std::string marker_header;
    std::string hostname;
    engine::Time now = 0;
    const deliver::Srs* srs = nullptr;  // null: external forwards keep the original sender
};

// True if every recipient of RES was accepted; else WHY says who was not.
bool all_accepted(const deliver::SendResult& res, std::string_view what, std::string* why);

// Hands on the external and resend forwards of RECIPIENTS (internal
// redirects are the caller's: they are recipients of the local copy).
// External redirect targets get one copy between them. RAW is the whole
// original message; SENDER its envelope sender. False (and WHY) as soon as
// one could not be handed on.
bool send_forwards(Outbound& out, const ActContext& ctx, const std::string& sender, const std::string& raw,
                   const std::vector<engine::RecipientDecision>& recipients, std::string* why);

// True when RECIPIENTS have a forward that needs the message body.
bool needs_body(const std::vector<engine::RecipientDecision>& recipients);

// The reply-interval check-and-record (engine::Store::record_reply_if_due).
using ReplyDue = std::function<bool(const engine::AutoReplyAction&)>;

enum class ReplyResult { sent, not_due, failed };

// Sends the out-of-office reply A when DUE says the interval allows it.
// Never throws (but std::bad_alloc); WHY says what failed.
ReplyResult send_autoreply(Outbound& out, const ActContext& ctx, const engine::AutoReplyAction& a, const ReplyDue& due,
                           std::string* why);

}  // namespace sesame::act
