// evaluate.cpp - DESIGN.md's policy semantics, one recipient at a time.
//
// The order matters and is the documented one: a message over the hop
// limit is refused for every recipient; a recipient outside the local
// domains is untouched; a blocked recipient gets nothing else; a message
// carrying a loop marker is delivered but triggers no forward and no reply;
// then the forward rule, then the out-of-office rule, each from the most
// specific key that has one. Pure: the time and the reply history are
// handed in. Throws only std::bad_alloc.
#include "policy/engine/evaluate.hpp"

#include <algorithm>
#include <ctime>
#include <set>

#include "policy/engine/address.hpp"

namespace sesame::engine {

std::string utc_time(Time t)
{
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char* to_string(Verdict v)
{
    switch (v) {
        case Verdict::deliver:
            return "deliver";
        case Verdict::reject:
            return "reject";
        case Verdict::discard:
            return "discard";
        case Verdict::defer:
            return "defer";
    }
    return "?";
}

const char* to_string(Route r)
{
    return r == Route::internal ? "internal" : "external";
}
const char* to_string(ForwardMode m)
{
    return m == ForwardMode::redirect ? "redirect" : "resend";
}

namespace {

std::set<std::string> normalised_set(const std::vector<std::string>& list);

// What every recipient of one message shares: computed once, the address
// sets only when a forward or out-of-office rule first needs them.
struct MessageFacts {
    const MessageInfo* msg = nullptr;
    std::string sender;               // normalised; "" for the null sender
    std::optional<std::string> from;  // normalised From: address
    bool loop = false;
    bool too_many_hops = false;

    const std::set<std::string>& to_cc() const { return lazy(to_cc_, msg->to_cc); }
    const std::set<std::string>& delivered_to() const { return lazy(delivered_to_, msg->delivered_to); }

  private:
    static const std::set<std::string>& lazy(std::optional<std::set<std::string>>& cache,
                                             const std::vector<std::string>& list)
    {
        if (!cache) cache = normalised_set(list);
        return *cache;
    }
    mutable std::optional<std::set<std::string>> to_cc_, delivered_to_;
};

std::set<std::string> normalised_set(const std::vector<std::string>& list)
{
    std::set<std::string> out;
    for (const auto& a : list)
        if (auto p = parse_address(a)) out.insert(p->full());
    return out;
}

// "block PATTERN matched WHAT (key KEY)", in one allocation.
std::string block_trace(const BlockMatch& hit, std::string_view what)
{
    std::string line;
    line.reserve(32 + hit.pattern.size() + what.size() + hit.key.size());
    line.append("block ").append(hit.pattern).append(" matched ").append(what);
    line.append(" (key ").append(hit.key).append(")");
    return line;
}

void check_blocks(const Snapshot& snap, const MessageFacts& m, const std::vector<std::string>& keys,
                  RecipientDecision& d)
{
    if (auto hit = snap.blocks().find(m.sender, keys)) {
        d.verdict = Verdict::reject;
        d.smtp = kReplyBlockedSender;
        d.trace.push_back(block_trace(*hit, "envelope sender"));
        return;
    }
    if (m.from && *m.from != m.sender) {
        if (auto hit = snap.blocks().find(*m.from, keys)) {
            d.verdict = Verdict::reject;
            d.smtp = kReplyBlockedFrom;
            d.blocked_by_header = true;
            d.trace.push_back(block_trace(*hit, "From header " + *m.from));
            return;
        }
    }
    // The line every clean recipient gets: built in one allocation.
    std::string line;
    line.reserve(96 + 16 * keys.size());
    line.append("no block matched ").append(m.from ? "envelope sender or From header" : "envelope sender");
    line.append(" (keys ");
    for (std::size_t i = 0; i < keys.size(); ++i) line.append(i ? ", " : "").append(keys[i]);
    line.append(")");
    d.trace.push_back(std::move(line));
}

void apply_forward(const Snapshot& snap, const MessageFacts& m, const Address& rcpt,
                   const std::vector<std::string>& keys, RecipientDecision& d)
{
    std::string key;
    const ForwardRule* rule = snap.forward_for(keys, &key);
    if (!rule) return;
    if (m.loop) {
        d.trace.push_back("forward (key " + key + ") skipped: message carries a loop marker");
        return;
    }
    const std::string self = rcpt.full();
    const std::string base = base_address(rcpt, snap.settings().recipient_delimiter);
    std::vector<std::string> internal, external;
    for (const auto& target : rule->targets) {
        auto t = parse_address(target);
        if (!t) {
            d.trace.push_back("forward target \"" + target + "\" skipped: not an address");
            continue;
        }
        const std::string addr = t->full();
        if (addr == self || addr == base) {
            d.trace.push_back("forward target " + addr + " skipped: it is the original recipient");
            continue;
        }
        if (m.delivered_to().count(addr)) {
            d.trace.push_back("forward target " + addr + " skipped: already in Delivered-To/X-Original-To");
            continue;
        }
        (snap.is_local_domain(t->domain()) ? internal : external).push_back(addr);
    }
    if (internal.empty() && external.empty()) {
        d.trace.push_back("forward (key " + key + "): no target left, delivered to the mailbox");
        return;
    }
    for (auto [list, route] : {std::pair{&internal, Route::internal}, std::pair{&external, Route::external}})
        if (!list->empty()) d.forwards.push_back({*list, route, rule->mode});
    d.add_headers.push_back({snap.settings().marker_header, "forwarded"});
    std::string line = "forward (key " + key + ", " + to_string(rule->mode) + ", " +
                       (rule->keep_copy ? "keep copy" : "no copy") + "):";
    for (const auto& a : internal) line += " " + a + " internal";
    for (const auto& a : external) line += " " + a + " external";
    d.trace.push_back(line);
    if (!rule->keep_copy) {
        d.verdict = Verdict::discard;
        d.trace.push_back("not kept in the mailbox (forward without copy)");
    }
}

// Why no reply may be sent, or "" when every RFC 3834 / RFC 5230 condition holds.
std::string reply_suppressed(const Snapshot& snap, const MessageFacts& m, const MessageInfo& msg, const Address& rcpt,
                             const OooRule& rule, Time now)
{
    if (!rule.active) return "rule is not active";
    if (rule.start && now < *rule.start) return "not started (starts " + utc_time(*rule.start) + ")";
    if (rule.until && now >= *rule.until) return "ended (" + utc_time(*rule.until) + ")";
    if (m.sender.empty()) return "null envelope sender";
    const std::string local = m.sender.substr(0, m.sender.rfind('@'));
    static const char* const kNoReply[] = {"mailer-daemon", "postmaster", "noreply",
                                           "no-reply",      "donotreply", "do-not-reply"};
    for (const char* n : kNoReply)
        if (local == n) return "sender " + m.sender + " is a " + n + " address";
    if (local.rfind("owner-", 0) == 0) return "sender " + m.sender + " is an owner- address";
    if (local.size() >= 8 && local.compare(local.size() - 8, 8, "-request") == 0)
        return "sender " + m.sender + " is a -request address";
    if (!msg.auto_submitted.empty() && msg.auto_submitted != "no") return "Auto-Submitted: " + msg.auto_submitted;
    if (msg.precedence == "bulk" || msg.precedence == "list" || msg.precedence == "junk")
        return "Precedence: " + msg.precedence;
    if (msg.has_list_id) return "message has a List-Id header";
    if (m.loop) return "message carries a loop marker";
    const std::string self = rcpt.full();
    const std::string base = base_address(rcpt, snap.settings().recipient_delimiter);
    // RFC 5230: reply only to mail addressed to the user, by one of its
    // addresses: itself, its base address, or an address that forwards to it.
    const auto& to_cc = m.to_cc();
    bool addressed = to_cc.count(self) || to_cc.count(base);
    for (const auto& a : {self, base})
        if (const auto* from = snap.forwarded_from(a))
            for (const auto& f : *from) addressed = addressed || to_cc.count(f);
    if (!addressed) return "recipient is not in To or Cc";
    return "";
}

void apply_ooo(const Snapshot& snap, const MessageFacts& m, const MessageInfo& msg, const Address& rcpt,
               const std::vector<std::string>& keys, Time now, const ReplyHistory* history, RecipientDecision& d)
{
    std::string key;
    const OooRule* rule = snap.ooo_for(keys, &key);
    if (!rule) return;
    std::string why = reply_suppressed(snap, m, msg, rcpt, *rule, now);
    const std::string mailbox = base_address(rcpt, snap.settings().recipient_delimiter);
    const Time interval = rule->interval_days * 86400;
    if (why.empty() && history) {
        try {
            if (auto last = history->last_reply(mailbox, m.sender); last && now - *last < interval)
                why = "already replied to " + m.sender + " at " + utc_time(*last) + " (interval " +
                      std::to_string(rule->interval_days) + " days)";
        } catch (const std::exception& e) {
            why = std::string("reply state unavailable: ") + e.what();
        }
    }
    if (!why.empty()) {
        d.trace.push_back("autoreply (key " + key + ") suppressed: " + why);
        return;
    }
    AutoReplyAction r;
    r.from = rcpt.full();
    r.to = m.sender;
    r.subject = !rule->subject.empty() ? rule->subject
                                       : "Auto: " + (msg.subject.empty() ? std::string("(no subject)") : msg.subject);
    r.text = rule->text;
    r.html = rule->html;
    r.in_reply_to = msg.message_id;
    r.references = msg.references.empty() || msg.message_id.empty() ? msg.references + msg.message_id
                                                                    : msg.references + " " + msg.message_id;
    r.rule_key = mailbox;
    r.interval_seconds = interval;
    d.trace.push_back("autoreply (key " + key + "): reply from " + r.from + " to " + r.to + ", interval " +
                      std::to_string(rule->interval_days) + " days");
    d.autoreply = std::move(r);
}

// TEXT, without blanks and angle brackets, equals the lower-case ADDRESS.
bool same_address(std::string_view text, std::string_view address)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '<')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '>')) text.remove_suffix(1);
    return text.size() == address.size() && ascii_lower(text) == address;
}

