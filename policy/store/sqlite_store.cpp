// sqlite_store.cpp - schema, migrations, and the queries behind SqliteStore.
//
// Migrations are an ordered list of SQL scripts; migration N brings a file
// from user_version N-1 to N inside one transaction, so an interrupted
// upgrade leaves the file as it was. Statements are prepared per call: the
// admin command runs a handful, and the daemons' hot path never touches
// sqlite (they evaluate on the in-memory snapshot).
#include "policy/store/sqlite_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sesame::store {

namespace {

// Each entry brings the schema from version i to i + 1.
constexpr const char* kMigrations[] = {
    // 1: the policy tables, and the version row every change bumps (the
    // triggers that bump it come from bump_triggers(), run by every init).
    R"sql(
CREATE TABLE domains (domain TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE blocks (
    key TEXT NOT NULL,
    pattern TEXT NOT NULL,
    added_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),
    PRIMARY KEY (key, pattern)) WITHOUT ROWID;
CREATE TABLE forwards (
    key TEXT PRIMARY KEY NOT NULL,
    targets TEXT NOT NULL,            -- newline-separated addresses
    mode TEXT NOT NULL CHECK (mode IN ('redirect', 'resend')),
    keep_copy INTEGER NOT NULL DEFAULT 1);
CREATE TABLE ooo (
    key TEXT PRIMARY KEY NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    subject TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    html TEXT NOT NULL DEFAULT '',
    start_at INTEGER,                 -- Unix time, NULL: no start
    until_at INTEGER,                 -- Unix time, NULL: no end
    interval_days INTEGER NOT NULL DEFAULT 7);
CREATE TABLE policy_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL);
INSERT INTO policy_version VALUES (1, 1);
)sql",
    // 2: reply-interval state shared by both daemons.
    R"sql(
CREATE TABLE reply_log (
    mailbox TEXT NOT NULL,
    sender TEXT NOT NULL,
    replied_at INTEGER NOT NULL,
    PRIMARY KEY (mailbox, sender)) WITHOUT ROWID;
CREATE INDEX reply_log_age ON reply_log (replied_at);
)sql",
    // 3: sesame-ingest's per-recipient delivery state (so a notification
    // seen twice, or retried after a crash, delivers nothing twice) and the
    // outbound table bounce rewriting reads (the shape of the older
    // workers' ses-outbound-messages).
    R"sql(
CREATE TABLE ingest_delivery (
    ses_message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,          -- or "forward:" + recipient for its forwards
    outcome TEXT NOT NULL,            -- delivered, blocked, refused, forwarded
    detail TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL,
    PRIMARY KEY (ses_message_id, recipient)) WITHOUT ROWID;
CREATE INDEX ingest_delivery_age ON ingest_delivery (at);
CREATE TABLE outbound_messages (
    message_id TEXT PRIMARY KEY NOT NULL,     -- the MessageId SES gave it
    original_source TEXT NOT NULL,            -- who sent it (our user)
    destination TEXT NOT NULL DEFAULT '',     -- newline-separated recipients
    sent_at INTEGER NOT NULL,
    bounced_recipients TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE INDEX outbound_messages_age ON outbound_messages (sent_at);
)sql"};

std::string bump_triggers()
{
    std::string sql;
    for (const char* table : {"domains", "blocks", "forwards", "ooo"})
        for (const char* op : {"INSERT", "UPDATE", "DELETE"})
            sql += std::string("CREATE TRIGGER IF NOT EXISTS bump_") + table + "_" + op + " AFTER " + op + " ON " +
                   table + " BEGIN UPDATE policy_version SET version = version + 1; END;\n";
    return sql;
}

std::string join_lines(const std::vector<std::string>& v)
{
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += '\n';
        out += s;
    }
    return out;
}

std::vector<std::string> split_lines(std::string_view s)
{
    std::vector<std::string> out;
    while (!s.empty()) {
        auto nl = s.find('\n');
        out.emplace_back(s.substr(0, nl));
        if (nl == std::string_view::npos) break;
        s.remove_prefix(nl + 1);
    }
    return out;
}

