// processor.hpp - one SQS message of an SES inbound queue, start to finish.
//
// Processor::process() does what the older workers did, in order: read the
// notification (acknowledge SNS/SES housekeeping; leave a malformed one for
// the dead-letter queue), keep the recipients of the queue's domain, skip
// those already done for this SES message id (the per-recipient state in
// the store makes a repeated notification or a retry after a crash deliver
// nothing twice), fetch the raw mail from S3 (NoSuchKey retried a few times),
// rewrite an SES bounce for mail we sent through SES, apply the policy as the
// milter does (blocklist, hop limit, loop markers, forwards, out-of-office),
// deliver to Postfix with one RCPT per recipient, record each recipient's
// final outcome, mark the S3 object with the older workers' metadata, delete
// it when every recipient was blocked, and say what to do with the queue
// message: delete it, or leave it to come back after a backed-off visibility
// timeout (a temporary failure, never a loss).
//
// Threads: one Processor for the daemon (shared, thread-safe); each worker
// thread passes its own Worker (AWS clients are not thread-safe). The
// workers share one store connection, a call at a time: sqlite takes one
// writer at a time anyway, and one connection keeps its page cache, where
// eight would re-read pages after each other's writes and sleep in each
// other's locks. process() never throws (but std::bad_alloc): any error
// becomes a retry with a log line.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "aws/sdk/s3.hpp"
#include "aws/sdk/ses.hpp"
#include "aws/sdk/sqs.hpp"
#include "policy/act/act.hpp"
#include "policy/config/config.hpp"
#include "policy/daemon/metrics.hpp"
#include "policy/deliver/smtp_client.hpp"
#include "policy/deliver/srs.hpp"
#include "policy/engine/store.hpp"
#include "policy/store/policy_source.hpp"

namespace sesame::ingest {

// The verdicts of sesame_messages_total{path="ingest"}: the statuses the S3
// object is marked with (delivered, blocked, invalid: every recipient
// refused), a notification already done (duplicate), left to come back
// (deferred), left for the dead-letter queue (malformed; held: too large or
// a credentials error), SNS/SES housekeeping acknowledged.
inline const std::vector<std::string> kVerdicts = {"delivered", "blocked",   "invalid", "duplicate",
                                                   "deferred",  "malformed", "held",    "housekeeping"};

// sesame-ingest's metrics: the mail ones both daemons keep, and its own.
struct IngestMetrics {
    IngestMetrics(metrics::Registry& registry, const std::atomic<int>& in_flight);
    metrics::MailMetrics mail;
    metrics::Counter& delivered;          // recipients Postfix took
    metrics::Counter& refused;            // recipients Postfix refused for good
    metrics::Counter& foreign;            // recipients outside the queue's domain, dropped
    metrics::Counter& bounces_rewritten;  // SES bounces of mail we sent, rewritten
};

// What the daemon shares between its workers. Built by main(); immutable
// but for the metrics and the set of SES ids in progress.
struct Shared {
    config::Config config;
    aws::ServiceContext aws;
    aws::ServiceContext ses_aws;  // aws, or [aws] ses_endpoint
    store::PolicySource* policy = nullptr;
    deliver::SmtpPool* deliver = nullptr;   // [ingest] deliver_to
    deliver::SmtpPool* outbound = nullptr;  // [outbound] route when SMTP; null for "ses"
    const deliver::Srs* srs = nullptr;
    std::string hostname;
    std::function<engine::Time()> now;
    std::function<void(std::chrono::milliseconds)> sleep;  // NoSuchKey backoff
    std::atomic<int> in_flight{0};                         // received and not finished (the poller counts)
    std::atomic<std::uint64_t> processed{0};
    metrics::Registry registry;
    IngestMetrics metrics{registry, in_flight};

    std::mutex in_progress_mutex;
    std::set<std::string> in_progress;  // SES message ids a worker holds now
    std::mutex store_mutex;
    std::unique_ptr<engine::Store> store;  // opened on first use, under store_mutex
};

// The shared store, locked for as long as this lives: use it for one call,
// `w.store()->record_...(...)`, and never hold two.
class StoreRef {
  public:
    explicit StoreRef(Shared& shared);
    engine::Store* operator->() const { return store_; }
    engine::Store& operator*() const { return *store_; }

  private:
    std::unique_lock<std::mutex> lock_;
    engine::Store* store_;
};

// One worker thread's own clients.
struct Worker {
    explicit Worker(Shared& shared);
    aws::SqsClient sqs;
    aws::S3Client s3;
    aws::SesClient ses;
    StoreRef store() { return StoreRef(shared_); }

  private:
    Shared& shared_;
};

// What to do with the queue message.
struct Disposition {
    enum class Action { remove, retry, leave } action = Action::retry;
    int visibility_seconds = 0;     // retry: when it should come back
    std::string summary;            // one line for the log
    const char* verdict = nullptr;  // of kVerdicts; null: by the action (deferred, held)
};

const char* to_string(Disposition::Action a);

// The visibility timeout of a retry after RECEIVE_COUNT receives: BASE
// seconds doubling, at most 15 minutes.
int retry_visibility(int receive_count, int base);

// The messages of one ReceiveMessage answer. Those done with are deleted
// together, one DeleteMessageBatch when the last of them finishes, rather
// than a call each. A message whose delete is still waiting for its
// neighbours, or comes back because the delete failed, finds its recipients'
// final outcomes in the store and is delivered to nobody twice.
class ReceiveBatch {
  public:
    explicit ReceiveBatch(std::size_t messages) : left_(messages) {}
    // Called once for each message when it is done: M when it is to be
    // deleted, null otherwise. Returns to the caller that finished the last
    // one the messages to delete (none to the others).
    std::vector<aws::SqsMessage> finish(const aws::SqsMessage* m);

  private:
    std::mutex mutex_;
    std::size_t left_;
    std::vector<aws::SqsMessage> to_delete_;
};

class Processor {
  public:
    explicit Processor(Shared& shared) : shared_(shared) {}
    // Works out the message and acts on the queue (delete, or change the
    // visibility); returns what it did. With BATCH the delete waits for the
    // batch's other messages (see ReceiveBatch); without, it is done now.
    Disposition process(Worker& w, const config::IngestQueue& queue, const aws::SqsMessage& m,
                        ReceiveBatch* batch = nullptr);

  private:
    Disposition decide(Worker& w, const config::IngestQueue& queue, const aws::SqsMessage& m);
    void delete_messages(Worker& w, const config::IngestQueue& queue, const std::vector<aws::SqsMessage>& done);
    Shared& shared_;
};

}  // namespace sesame::ingest