constexpr const char* kUnparsedLocal =
    "recipient is not a parseable address: only the blocklists of its domain and * apply";

// The keys of a recipient parse_address() refuses (a local part over its
// length limit, a control character) whose domain is one of ours: its own
// key cannot be formed, but its domain's and the global one can, and their
// blocklists still apply. Without this a sender blocked for a whole domain
// reached it by writing a 2,000-character local part. Empty when the
// domain is not ours (or not a domain): then the recipient is untouched.
std::vector<std::string> unparsed_local_keys(const Snapshot& snap, std::string_view given)
{
    std::string_view s = given;
    while (!s.empty() && (s.front() == ' ' || s.front() == '<')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '>')) s.remove_suffix(1);
    const auto at = s.rfind('@');
    if (at == std::string_view::npos) return {};
    auto domain = normalize_domain(s.substr(at + 1));
    if (!domain || !snap.is_local_domain(*domain)) return {};
    return {"@" + *domain, "*"};
}

MessageFacts message_facts(const Snapshot& snap, const Envelope& env, const MessageInfo& msg)
{
    MessageFacts m;
    m.msg = &msg;
    m.sender = normalize_sender(env.sender).value_or(ascii_lower(env.sender));
    if (msg.from_address) {
        if (!m.sender.empty() && same_address(*msg.from_address, m.sender))
            m.from = m.sender;  // the common case: no second parse
        else if (auto f = parse_address(*msg.from_address))
            m.from = f->full();
    }
    m.loop = msg.has_marker;
    m.too_many_hops = msg.received_count > snap.settings().max_hops;
    return m;
}

}  // namespace

