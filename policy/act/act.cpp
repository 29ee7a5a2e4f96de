// act.cpp - see act.hpp.
#include "policy/act/act.hpp"

#include <algorithm>

#include "policy/mime/compose.hpp"

namespace sesame::act {

deliver::SendResult SmtpOutbound::send(const std::string& mail_from, const std::vector<std::string>& rcpts,
                                       const std::string& message, const std::string&)
{
    return pool_.send(mail_from, rcpts, message);
}

bool all_accepted(const deliver::SendResult& res, std::string_view what, std::string* why)
{
    if (res.outcome != deliver::Outcome::ok) {
        *why = std::string(what) + ": " + res.reply;
        return false;
    }
    for (const auto& r : res.recipients)
        if (r.outcome != deliver::Outcome::ok) {
            *why = std::string(what) + " to " + r.address + ": " + r.reply;
            return false;
        }
    return true;
}

bool send_forwards(Outbound& out, const ActContext& ctx, const std::string& sender, const std::string& raw,
                   const std::vector<engine::RecipientDecision>& recipients, std::string* why)
{
    std::vector<std::string> redirect;  // external redirect targets, one copy for all
    std::string on_behalf;              // the first forwarding recipient, for SES's record
    for (const auto& r : recipients) {
        for (const auto& f : r.forwards) {
            if (f.mode == engine::ForwardMode::resend) {
                mime::ComposeContext cc{ctx.marker_header, ctx.hostname, ctx.now};
                std::string msg = mime::build_resend(raw, r.address, sender, f.to, cc);
                if (!all_accepted(out.send(r.address, f.to, msg, r.address), "resend forward for " + r.address, why))
                    return false;
            } else if (f.route == engine::Route::external) {
                if (on_behalf.empty()) on_behalf = r.address;
                for (const auto& t : f.to)
                    if (std::find(redirect.begin(), redirect.end(), t) == redirect.end()) redirect.push_back(t);
            }
        }
    }
    if (redirect.empty()) return true;
    const std::string from = ctx.srs ? ctx.srs->forward(sender, ctx.now) : sender;
    return all_accepted(
        out.send(from, redirect, mime::add_header_on_top(raw, ctx.marker_header, "forwarded"), on_behalf), "forward",
        why);
}

bool needs_body(const std::vector<engine::RecipientDecision>& recipients)
{
    for (const auto& r : recipients)
        for (const auto& f : r.forwards)
            if (f.mode == engine::ForwardMode::resend || f.route == engine::Route::external) return true;
    return false;
}

ReplyResult send_autoreply(Outbound& out, const ActContext& ctx, const engine::AutoReplyAction& a, const ReplyDue& due,
                           std::string* why)
{
    try {
        if (!due(a)) return ReplyResult::not_due;
        mime::ComposeContext cc{ctx.marker_header, ctx.hostname, ctx.now};
        auto res = out.send("", {a.to}, mime::build_autoreply(a, cc), a.from);
        if (res.outcome == deliver::Outcome::ok) return ReplyResult::sent;
        *why = res.reply;
    } catch (const std::exception& e) {
        *why = e.what();
    }
    return ReplyResult::failed;
}

}  // namespace sesame::act
