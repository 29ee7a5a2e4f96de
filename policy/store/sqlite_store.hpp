// sqlite_store.hpp - the policy store and reply-interval state in sqlite.
//
// One file (default /var/lib/sesame/policy.db) in WAL mode holds the local
// domains, blocklists, forward and out-of-office rules, and the reply state
// both daemons share. The schema is versioned with PRAGMA user_version;
// SqliteStore::init() creates or upgrades a file and is idempotent. Every
// change to a rule table bumps a version row (by trigger, so edits made
// with the sqlite3 shell count too): daemons poll policy_version() cheaply
// and rebuild their snapshot only when it moved.
//
// A SqliteStore owns one connection and is NOT thread-safe: give each
// thread its own. Every failure throws StoreError with a one-line reason
// that names the file; nothing is ever reported as "not found" on error.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine/evaluate.hpp"
#include "policy/engine/snapshot.hpp"

namespace sesame::store {

class StoreError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct SqliteCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;
struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

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
    engine::Time sent_at = 0;
    std::vector<std::string> bounced_recipients;
};

class SqliteStore : public engine::ReplyHistory {
  public:
    // The schema version this build writes.
    static constexpr int kSchemaVersion = 3;

    struct InitResult {
        int from_version;
        int to_version;
    };
    // Creates PATH if missing and migrates it to kSchemaVersion.
    static InitResult init(const std::string& path);

    // Opens an initialised store; refuses a missing, uninitialised, older or
    // newer file with a reason. READ_ONLY opens without write access.
    explicit SqliteStore(const std::string& path, bool read_only = false);

    const std::string& path() const { return path_; }

    // Local domains (normalised by the caller).
    bool add_domain(const std::string& domain);
    bool remove_domain(const std::string& domain);
    std::vector<std::string> domains();

    // Blocklists. Keys and patterns are normalised and validated by the caller.
    bool add_block(const std::string& key, const std::string& pattern);
    bool remove_block(const std::string& key, const std::string& pattern);
    std::vector<engine::BlockRule> blocks(const std::optional<std::string>& key = std::nullopt);
    // Adds PATTERNS under KEY in one transaction; returns how many were new.
    std::size_t import_blocks(const std::string& key, const std::vector<std::string>& patterns);

    void set_forward(const std::string& key, const engine::ForwardRule& rule);
    bool clear_forward(const std::string& key);
    void set_ooo(const std::string& key, const engine::OooRule& rule);
    bool clear_ooo(const std::string& key);

    // Everything the engine compiles, in a stable order, in one read
    // transaction (a consistent view even while another process writes).
    engine::RuleSet load_rules();

    // Bumped by every change to a rule table.
    std::uint64_t policy_version();
    // SQLite's PRAGMA data_version: changes when another connection
    // committed anything. A cheap pre-check before policy_version().
    std::uint64_t data_version();

    // Reply-interval state, keyed by the replying mailbox and the sender.
    std::optional<engine::Time> last_reply(std::string_view mailbox, std::string_view sender) const override;
    // Atomically: if no reply to SENDER was recorded for MAILBOX within
    // INTERVAL seconds before NOW, record one at NOW and return true.
    bool record_reply_if_due(std::string_view mailbox, std::string_view sender, engine::Time now,
                             engine::Time interval);
    // Forgets replies recorded before BEFORE; returns how many.
    std::size_t prune_replies(engine::Time before);

    // sesame-ingest's final outcomes per recipient of one SES message
    // (recipient -> outcome); temporary failures are never recorded.
    std::map<std::string, std::string> ingest_outcomes(std::string_view ses_message_id);
    // Records OUTCOMES in one transaction (a later record replaces one).
    void record_ingest_outcomes(std::string_view ses_message_id, const std::vector<IngestOutcome>& outcomes,
                                engine::Time now);
    // Forgets delivery state recorded before BEFORE; returns how many rows.
    std::size_t prune_ingest(engine::Time before);

    // Mail sent through SES, for bounce rewriting.
    void record_outbound(const OutboundRecord& record);
    std::optional<OutboundRecord> outbound(std::string_view message_id);
    // Adds RECIPIENTS to the bounced list of MESSAGE_ID (no-op when unknown).
    void add_bounced(std::string_view message_id, const std::vector<std::string>& recipients);

  private:
    SqliteStore() = default;
    class Stmt;
    Stmt prepare(std::string_view sql) const;
    void exec(std::string_view sql) const;
    [[noreturn]] void fail(std::string_view what) const;

    std::string path_;
    SqliteHandle db_;
    // Prepared statements not in use, by SQL text: a daemon runs the same
    // few queries for every message, so each is compiled once per
    // connection. Declared after db_, so finalised before it closes.
    mutable std::map<std::string, StmtHandle, std::less<>> idle_statements_;
};

// The reply history of a store opened only when the engine first asks (a
// message without an out-of-office rule never opens it). OPEN returns the
// caller's connection, opening it if need be; if it throws, the engine skips
// the reply and says why.
class LazyReplyHistory : public engine::ReplyHistory {
  public:
    explicit LazyReplyHistory(std::function<SqliteStore&()> open) : open_(std::move(open)) {}
    std::optional<engine::Time> last_reply(std::string_view mailbox, std::string_view sender) const override
    {
        return open_().last_reply(mailbox, sender);
    }

  private:
    std::function<SqliteStore&()> open_;
};

// The schema version of PATH (0: empty or new), without migrating.
int schema_version_of(const std::string& path);

}  // namespace sesame::store