Decision evaluate(const Snapshot& snap, const Envelope& env, const MessageInfo& msg, Time now,
                  const ReplyHistory* history)
{
    const MessageFacts m = message_facts(snap, env, msg);
    Decision out;
    out.sender = m.sender;
    out.loop = m.loop || m.too_many_hops;
    for (const auto& given : env.recipients) {
        RecipientDecision d;
        auto rcpt = parse_address(given);
        d.address = rcpt ? rcpt->full() : given;
        if (m.too_many_hops) {
            d.local = rcpt && snap.is_local_domain(rcpt->domain());
            d.verdict = Verdict::reject;
            d.smtp = kReplyTooManyHops;
            d.trace.push_back("too many hops: " + std::to_string(msg.received_count) + " Received headers, max_hops " +
                              std::to_string(snap.settings().max_hops));
        } else if (!rcpt) {
            const auto keys = unparsed_local_keys(snap, given);
            if (keys.empty()) {
                d.trace.push_back("recipient is not a parseable address: untouched");
            } else {
                d.local = true;
                d.trace.push_back(kUnparsedLocal);
                if (!env.authenticated) check_blocks(snap, m, keys, d);
            }
        } else if (!snap.is_local_domain(rcpt->domain())) {
            d.trace.push_back("recipient domain " + std::string(rcpt->domain()) + " is not local: untouched");
        } else {
            d.local = true;
            const auto keys = lookup_keys(*rcpt, snap.settings().recipient_delimiter);
            if (env.authenticated)
                d.trace.push_back("sender authenticated (SASL): blocklist not applied");
            else
                check_blocks(snap, m, keys, d);
            if (d.verdict == Verdict::deliver) {
                if (m.loop) d.trace.push_back("message carries loop marker " + msg.marker_name);
                apply_forward(snap, m, *rcpt, keys, d);
                apply_ooo(snap, m, msg, *rcpt, keys, now, history, d);
            }
        }
        out.recipients.push_back(std::move(d));
    }
    return out;
}

RecipientDecision evaluate_envelope(const Snapshot& snap, std::string_view sender, std::string_view recipient)
{
    MessageFacts m;
    m.sender = normalize_sender(sender).value_or(ascii_lower(sender));
    RecipientDecision d;
    auto rcpt = parse_address(recipient);
    d.address = rcpt ? rcpt->full() : std::string(recipient);
    if (!rcpt) {
        const auto keys = unparsed_local_keys(snap, recipient);
        if (keys.empty()) return d;
        d.local = true;
        d.trace.push_back(kUnparsedLocal);
        check_blocks(snap, m, keys, d);
        return d;
    }
    if (!snap.is_local_domain(rcpt->domain())) return d;
    d.local = true;
    check_blocks(snap, m, lookup_keys(*rcpt, snap.settings().recipient_delimiter), d);
    return d;
}

}  // namespace sesame::engine