SqliteHandle open_db(const std::string& path, int flags)
{
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    SqliteHandle db(raw);
    if (rc != SQLITE_OK)
        throw StoreError("store " + path + ": cannot open: " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_busy_timeout(raw, 5000);
    sqlite3_extended_result_codes(raw, 1);
    return db;
}

}  // namespace

// A prepared statement, taken from the owner's idle statements or compiled;
// when it goes out of scope it is reset and given back (or finalised, when
// an equal one was given back meanwhile).
class SqliteStore::Stmt {
  public:
    Stmt(const SqliteStore& owner, StmtHandle s, std::string sql)
        : owner_(owner), stmt_(std::move(s)), sql_(std::move(sql))
    {
    }
    Stmt(Stmt&&) = default;
    Stmt& operator=(Stmt&&) = delete;
    ~Stmt()
    {
        if (!stmt_) return;
        sqlite3_reset(stmt_.get());
        sqlite3_clear_bindings(stmt_.get());
        try {
            owner_.idle_statements_.try_emplace(std::move(sql_), std::move(stmt_));
        } catch (...) {  // no memory to keep it: finalised below
        }
    }
    Stmt& bind(int i, std::string_view v)
    {
        check(sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
        return *this;
    }
    Stmt& bind(int i, std::int64_t v)
    {
        check(sqlite3_bind_int64(stmt_.get(), i, v));
        return *this;
    }
    Stmt& bind(int i, const std::optional<std::int64_t>& v)
    {
        check(v ? sqlite3_bind_int64(stmt_.get(), i, *v) : sqlite3_bind_null(stmt_.get(), i));
        return *this;
    }
    // True while there is a row.
    bool step()
    {
        int rc = sqlite3_step(stmt_.get());
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        owner_.fail("query failed");
    }
    void reset() { sqlite3_reset(stmt_.get()); }
    std::string text(int col) const
    {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col))) : std::string();
    }
    std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
    std::optional<std::int64_t> maybe_integer(int col) const
    {
        if (sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL) return std::nullopt;
        return integer(col);
    }

  private:
    void check(int rc) const
    {
        if (rc != SQLITE_OK) owner_.fail("bind failed");
    }
    const SqliteStore& owner_;
    StmtHandle stmt_;
    std::string sql_;
};

void SqliteStore::fail(std::string_view what) const
{
    throw StoreError("store " + path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_.get()));
}

SqliteStore::Stmt SqliteStore::prepare(std::string_view sql) const
{
    if (auto it = idle_statements_.find(sql); it != idle_statements_.end()) {
        auto node = idle_statements_.extract(it);
        return Stmt(*this, std::move(node.mapped()), std::move(node.key()));
    }
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s,
                           nullptr) != SQLITE_OK)
        fail("cannot prepare query");
    return Stmt(*this, StmtHandle(s), std::string(sql));
}

void SqliteStore::exec(std::string_view sql) const
{
    const std::string s(sql);
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw StoreError("store " + path_ + ": " + msg);
    }
}

int schema_version_of(const std::string& path)
{
    SqliteHandle db = open_db(path, SQLITE_OPEN_READONLY);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db.get(), "PRAGMA user_version", -1, &raw, nullptr) != SQLITE_OK)
        throw StoreError("store " + path + ": not a sqlite database: " + sqlite3_errmsg(db.get()));
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    if (sqlite3_step(raw) != SQLITE_ROW)
        throw StoreError("store " + path + ": not a sqlite database: " + sqlite3_errmsg(db.get()));
    return sqlite3_column_int(raw, 0);
}

