// callbacks.cpp - libmilter glue: store, ask the engine, apply the decision.
//
// RCPT: envelope-sender blocks refuse that recipient with 550 5.7.1 (the
// others go on); a bounce to one of our SRS addresses is checked and
// remembered for reversal. End of headers: the hop limit. End of message:
// the whole decision. Forwards and replies are handed to Postfix's
// reinjection service before any change is made to the message, so a
// forward that cannot be handed on turns the message into a tempfail with
// nothing half-done. Replies are best effort: a failure is logged and
// counted and never touches the message.
#include "milter/callbacks.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "milter/runtime.hpp"
#include "policy/act/act.hpp"
#include "policy/engine/address.hpp"
#include "policy/engine/evaluate.hpp"
#include "policy/log/log.hpp"
#include "policy/mime/message_reader.hpp"

namespace sesame::milter {

namespace {

using engine::Verdict;

std::atomic<int> g_in_flight{0};
std::atomic<bool> g_draining{false};

// Counts itself in g_in_flight for as long as it lives.
struct InFlight {
    InFlight() { ++g_in_flight; }
    ~InFlight() { --g_in_flight; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
};

struct Message {
    InFlight counted;
    std::shared_ptr<const engine::Snapshot> snapshot;
    std::string sender;  // as given, without angle brackets
    bool authenticated = false;
    std::vector<std::string> rcpts;                                // accepted, without brackets
    std::vector<std::pair<std::string, std::string>> srs_bounces;  // (our SRS address, original)
    std::string header;                                            // rebuilt, CRLF line ends
    std::string body;
    engine::MessageInfo info;
    std::vector<std::string> policy_rcpts;     // rcpts but the SRS bounces
    std::optional<engine::Decision> decision;  // made at end of header
    bool needs_body = false;                   // a forward will send the message on
    double busy = 0;                           // seconds spent in our callbacks
};

std::atomic<bool> g_skip_offered{false};  // the MTA understands SMFIS_SKIP

struct Connection {
    std::unique_ptr<Message> msg;
};

Connection* connection(SMFICTX* ctx)
{
    return static_cast<Connection*>(smfi_getpriv(ctx));
}

std::string strip_brackets(const char* arg)
{
    std::string_view s = arg ? arg : "";
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
    return std::string(s);
}

std::string bracketed(const std::string& a)
{
    return "<" + a + ">";
}

std::string queue_id(SMFICTX* ctx)
{
    const char* id = smfi_getsymval(ctx, const_cast<char*>("i"));
    return id && *id ? id : "NOQUEUE";
}

engine::Time now()
{
    return static_cast<engine::Time>(std::time(nullptr));
}

// Sets the SMTP reply from a "550 5.7.1 text" line.
void set_reply(SMFICTX* ctx, std::string_view line)
{
    std::string code(line.substr(0, 3)), rest(line.size() > 4 ? line.substr(4) : std::string_view());
    std::string xcode, text = rest;
    if (auto sp = rest.find(' '); sp != std::string::npos && rest.size() > 2 && rest[1] == '.') {
        xcode = rest.substr(0, sp);
        text = rest.substr(sp + 1);
    }
    // '%' would be read as a format by libmilter: double it.
    std::string safe;
    for (char c : text) safe += c == '%' ? std::string("%%") : std::string(1, c);
    smfi_setreply(ctx, code.data(), xcode.empty() ? nullptr : xcode.data(), safe.data());
}

sfsistat tempfail(SMFICTX* ctx, std::string_view why)
{
    runtime().metrics().messages("tempfail").inc();
    log::line(log::Level::error, queue_id(ctx) + ": tempfail: " + std::string(why));
    set_reply(ctx, engine::kReplyTempfail);
    return SMFIS_TEMPFAIL;
}

std::string trace_of(const engine::RecipientDecision& d)
{
    std::string out;
    for (const auto& t : d.trace) out += (out.empty() ? "" : "; ") + t;
    return out;
}

void log_decision(SMFICTX* ctx, const std::string& sender, const engine::RecipientDecision& d)
{
    log::line(log::Level::info, queue_id(ctx) + ": from=<" + sender + "> to=<" + d.address +
                                    "> verdict=" + engine::to_string(d.verdict) + " rule: " + trace_of(d));
}

// Runs F; any exception becomes a tempfail. No exception crosses into C.
// The time it took counts towards the message's processing time.
template <typename F>
sfsistat guarded(SMFICTX* ctx, const char* stage, F&& f) noexcept
{
    const auto start = std::chrono::steady_clock::now();
    sfsistat result = SMFIS_TEMPFAIL;
    try {
        result = f();
    } catch (const std::exception& e) {
        try {
            result = tempfail(ctx, std::string(stage) + ": " + e.what());
        } catch (...) {
        }
    } catch (...) {
    }
    if (Connection* c = connection(ctx); c && c->msg) c->msg->busy += metrics::seconds_since(start);
    return result;
}

sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR*) noexcept
{
    return guarded(ctx, "connect", [&] {
        smfi_setpriv(ctx, new Connection());
        return SMFIS_CONTINUE;
    });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) noexcept
{
    return guarded(ctx, "MAIL FROM", [&] {
        Connection* c = connection(ctx);
        if (!c) return tempfail(ctx, "no connection context");
        if (g_draining) return tempfail(ctx, "shutting down: new messages are deferred");
        c->msg = std::make_unique<Message>();
        c->msg->snapshot = runtime().policy().current();
        if (!c->msg->snapshot) return tempfail(ctx, "no policy loaded yet");
        c->msg->sender = strip_brackets(argv[0]);
        const char* auth = smfi_getsymval(ctx, const_cast<char*>("{auth_authen}"));
        c->msg->authenticated = auth && *auth;
        return SMFIS_CONTINUE;
    });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) noexcept
{
    return guarded(ctx, "RCPT TO", [&] {
        Connection* c = connection(ctx);
        if (!c || !c->msg) return tempfail(ctx, "RCPT without MAIL FROM context");
        Message& m = *c->msg;
        std::string rcpt = strip_brackets(argv[0]);
        if (const deliver::Srs* srs = runtime().srs(); srs && deliver::Srs::looks_like_srs(rcpt)) {
            std::string why;
            if (auto original = srs->reverse(rcpt, now(), &why)) {
                runtime().srs_reversed().inc();
                m.srs_bounces.emplace_back(rcpt, *original);
                m.rcpts.push_back(rcpt);
                return SMFIS_CONTINUE;
            }
            if (why != "not an SRS address") {
                log::line(log::Level::notice, queue_id(ctx) + ": to=<" + rcpt + "> refused: SRS " + why);
                set_reply(ctx, "550 5.7.1 Invalid SRS address");
                return SMFIS_REJECT;
            }
        }
        if (!m.authenticated) {
            engine::RecipientDecision d = engine::evaluate_envelope(*m.snapshot, m.sender, rcpt);
            if (d.verdict == Verdict::reject) {
                runtime().metrics().blocked.inc();
                log_decision(ctx, m.sender, d);
                set_reply(ctx, d.smtp);
                return SMFIS_REJECT;
            }
        }
        m.rcpts.push_back(std::move(rcpt));
        return SMFIS_CONTINUE;
    });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) noexcept
{
    return guarded(ctx, "header", [&] {
        Connection* c = connection(ctx);
        if (!c || !c->msg) return tempfail(ctx, "header without message context");
        // With SMFIP_HDR_LEADSPC the value keeps its leading blank, so the
        // header is rebuilt byte for byte; folds come as bare LF.
        std::string& h = c->msg->header;
        h.append(name).append(":");
        for (const char* p = value; *p; ++p) {
            if (*p == '\n' && (p == value || p[-1] != '\r')) h.push_back('\r');
            h.push_back(*p);
        }
        h.append("\r\n");
        return SMFIS_CONTINUE;
    });
}

// The decision, made once the header is known (the body changes nothing):
// so that the body is kept only when a forward will need it.
void decide(Message& m)
{
    Runtime& rt = runtime();
    // SRS bounces are not policy business: they go back where they came from.
    for (const auto& r : m.rcpts)
        if (std::none_of(m.srs_bounces.begin(), m.srs_bounces.end(), [&](auto& b) { return b.first == r; }))
            m.policy_rcpts.push_back(r);
    engine::Envelope env{m.sender, m.policy_rcpts, m.authenticated};
    // The reply state is only needed for auto-replies: the store is opened
    // on the first question (libmilter's threads come and go with the
    // connections, so an eager open would cost every message). If it cannot
    // be opened, the engine skips the reply and says why; the mail flows.
    store::LazyReplyHistory history([&rt]() -> engine::Store& { return rt.reply_store(); });
    m.decision = engine::evaluate(*m.snapshot, env, m.info, now(), &history);
    m.needs_body = act::needs_body(m.decision->recipients);
}

sfsistat on_eoh(SMFICTX* ctx) noexcept
{
    return guarded(ctx, "end of header", [&] {
        Connection* c = connection(ctx);
        if (!c || !c->msg) return tempfail(ctx, "no message context");
        Message& m = *c->msg;
        m.info = mime::read_message(m.header + "\r\n", m.snapshot->settings().marker_header);
        if (m.info.received_count > m.snapshot->settings().max_hops) {
            log::line(log::Level::notice,
                      queue_id(ctx) + ": from=<" + m.sender + "> rejected: " + std::to_string(m.info.received_count) +
                          " Received headers, max_hops " + std::to_string(m.snapshot->settings().max_hops));
            runtime().metrics().messages("loop").inc();
            set_reply(ctx, engine::kReplyTooManyHops);
            return SMFIS_REJECT;
        }
        decide(m);
        return SMFIS_CONTINUE;
    });
}

sfsistat on_body(SMFICTX* ctx, unsigned char* chunk, size_t len) noexcept
{
    return guarded(ctx, "body", [&] {
        Connection* c = connection(ctx);
        if (!c || !c->msg) return tempfail(ctx, "no message context");
        if (!c->msg->needs_body && g_skip_offered) return SMFIS_SKIP;  // nothing will send it on
        if (c->msg->needs_body) c->msg->body.append(reinterpret_cast<const char*>(chunk), len);
        return SMFIS_CONTINUE;
    });
}

act::ActContext act_context(const Message& m)
{
    Runtime& rt = runtime();
    return {m.snapshot->settings().marker_header, rt.hostname(), now(), rt.srs()};
}

void send_replies(SMFICTX* ctx, const Message& m, const engine::Decision& d)
{
    Runtime& rt = runtime();
    act::SmtpOutbound out(rt.reinject());
    auto due = [&](const engine::AutoReplyAction& a) {
        return rt.reply_store().record_reply_if_due(a.rule_key, a.to, now(), a.interval_seconds);
    };
    for (const auto& r : d.recipients) {
        if (!r.autoreply) continue;
        const auto& a = *r.autoreply;
        std::string why;
        switch (act::send_autoreply(out, act_context(m), a, due, &why)) {
            case act::ReplyResult::sent:
                rt.metrics().autoreplies.inc();
                log::line(log::Level::info, queue_id(ctx) + ": autoreply from=<" + a.from + "> to=<" + a.to + ">");
                break;
            case act::ReplyResult::failed:
                rt.metrics().autoreply_failures.inc();
                rt.metrics().reinjection_failures.inc();
                log::line(log::Level::warning,
                          queue_id(ctx) + ": autoreply from=<" + a.from + "> to=<" + a.to + "> failed: " + why);
                break;
            case act::ReplyResult::not_due:
                break;
        }
    }
}

sfsistat decide_eom(SMFICTX* ctx) noexcept
{
    return guarded(ctx, "end of message", [&] {
        Connection* c = connection(ctx);
        if (!c || !c->msg || !c->msg->decision) return tempfail(ctx, "no decision for this message");
        Message& m = *c->msg;
        Runtime& rt = runtime();
        const engine::Decision& d = *m.decision;

        std::string why;
        act::SmtpOutbound out(rt.reinject());
        if (!act::send_forwards(out, act_context(m), m.sender, m.header + "\r\n" + m.body, d.recipients, &why)) {
            rt.metrics().forward_failures.inc();
            rt.metrics().reinjection_failures.inc();
            return tempfail(ctx, why);
        }

        std::vector<std::string> keep, add;
        bool forwarded = false, all_blocked = !d.recipients.empty();
        for (const auto& r : d.recipients) {
            log_decision(ctx, m.sender, r);
            forwarded = forwarded || !r.forwards.empty();
            if (r.verdict == Verdict::deliver) keep.push_back(r.address);
            all_blocked = all_blocked && r.verdict == Verdict::reject;
            for (const auto& f : r.forwards)
                if (f.route == engine::Route::internal && f.mode == engine::ForwardMode::redirect)
                    add.insert(add.end(), f.to.begin(), f.to.end());
            rt.metrics().forwards.inc(r.forwards.size());
        }
        for (const auto& [srs_rcpt, original] : m.srs_bounces) {
            log::line(log::Level::info,
                      queue_id(ctx) + ": to=<" + srs_rcpt + "> SRS bounce reversed to <" + original + ">");
            smfi_delrcpt(ctx, bracketed(srs_rcpt).data());
            add.push_back(original);
        }
        if (keep.empty() && add.empty()) {
            if (all_blocked) {
                rt.metrics().blocked.inc(d.recipients.size());
                rt.metrics().messages("blocked").inc();
                set_reply(ctx, engine::kReplyBlockedFrom);
                return SMFIS_REJECT;
            }
            // Every copy was forwarded elsewhere, without a local one.
            send_replies(ctx, m, d);
            rt.metrics().messages("forwarded").inc();
            return SMFIS_DISCARD;
        }
        for (std::size_t i = 0; i < d.recipients.size(); ++i)
            if (d.recipients[i].verdict != Verdict::deliver) {
                smfi_delrcpt(ctx, bracketed(m.policy_rcpts[i]).data());
                if (d.recipients[i].verdict == Verdict::reject) rt.metrics().blocked.inc();
            }
        std::sort(add.begin(), add.end());
        add.erase(std::unique(add.begin(), add.end()), add.end());
        for (const auto& a : add)
            if (std::find(m.rcpts.begin(), m.rcpts.end(), a) == m.rcpts.end()) smfi_addrcpt(ctx, bracketed(a).data());
        if (forwarded) {
            std::string name = m.snapshot->settings().marker_header, value = "forwarded";
            smfi_addheader(ctx, name.data(), value.data());
        }
        send_replies(ctx, m, d);
        rt.metrics().messages("delivered").inc();
        return SMFIS_CONTINUE;
    });
}

sfsistat on_eom(SMFICTX* ctx) noexcept
{
    sfsistat result = decide_eom(ctx);
    if (Connection* c = connection(ctx); c && c->msg) {
        runtime().metrics().processing.observe(c->msg->busy);
        c->msg.reset();  // no longer in flight
    }
    return result;
}

sfsistat on_abort(SMFICTX* ctx) noexcept
{
    if (Connection* c = connection(ctx)) c->msg.reset();
    return SMFIS_CONTINUE;
}

sfsistat on_close(SMFICTX* ctx) noexcept
{
    delete connection(ctx);  // tolerates a null context
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
}

sfsistat on_negotiate(SMFICTX*, unsigned long f0, unsigned long f1, unsigned long, unsigned long, unsigned long* pf0,
                      unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) noexcept
{
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT);
    *pf1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_SKIP);  // leading blanks kept; we may skip bodies
    g_skip_offered = (f1 & SMFIP_SKIP) != 0;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

}  // namespace

int messages_in_flight()
{
    return g_in_flight.load();
}

void start_draining()
{
    g_draining = true;
}

smfiDesc* filter_description()
{
    static smfiDesc desc = {
        const_cast<char*>("sesame"),
        SMFI_VERSION,
        SMFIF_ADDHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT,
        on_connect,
        nullptr,  // helo
        on_envfrom,
        on_envrcpt,
        on_header,
        on_eoh,
        on_body,
        on_eom,
        on_abort,
        on_close,
        nullptr,  // unknown
        nullptr,  // data
        on_negotiate,
    };
    return &desc;
}

}  // namespace sesame::milter
