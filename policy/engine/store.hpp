// store.hpp - the store interface: what every policy store backend keeps.
//
// A Store holds the policy (local domains, blocklists, forward and
// out-of-office rules), the reply-interval state, sesame-ingest's delivery
// state and the outbound message table that bounce rewriting reads. The
// sqlite store (policy/store) and the DynamoDB store (aws/dynamodb) both
// implement it; `sesame`, sesame-milter and sesame-ingest see only this.
//
// The daemons never evaluate against a Store: they compile load_rules()
// into a Snapshot and watch policy_version() (see policy/store's
// PolicySource). A Store is NOT thread-safe: one per thread. Every failure
// throws StoreError with a one-line reason naming the store; nothing is
// ever reported as "not found" on error. Keys and patterns are normalised
// and validated by the caller (the engine's address and glob functions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine/evaluate.hpp"
#include "policy/engine/snapshot.hpp"

namespace sesame::engine {

class StoreError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One final outcome of sesame-ingest for one recipient of an SES message.
struct IngestOutcome {
    std::string recipient;  // or "forward:" + recipient for that recipient's forwards
    std::string outcome;    // "delivered", "blocked", "refused", "forwarded"
    std::string detail;     // the SMTP reply or rule, one line
};

// A message Sesame sent through SES (the older workers' ses-outbound-messages).
struct OutboundRecord {
    std::string message_id;       // SES's MessageId
    std::string original_source;  // our user, who should hear of bounces
    std::vector<std::string> destination;
    Time sent_at = 0;
    std::vector<std::string> bounced_recipients;
};

class Store : public ReplyHistory {
  public:
    // "store /var/lib/sesame/policy.db", "dynamodb store (us-east-1)": what
    // messages about this store name.
    virtual std::string name() const = 0;

    // Local domains. The add/remove calls return false when there was
    // nothing to do (already present, not present).
    virtual bool add_domain(const std::string& domain) = 0;
    virtual bool remove_domain(const std::string& domain) = 0;
    virtual std::vector<std::string> domains() = 0;

    // Blocklists, listed by key then pattern.
    virtual bool add_block(const std::string& key, const std::string& pattern) = 0;
    virtual bool remove_block(const std::string& key, const std::string& pattern) = 0;
    virtual std::vector<BlockRule> blocks(const std::optional<std::string>& key = std::nullopt) = 0;
    // Adds PATTERNS under KEY; returns how many were new.
    virtual std::size_t import_blocks(const std::string& key, const std::vector<std::string>& patterns) = 0;

    virtual void set_forward(const std::string& key, const ForwardRule& rule) = 0;
    virtual bool clear_forward(const std::string& key) = 0;
    virtual void set_ooo(const std::string& key, const OooRule& rule) = 0;
    virtual bool clear_ooo(const std::string& key) = 0;

    // Everything the engine compiles, in a stable order (domains and blocks
    // sorted, rules by key), as one consistent view where the backend can.
    virtual RuleSet load_rules() = 0;

    // Moved by every change made through this interface (and, for sqlite,
    // by any change at all). Daemons poll it and reload when it moved.
    virtual std::uint64_t policy_version() = 0;
    // A cheaper pre-check than policy_version(): false only when nothing
    // can have changed since the last call on this handle.
    virtual bool may_have_changed() { return true; }
    // True when this handle no longer sees the store (a sqlite file
    // replaced under it): the caller drops it and opens a new one.
    virtual bool stale() { return false; }

    // Reply-interval state, keyed by the replying mailbox (the rule key)
    // and the sender. last_reply() is ReplyHistory's.
    // Atomically, across every process sharing the store: if no reply to
    // SENDER was recorded for MAILBOX within INTERVAL seconds before NOW,
    // record one at NOW and return true.
    virtual bool record_reply_if_due(std::string_view mailbox, std::string_view sender, Time now, Time interval) = 0;
    // Forgets replies recorded before BEFORE; returns how many (a backend
    // whose state expires by itself may return 0).
    virtual std::size_t prune_replies(Time before) = 0;

    // sesame-ingest's final outcomes per recipient of one SES message
    // (recipient -> outcome); temporary failures are never recorded.
    virtual std::map<std::string, std::string> ingest_outcomes(std::string_view ses_message_id) = 0;
    // Records OUTCOMES (a later record for a recipient replaces one).
    virtual void record_ingest_outcomes(std::string_view ses_message_id, const std::vector<IngestOutcome>& outcomes,
                                        Time now) = 0;
    // Forgets delivery state recorded before BEFORE; returns how many
    // records (0 where state expires by itself).
    virtual std::size_t prune_ingest(Time before) = 0;

    // Mail sent through SES, for bounce rewriting.
    virtual void record_outbound(const OutboundRecord& record) = 0;
    virtual std::optional<OutboundRecord> outbound(std::string_view message_id) = 0;
    // Adds RECIPIENTS to the bounced list of MESSAGE_ID (no-op when unknown).
    virtual void add_bounced(std::string_view message_id, const std::vector<std::string>& recipients) = 0;
};

}  // namespace sesame::engine