SqliteStore::InitResult SqliteStore::init(const std::string& path)
{
    SqliteHandle db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    SqliteStore s;
    s.path_ = path;
    s.db_ = std::move(db);
    auto version = [&] {
        auto st = s.prepare("PRAGMA user_version");
        st.step();
        return static_cast<int>(st.integer(0));
    };
    const int from = version();
    if (from > kSchemaVersion)
        throw StoreError("store " + path + ": schema version " + std::to_string(from) +
                         " is newer than this sesame understands (" + std::to_string(kSchemaVersion) + ")");
    s.exec("PRAGMA journal_mode = WAL");
    for (int v = from; v < kSchemaVersion; ++v) {
        std::string sql = std::string("BEGIN IMMEDIATE;\n") + kMigrations[v];
        sql += "PRAGMA user_version = " + std::to_string(v + 1) + ";\nCOMMIT;";
        try {
            s.exec(sql);
        } catch (...) {
            sqlite3_exec(s.db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }
    // The triggers that bump policy_version, re-created if missing (an
    // older file, or one someone edited by hand): the daemons rely on them.
    s.exec(bump_triggers());
    return {from, kSchemaVersion};
}

SqliteStore::SqliteStore(const std::string& path, bool read_only) : path_(path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw StoreError("store " + path + ": " + std::strerror(errno) + " (run `sesame db init`)");
    const int v = schema_version_of(path);
    if (v == 0) throw StoreError("store " + path + ": not initialised (run `sesame db init`)");
    if (v < kSchemaVersion)
        throw StoreError("store " + path + ": schema version " + std::to_string(v) + " is older than this sesame's " +
                         std::to_string(kSchemaVersion) + " (run `sesame db init` to upgrade it)");
    if (v > kSchemaVersion)
        throw StoreError("store " + path + ": schema version " + std::to_string(v) +
                         " is newer than this sesame understands (" + std::to_string(kSchemaVersion) + ")");
    db_ = open_db(path, read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
    if (!read_only) exec("PRAGMA synchronous = NORMAL");
    inode_ = st.st_ino;
    device_ = st.st_dev;
}

bool SqliteStore::stale()
{
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) throw StoreError("store " + path_ + ": " + std::strerror(errno));
    return st.st_ino != inode_ || st.st_dev != device_;
}

bool SqliteStore::may_have_changed()
{
    const std::uint64_t v = data_version();
    const bool moved = data_version_ != v;
    data_version_ = v;
    return moved;
}

bool SqliteStore::add_domain(const std::string& domain)
{
    prepare("INSERT OR IGNORE INTO domains VALUES (?1)").bind(1, domain).step();
    return sqlite3_changes(db_.get()) > 0;
}

bool SqliteStore::remove_domain(const std::string& domain)
{
    prepare("DELETE FROM domains WHERE domain = ?1").bind(1, domain).step();
    return sqlite3_changes(db_.get()) > 0;
}

std::vector<std::string> SqliteStore::domains()
{
    std::vector<std::string> out;
    auto st = prepare("SELECT domain FROM domains ORDER BY domain");
    while (st.step()) out.push_back(st.text(0));
    return out;
}

bool SqliteStore::add_block(const std::string& key, const std::string& pattern)
{
    prepare("INSERT OR IGNORE INTO blocks (key, pattern) VALUES (?1, ?2)").bind(1, key).bind(2, pattern).step();
    return sqlite3_changes(db_.get()) > 0;
}

bool SqliteStore::remove_block(const std::string& key, const std::string& pattern)
{
    prepare("DELETE FROM blocks WHERE key = ?1 AND pattern = ?2").bind(1, key).bind(2, pattern).step();
    return sqlite3_changes(db_.get()) > 0;
}

std::vector<engine::BlockRule> SqliteStore::blocks(const std::optional<std::string>& key)
{
    std::vector<engine::BlockRule> out;
    auto st = key ? prepare("SELECT key, pattern FROM blocks WHERE key = ?1 ORDER BY pattern")
                  : prepare("SELECT key, pattern FROM blocks ORDER BY key, pattern");
    if (key) st.bind(1, *key);
    while (st.step()) out.push_back({st.text(0), st.text(1)});
    return out;
}

std::size_t SqliteStore::import_blocks(const std::string& key, const std::vector<std::string>& patterns)
{
    exec("BEGIN IMMEDIATE");
    try {
        std::size_t added = 0;
        auto st = prepare("INSERT OR IGNORE INTO blocks (key, pattern) VALUES (?1, ?2)");
        for (const auto& p : patterns) {
            st.bind(1, key).bind(2, p).step();
            added += static_cast<std::size_t>(sqlite3_changes(db_.get()));
            st.reset();
        }
        exec("COMMIT");
        return added;
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void SqliteStore::set_forward(const std::string& key, const engine::ForwardRule& rule)
{
    prepare("INSERT OR REPLACE INTO forwards (key, targets, mode, keep_copy) VALUES (?1, ?2, ?3, ?4)")
        .bind(1, key)
        .bind(2, join_lines(rule.targets))
        .bind(3, engine::to_string(rule.mode))
        .bind(4, std::int64_t{rule.keep_copy})
        .step();
}

bool SqliteStore::clear_forward(const std::string& key)
{
    prepare("DELETE FROM forwards WHERE key = ?1").bind(1, key).step();
    return sqlite3_changes(db_.get()) > 0;
}

void SqliteStore::set_ooo(const std::string& key, const engine::OooRule& rule)
{
    prepare(
        "INSERT OR REPLACE INTO ooo (key, active, subject, text, html, start_at, until_at, interval_days) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
        .bind(1, key)
        .bind(2, std::int64_t{rule.active})
        .bind(3, rule.subject)
        .bind(4, rule.text)
        .bind(5, rule.html)
        .bind(6, rule.start)
        .bind(7, rule.until)
        .bind(8, rule.interval_days)
        .step();
}

bool SqliteStore::clear_ooo(const std::string& key)
{
    prepare("DELETE FROM ooo WHERE key = ?1").bind(1, key).step();
    return sqlite3_changes(db_.get()) > 0;
}

engine::RuleSet SqliteStore::load_rules()
{
    exec("BEGIN");
    try {
        engine::RuleSet r;
        r.version = policy_version();
        r.domains = domains();
        r.blocks = blocks();
        auto fw = prepare("SELECT key, targets, mode, keep_copy FROM forwards ORDER BY key");
        while (fw.step()) {
            engine::ForwardRule rule;
            rule.targets = split_lines(fw.text(1));
            rule.mode = fw.text(2) == "resend" ? engine::ForwardMode::resend : engine::ForwardMode::redirect;
            rule.keep_copy = fw.integer(3) != 0;
            r.forwards.emplace(fw.text(0), std::move(rule));
        }
        auto oo =
            prepare("SELECT key, active, subject, text, html, start_at, until_at, interval_days FROM ooo ORDER BY key");
        while (oo.step()) {
            engine::OooRule rule;
            rule.active = oo.integer(1) != 0;
            rule.subject = oo.text(2);
            rule.text = oo.text(3);
            rule.html = oo.text(4);
            rule.start = oo.maybe_integer(5);
            rule.until = oo.maybe_integer(6);
            rule.interval_days = oo.integer(7);
            r.ooo.emplace(oo.text(0), std::move(rule));
        }
        exec("COMMIT");
        return r;
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

std::uint64_t SqliteStore::policy_version()
{
    auto st = prepare("SELECT version FROM policy_version WHERE id = 1");
    if (!st.step()) throw StoreError("store " + path_ + ": the policy_version row is missing");
    return static_cast<std::uint64_t>(st.integer(0));
}

std::uint64_t SqliteStore::data_version()
{
    auto st = prepare("PRAGMA data_version");
    st.step();
    return static_cast<std::uint64_t>(st.integer(0));
}

std::optional<engine::Time> SqliteStore::last_reply(std::string_view mailbox, std::string_view sender) const
{
    auto st = prepare("SELECT replied_at FROM reply_log WHERE mailbox = ?1 AND sender = ?2");
    st.bind(1, mailbox).bind(2, sender);
    if (!st.step()) return std::nullopt;
    return st.integer(0);
}

bool SqliteStore::record_reply_if_due(std::string_view mailbox, std::string_view sender, engine::Time now,
                                      engine::Time interval)
{
    // One statement, so two processes racing for the same pair cannot both
    // win: the upsert only overwrites a row older than the interval.
    prepare(
        "INSERT INTO reply_log (mailbox, sender, replied_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (mailbox, sender) DO UPDATE SET replied_at = excluded.replied_at "
        "WHERE reply_log.replied_at <= ?4")
        .bind(1, mailbox)
        .bind(2, sender)
        .bind(3, now)
        .bind(4, now - interval)
        .step();
    return sqlite3_changes(db_.get()) > 0;
}

std::size_t SqliteStore::prune_replies(engine::Time before)
{
    prepare("DELETE FROM reply_log WHERE replied_at < ?1").bind(1, before).step();
    return static_cast<std::size_t>(sqlite3_changes(db_.get()));
}

std::map<std::string, std::string> SqliteStore::ingest_outcomes(std::string_view ses_message_id)
{
    auto st = prepare("SELECT recipient, outcome FROM ingest_delivery WHERE ses_message_id = ?1");
    st.bind(1, ses_message_id);
    std::map<std::string, std::string> out;
    while (st.step()) out.emplace(st.text(0), st.text(1));
    return out;
}

void SqliteStore::record_ingest_outcomes(std::string_view ses_message_id, const std::vector<IngestOutcome>& outcomes,
                                         engine::Time now)
{
    if (outcomes.empty()) return;
    prepare("BEGIN IMMEDIATE").step();
    try {
        auto st = prepare(
            "INSERT OR REPLACE INTO ingest_delivery (ses_message_id, recipient, outcome, detail, at) "
            "VALUES (?1, ?2, ?3, ?4, ?5)");
        for (const auto& o : outcomes) {
            st.bind(1, ses_message_id).bind(2, o.recipient).bind(3, o.outcome).bind(4, o.detail).bind(5, now);
            st.step();
            st.reset();
        }
        prepare("COMMIT").step();
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

std::size_t SqliteStore::prune_ingest(engine::Time before)
{
    prepare("DELETE FROM ingest_delivery WHERE at < ?1").bind(1, before).step();
    return static_cast<std::size_t>(sqlite3_changes(db_.get()));
}

void SqliteStore::record_outbound(const OutboundRecord& r)
{
    prepare(
        "INSERT OR REPLACE INTO outbound_messages (message_id, original_source, destination, sent_at, "
        "bounced_recipients) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(1, r.message_id)
        .bind(2, r.original_source)
        .bind(3, join_lines(r.destination))
        .bind(4, r.sent_at)
        .bind(5, join_lines(r.bounced_recipients))
        .step();
}

std::optional<OutboundRecord> SqliteStore::outbound(std::string_view message_id)
{
    auto st = prepare(
        "SELECT message_id, original_source, destination, sent_at, bounced_recipients FROM outbound_messages "
        "WHERE message_id = ?1");
    st.bind(1, message_id);
    if (!st.step()) return std::nullopt;
    return OutboundRecord{st.text(0), st.text(1), split_lines(st.text(2)), st.integer(3), split_lines(st.text(4))};
}

void SqliteStore::add_bounced(std::string_view message_id, const std::vector<std::string>& recipients)
{
    exec("BEGIN IMMEDIATE");
    try {
        auto rec = outbound(message_id);
        if (rec) {
            for (const auto& r : recipients)
                if (std::find(rec->bounced_recipients.begin(), rec->bounced_recipients.end(), r) ==
                    rec->bounced_recipients.end())
                    rec->bounced_recipients.push_back(r);
            record_outbound(*rec);
        }
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

}  // namespace sesame::store
