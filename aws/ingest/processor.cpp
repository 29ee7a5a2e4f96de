// processor.cpp - see processor.hpp.
#include "aws/ingest/processor.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <thread>
#include <vector>

#include "aws/ingest/bounce.hpp"
#include "aws/ingest/notification.hpp"
#include "policy/engine/address.hpp"
#include "policy/engine/evaluate.hpp"
#include "policy/log/log.hpp"
#include "policy/mime/compose.hpp"
#include "policy/mime/message_reader.hpp"

namespace sesame::ingest {

namespace {

using engine::Verdict;

constexpr const char* kForwardPrefix = "forward:";
constexpr int kNoSuchKeyTries = 4;                          // S3 may not show the object at once
constexpr std::uint64_t kPruneEvery = 1000;                 // messages
constexpr engine::Time kDeliveryStateSeconds = 15 * 86400;  // SQS retention (14 days) and a day

std::string join(const std::vector<std::string>& v, const char* sep)
{
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

// True when ADDRESS is the queue's to deliver (foreign_recipient says why not).
bool in_domain(const std::string& address, const std::string& domain)
{
    return foreign_recipient(address, domain).empty();
}

// Holds an SES message id in Shared::in_progress for its lifetime.
class Claim {
  public:
    Claim(Shared& s, std::string id) : shared_(s), id_(std::move(id))
    {
        std::lock_guard lock(shared_.in_progress_mutex);
        held_ = shared_.in_progress.insert(id_).second;
    }
    ~Claim()
    {
        if (!held_) return;
        std::lock_guard lock(shared_.in_progress_mutex);
        shared_.in_progress.erase(id_);
    }
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    bool held() const { return held_; }

  private:
    Shared& shared_;
    std::string id_;
    bool held_ = false;
};

// Mail sent through SES: SendRawEmail, and the outbound record that bounce
// rewriting reads.
class SesOutbound : public act::Outbound {
  public:
    SesOutbound(Worker& w, engine::Time now) : w_(w), now_(now) {}
    deliver::SendResult send(const std::string& mail_from, const std::vector<std::string>& rcpts,
                             const std::string& message, const std::string& from_user) override
    {
        deliver::SendResult res;
        try {
            std::string id = w_.ses.send_raw(message, mail_from, rcpts);
            w_.store()->record_outbound({id, from_user, rcpts, now_, {}});
            res.outcome = deliver::Outcome::ok;
            res.reply = "SES MessageId " + id;
            for (const auto& r : rcpts) res.recipients.push_back({r, deliver::Outcome::ok, res.reply});
        } catch (const aws::AwsException& e) {
            res.outcome = e.error().retryable() ? deliver::Outcome::tempfail : deliver::Outcome::permfail;
            res.reply = e.what();
        } catch (const std::exception& e) {
            res.outcome = deliver::Outcome::tempfail;
            res.reply = e.what();
        }
        return res;
    }

  private:
    Worker& w_;
    engine::Time now_;
};

// The engine's reply history from the shared store, opened (and locked)
// only when an out-of-office rule asks.
class WorkerReplyHistory : public engine::ReplyHistory {
  public:
    explicit WorkerReplyHistory(Worker& w) : w_(w) {}
    std::optional<engine::Time> last_reply(std::string_view mailbox, std::string_view sender) const override
    {
        return w_.store()->last_reply(mailbox, sender);
    }

  private:
    Worker& w_;
};

struct Work {
    std::string log_prefix;  // "sqs=ID ses=ID"
    aws::SqsMessage message;
    SesReceipt receipt;
    std::vector<std::string> foreign;             // outside the queue's domain
    std::map<std::string, std::string> outcomes;  // recorded final outcomes (recipient -> outcome)
    std::vector<engine::IngestOutcome> fresh;     // final outcomes found in this attempt
    std::string blocked_sender;
    bool temporary = false;  // a recipient or action must be tried again
    std::string temporary_why;
};

void note(Work& w, std::string recipient, std::string outcome, std::string detail)
{
    w.outcomes[recipient] = outcome;
    w.fresh.push_back({std::move(recipient), std::move(outcome), std::move(detail)});
}

void tempfail(Work& w, const std::string& why)
{
    if (!w.temporary) w.temporary_why = why;
    w.temporary = true;
}

}  // namespace

const char* to_string(Disposition::Action a)
{
    switch (a) {
        case Disposition::Action::remove:
            return "deleted";
        case Disposition::Action::retry:
            return "retry";
        case Disposition::Action::leave:
            return "left";
    }
    return "?";
}

int retry_visibility(int receive_count, int base)
{
    int n = std::clamp(receive_count, 1, 16);
    long long t = static_cast<long long>(std::max(base, 1)) << (n - 1);
    return static_cast<int>(std::min<long long>(t, 900));
}

Worker::Worker(Shared& shared) : sqs(shared.aws), s3(shared.aws), ses(shared.ses_aws), shared_(shared) {}

StoreRef::StoreRef(Shared& shared) : lock_(shared.store_mutex)
{
    if (!shared.store) shared.store = store::open_store(shared.config);
    store_ = shared.store.get();
}

std::vector<aws::SqsMessage> ReceiveBatch::finish(const aws::SqsMessage* m)
{
    std::lock_guard lock(mutex_);
    if (m) to_delete_.push_back(*m);
    if (left_ == 0 || --left_ > 0) return {};
    return std::move(to_delete_);
}

IngestMetrics::IngestMetrics(metrics::Registry& r, const std::atomic<int>& in_flight)
    : mail(r, "ingest", kVerdicts, [&in_flight] { return static_cast<double>(in_flight.load()); }),
      delivered(r.counter("sesame_ingest_recipients_total", "Recipients of SES mail, by outcome.",
                          {{"outcome", "delivered"}})),
      refused(
          r.counter("sesame_ingest_recipients_total", "Recipients of SES mail, by outcome.", {{"outcome", "refused"}})),
      foreign(
          r.counter("sesame_ingest_recipients_total", "Recipients of SES mail, by outcome.", {{"outcome", "foreign"}})),
      bounces_rewritten(r.counter("sesame_bounces_rewritten_total",
                                  "SES bounces of mail sent through SES, rewritten for the original sender.",
                                  {{"path", "ingest"}}))
{
}

Disposition Processor::process(Worker& w, const config::IngestQueue& queue, const aws::SqsMessage& m,
                               ReceiveBatch* batch)
{
    const auto start = std::chrono::steady_clock::now();
    Disposition d;
    try {
        d = decide(w, queue, m);
    } catch (const std::exception& e) {
        d = {Disposition::Action::retry,
             retry_visibility(m.receive_count, static_cast<int>(shared_.config.ingest_retry_seconds)),
             std::string("error: ") + e.what()};
    }
    // SQS keeps a message 14 days at most, so delivery state older than that
    // can never be asked for again: forget it, now and then.
    if (++shared_.processed % kPruneEvery == 1) {
        try {
            std::size_t n = w.store()->prune_ingest(shared_.now() - kDeliveryStateSeconds);
            if (n) log::line(log::Level::info, "forgot the delivery state of " + std::to_string(n) + " recipient(s)");
        } catch (const std::exception& e) {
            log::line(log::Level::warning, std::string("pruning the delivery state failed: ") + e.what());
        }
    }
    try {
        if (d.action == Disposition::Action::remove && !batch) {
            auto res = w.sqs.delete_batch(queue.url, {m.receipt_handle});
            if (!res.failed.empty()) d.summary += "; SQS refused the delete: " + res.failed.front();
        } else if (d.action == Disposition::Action::retry) {
            w.sqs.change_visibility(queue.url, m.receipt_handle, d.visibility_seconds);
        }
    } catch (const std::exception& e) {
        d.summary +=
            std::string("; queue update failed (the message comes back after its visibility timeout): ") + e.what();
    }
    const char* verdict = d.verdict ? d.verdict : d.action == Disposition::Action::retry ? "deferred" : "held";
    shared_.metrics.mail.messages(verdict).inc();
    shared_.metrics.mail.processing.observe(metrics::seconds_since(start));
    log::Level level = d.action == Disposition::Action::remove ? log::Level::info : log::Level::warning;
    std::string tail =
        d.action == Disposition::Action::retry ? " (again in " + std::to_string(d.visibility_seconds) + " s)" : "";
    log::line(level, "sqs=" + m.message_id + " queue=" + queue.domain + ": " + d.summary + "; message " +
                         to_string(d.action) + tail);
    if (batch) {
        auto done = batch->finish(d.action == Disposition::Action::remove ? &m : nullptr);
        if (!done.empty()) delete_messages(w, queue, done);
    }
    return d;
}

void Processor::delete_messages(Worker& w, const config::IngestQueue& queue, const std::vector<aws::SqsMessage>& done)
{
    std::vector<std::string> handles;
    for (const auto& m : done) handles.push_back(m.receipt_handle);
    std::string failed;
    try {
        for (const auto& f : w.sqs.delete_batch(queue.url, handles).failed) failed += (failed.empty() ? "" : ", ") + f;
    } catch (const std::exception& e) {
        failed = e.what();
    }
    if (failed.empty()) return;
    std::string ids;
    for (const auto& m : done) ids += (ids.empty() ? "" : ",") + m.message_id;
    log::line(log::Level::warning, "queue=" + queue.domain + ": deleting sqs=" + ids + " failed (" + failed +
                                       "); they come back after their visibility timeout and are not delivered again");
}

Disposition Processor::decide(Worker& wk, const config::IngestQueue& queue, const aws::SqsMessage& m)
{
    Shared& sh = shared_;
    const config::Config& cfg = sh.config;
    const int retry_in = retry_visibility(m.receive_count, static_cast<int>(cfg.ingest_retry_seconds));
    Notification n = parse_notification(m.body);
    if (n.kind == Notification::Kind::malformed) {
        return {Disposition::Action::leave, 0,
                "malformed notification (" + n.reason + "), left for the dead-letter queue (received " +
                    std::to_string(m.receive_count) + " times)",
                "malformed"};
    }
    if (n.kind == Notification::Kind::acknowledge) {
        return {Disposition::Action::remove, 0, "acknowledged: " + n.reason, "housekeeping"};
    }

    Work w;
    w.message = m;
    w.receipt = n.receipt;
    const SesReceipt& r = w.receipt;
    w.log_prefix = "ses=" + r.message_id;
    Claim claim(sh, r.message_id);
    if (!claim.held())
        return {Disposition::Action::retry, 30, w.log_prefix + ": another worker holds this SES message"};

    w.outcomes = wk.store()->ingest_outcomes(r.message_id);
    std::vector<std::string> pending;
    for (const auto& rcpt : r.recipients) {
        if (std::string why = foreign_recipient(rcpt, queue.domain); !why.empty()) {
            w.foreign.push_back(rcpt);
            sh.metrics.foreign.inc();
            log::line(log::Level::notice,
                      "sqs=" + m.message_id + " " + w.log_prefix + ": to=<" + rcpt + "> dropped: " + why);
            continue;
        }
        if (!w.outcomes.count(rcpt)) pending.push_back(rcpt);
    }
    const bool duplicate = pending.empty() && !w.outcomes.empty();  // every recipient done before

    const engine::Time now = sh.now();
    std::string raw;
    if (!pending.empty()) {
        // Fetch the mail; S3 may lag the notification a little.
        for (int attempt = 1;; ++attempt) {
            try {
                raw = wk.s3.get(r.bucket, r.object_key, static_cast<std::size_t>(cfg.ingest_max_message_bytes)).body;
                break;
            } catch (const aws::AwsException& e) {
                const auto& err = e.error();
                if (err.code == "ObjectTooLarge")
                    return {Disposition::Action::leave, 0,
                            w.log_prefix + ": " + e.what() + " (over ingest.max_message_bytes " +
                                std::to_string(cfg.ingest_max_message_bytes) + "), left for the dead-letter queue"};
                if (err.kind == aws::AwsError::Kind::not_found && attempt < kNoSuchKeyTries) {
                    sh.sleep(std::chrono::milliseconds(250 << attempt));
                    continue;
                }
                if (err.kind == aws::AwsError::Kind::credentials)
                    return {Disposition::Action::leave, 0,
                            w.log_prefix + ": credentials error, nothing delivered or deleted: " + e.what()};
                return {Disposition::Action::retry, retry_in, w.log_prefix + ": cannot fetch the mail: " + e.what()};
            }
        }
    }

    std::shared_ptr<const engine::Snapshot> snap = sh.policy->current();
    if (!snap) return {Disposition::Action::retry, 30, w.log_prefix + ": no policy loaded yet"};
    const auto& settings = snap->settings();

    if (!pending.empty()) {
        engine::MessageInfo info = mime::read_message(raw, settings.marker_header);
        // SES bounces of mail we sent through SES: tell our user who failed.
        if (auto b = read_ses_bounce(raw, info, r.source)) {
            for (const auto& id : b->original_message_ids) {
                if (auto rec = wk.store()->outbound(id)) {
                    raw = rewrite_bounce(raw, *b, rec->original_source, settings.marker_header);
                    info = mime::read_message(raw, settings.marker_header);
                    std::vector<std::string> failed;
                    for (const auto& f : b->failed_recipients) failed.push_back(f.address);
                    wk.store()->add_bounced(id, failed);
                    sh.metrics.bounces_rewritten.inc();
                    log::line(log::Level::info, "sqs=" + m.message_id + " " + w.log_prefix + ": SES bounce of " + id +
                                                    " rewritten for <" + rec->original_source + ">");
                    break;
                }
            }
        }
        std::vector<engine::RecipientDecision> decisions;
        if (info.received_count > settings.max_hops) {
            for (const auto& rcpt : pending)
                note(w, rcpt, "blocked", "too many hops (" + std::to_string(info.received_count) + ")");
            w.blocked_sender = r.source;
        } else {
            WorkerReplyHistory history(wk);
            engine::Envelope env{r.source, pending, false};
            decisions = engine::evaluate(*snap, env, info, now, &history).recipients;
        }

        // Forwards first: one that cannot be handed on is retried with the
        // whole message; those done are remembered and not sent again.
        std::vector<engine::RecipientDecision> to_forward;
        for (const auto& d : decisions)
            if (!d.forwards.empty() && !w.outcomes.count(kForwardPrefix + d.address)) to_forward.push_back(d);
        act::SmtpOutbound route_out(sh.outbound ? *sh.outbound : *sh.deliver);
        SesOutbound ses_out(wk, now);
        act::Outbound& out = sh.outbound ? static_cast<act::Outbound&>(route_out) : ses_out;
        act::ActContext actx{settings.marker_header, sh.hostname, now, sh.srs};
        std::string why;
        if (!to_forward.empty()) {
            if (!act::send_forwards(out, actx, r.source, raw, to_forward, &why)) {
                sh.metrics.mail.forward_failures.inc();
                sh.metrics.mail.reinjection_failures.inc();
                return {Disposition::Action::retry, retry_in, w.log_prefix + ": forward failed: " + why};
            }
            for (const auto& d : to_forward) {
                note(w, kForwardPrefix + d.address, "forwarded", "");
                sh.metrics.mail.forwards.inc(d.forwards.size());
            }
        }

        // The local copy: kept recipients and internal redirect targets.
        std::vector<std::string> local;
        std::map<std::string, std::string> target_of;  // internal target -> recipient it stands for
        bool forwarded = false;
        for (const auto& d : decisions) {
            log::line(log::Level::info, "sqs=" + m.message_id + " " + w.log_prefix + ": from=<" + r.source + "> to=<" +
                                            d.address + "> verdict=" + engine::to_string(d.verdict) +
                                            " rule: " + join(d.trace, "; "));
            forwarded = forwarded || !d.forwards.empty();
            if (d.verdict == Verdict::reject) {
                sh.metrics.mail.blocked.inc();
                note(w, d.address, "blocked", join(d.trace, "; "));
                w.blocked_sender = d.blocked_by_header && info.from_address ? *info.from_address : r.source;
                continue;
            }
            if (d.verdict == Verdict::defer) {
                tempfail(w, d.address + ": " + d.smtp);
                continue;
            }
            if (d.verdict == Verdict::deliver) local.push_back(d.address);
            for (const auto& f : d.forwards)
                if (f.route == engine::Route::internal && f.mode == engine::ForwardMode::redirect)
                    for (const auto& t : f.to)
                        if (!target_of.count(t)) target_of[t] = d.address;
            if (d.verdict == Verdict::discard) note(w, d.address, "delivered", "forwarded, no local copy");
        }
        for (const auto& [t, from] : target_of)
            if (std::find(local.begin(), local.end(), t) == local.end() && !w.outcomes.count("internal:" + t))
                local.push_back(t);

        if (!local.empty()) {
            std::string copy =
                forwarded ? mime::add_header_on_top(raw, settings.marker_header, "forwarded") : std::string();
            deliver::SendResult res = sh.deliver->send(r.source, local, forwarded ? copy : raw);
            for (std::size_t i = 0; i < local.size(); ++i) {
                const std::string& who = local[i];
                const bool internal_target =
                    target_of.count(who) && std::find(pending.begin(), pending.end(), who) == pending.end();
                const std::string key = internal_target ? "internal:" + who : who;
                const deliver::Outcome o = i < res.recipients.size() ? res.recipients[i].outcome : res.outcome;
                const std::string reply = i < res.recipients.size() ? res.recipients[i].reply : res.reply;
                if (o == deliver::Outcome::ok) {
                    sh.metrics.delivered.inc();
                    note(w, key, "delivered", reply);
                } else if (o == deliver::Outcome::permfail) {
                    sh.metrics.refused.inc();
                    note(w, key, "refused", reply);
                } else {
                    sh.metrics.mail.reinjection_failures.inc();
                    tempfail(w, who + ": " + reply);
                }
            }
        }
        wk.store()->record_ingest_outcomes(r.message_id, w.fresh, now);
        // Fault injection for tests/integration/ingest_e2e.sh only: die after
        // the delivery is recorded and before the queue message is deleted.
        if (const char* fault = std::getenv("SESAME_INGEST_FAULT");
            fault && std::string_view(fault) == "exit-after-delivery" && !w.fresh.empty())
            kill(getpid(), SIGKILL);  // as `kill -9` would, at exactly this point

        // Out-of-office replies: best effort, once per interval.
        auto due = [&](const engine::AutoReplyAction& a) {
            return wk.store()->record_reply_if_due(a.rule_key, a.to, now, a.interval_seconds);
        };
        for (const auto& d : decisions) {
            if (!d.autoreply || w.outcomes[d.address] != "delivered") continue;
            switch (act::send_autoreply(out, actx, *d.autoreply, due, &why)) {
                case act::ReplyResult::sent:
                    sh.metrics.mail.autoreplies.inc();
                    break;
                case act::ReplyResult::failed:
                    sh.metrics.mail.autoreply_failures.inc();
                    log::line(log::Level::warning, "sqs=" + m.message_id + " " + w.log_prefix + ": autoreply from=<" +
                                                       d.autoreply->from + "> to=<" + d.autoreply->to +
                                                       "> failed: " + why);
                    break;
                case act::ReplyResult::not_due:
                    break;
            }
        }
    }

    if (w.temporary)
        return {Disposition::Action::retry, retry_in, w.log_prefix + ": temporary failure: " + w.temporary_why};

    // Every recipient has its final outcome: mark the object.
    std::vector<std::string> invalid = w.foreign, delivered;
    bool any_blocked = false, all_blocked = true;
    for (const auto& rcpt : r.recipients) {
        if (!in_domain(rcpt, queue.domain)) continue;
        const std::string& o = w.outcomes[rcpt];
        if (o == "refused") invalid.push_back(rcpt);
        if (o == "delivered") delivered.push_back(rcpt);
        any_blocked = any_blocked || o == "blocked";
        all_blocked = all_blocked && o == "blocked";
    }
    all_blocked = all_blocked && any_blocked;
    const char* status = !delivered.empty() ? "delivered" : all_blocked ? "blocked" : "all_invalid";
    aws::Metadata marks = {{"processed", "true"},
                           {"processed_at", engine::utc_time(now)},
                           {"processed_by", "sesame-ingest@" + sh.hostname},
                           {"status", status}};
    if (!invalid.empty()) marks["invalid_inboxes"] = join(invalid, ",");
    if (any_blocked) marks["blocked_sender"] = w.blocked_sender.empty() ? r.source : w.blocked_sender;
    try {
        wk.s3.replace_metadata(r.bucket, r.object_key, marks);
        if (all_blocked && cfg.ingest_delete_blocked) wk.s3.remove(r.bucket, r.object_key);
    } catch (const aws::AwsException& e) {
        if (e.error().kind != aws::AwsError::Kind::not_found)
            return {Disposition::Action::retry, retry_in,
                    w.log_prefix + ": delivered, but marking the S3 object failed: " + e.what()};
    }
    std::string summary = w.log_prefix + ": status=" + status;
    if (!delivered.empty()) summary += " delivered=" + join(delivered, ",");
    if (!invalid.empty()) summary += " invalid=" + join(invalid, ",");
    if (pending.empty()) summary += " (already done before: nothing delivered again)";
    return {Disposition::Action::remove, 0, summary,
            duplicate            ? "duplicate"
            : !delivered.empty() ? "delivered"
            : all_blocked        ? "blocked"
                                 : "invalid"};
}

}  // namespace sesame::ingest
