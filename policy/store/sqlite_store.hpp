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
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine/store.hpp"

namespace sesame::store {

using engine::IngestOutcome;
using engine::OutboundRecord;
using engine::StoreError;

struct SqliteCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;
struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class SqliteStore : public engine::Store {
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
    std::string name() const override { return "store " + path_; }

    bool add_domain(const std::string& domain) override;
    bool remove_domain(const std::string& domain) override;
    std::vector<std::string> domains() override;

    bool add_block(const std::string& key, const std::string& pattern) override;
    bool remove_block(const std::string& key, const std::string& pattern) override;
    std::vector<engine::BlockRule> blocks(const std::optional<std::string>& key = std::nullopt) override;
    // In one transaction.
    std::size_t import_blocks(const std::string& key, const std::vector<std::string>& patterns) override;

    void set_forward(const std::string& key, const engine::ForwardRule& rule) override;
    bool clear_forward(const std::string& key) override;
    void set_ooo(const std::string& key, const engine::OooRule& rule) override;
    bool clear_ooo(const std::string& key) override;

    // In one read transaction (a consistent view while another process writes).
    engine::RuleSet load_rules() override;

    // The version row, bumped by trigger on every change to a rule table.
    std::uint64_t policy_version() override;
    // False when PRAGMA data_version did not move since the last call:
    // no other connection committed anything.
    bool may_have_changed() override;
    // True when the file at path() is no longer the one this handle has
    // open (a restore, `mv new.db policy.db`).
    bool stale() override;
    // SQLite's PRAGMA data_version: changes when another connection
    // committed anything.
    std::uint64_t data_version();

    std::optional<engine::Time> last_reply(std::string_view mailbox, std::string_view sender) const override;
    // One upsert, so two processes racing for the same pair cannot both win.
    bool record_reply_if_due(std::string_view mailbox, std::string_view sender, engine::Time now,
                             engine::Time interval) override;
    std::size_t prune_replies(engine::Time before) override;

    std::map<std::string, std::string> ingest_outcomes(std::string_view ses_message_id) override;
    // In one transaction.
    void record_ingest_outcomes(std::string_view ses_message_id, const std::vector<IngestOutcome>& outcomes,
                                engine::Time now) override;
    std::size_t prune_ingest(engine::Time before) override;

    void record_outbound(const OutboundRecord& record) override;
    std::optional<OutboundRecord> outbound(std::string_view message_id) override;
    void add_bounced(std::string_view message_id, const std::vector<std::string>& recipients) override;

  private:
    SqliteStore() = default;
    class Stmt;
    Stmt prepare(std::string_view sql) const;
    void exec(std::string_view sql) const;
    [[noreturn]] void fail(std::string_view what) const;

    std::string path_;
    ino_t inode_ = 0;  // of the file db_ has open
    dev_t device_ = 0;
    std::optional<std::uint64_t> data_version_;  // last seen by may_have_changed()
    SqliteHandle db_;
    // Prepared statements not in use, by SQL text: a daemon runs the same
    // few queries for every message, so each is compiled once per
    // connection. Declared after db_, so finalised before it closes.
    mutable std::map<std::string, StmtHandle, std::less<>> idle_statements_;
};

// The schema version of PATH (0: empty or new), without migrating.
int schema_version_of(const std::string& path);

}  // namespace sesame::store
