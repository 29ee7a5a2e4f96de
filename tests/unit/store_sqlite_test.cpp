// store_sqlite_test.cpp - the sqlite store and the PolicySource on top of it.
//
// Each test gets a fresh temporary directory (mkdtemp under $TMPDIR or /tmp,
// removed afterwards) and proves one part of the store's contract: init
// creates a WAL file and is idempotent; an older (version 1) file is
// upgraded with its rows kept; a newer or missing or uninitialised file is
// refused with a message naming it; every CRUD method round-trips;
// policy_version moves on every rule change, including one made by another
// tool through a raw sqlite3 connection, and not on reply-state writes;
// record_reply_if_due honours the interval with injected times. Then the
// PolicySource: nothing before the first refresh, rebuild only when the
// policy moved, the last good snapshot kept when a refresh fails; and, over
// a fake store that counts calls, the poll interval, the full refresh and
// the health accessors.
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "policy/engine/evaluate.hpp"
#include "policy/store/policy_source.hpp"
#include "policy/store/sqlite_store.hpp"
#include "tests/unit/scratch_dir.hpp"

namespace sesame::store {
namespace {

using engine::ForwardMode;
using engine::ForwardRule;
using engine::OooRule;
using engine::Time;

// The schema of version 1 as sqlite_store.cpp's migration 1 creates it
// (the tables, the version row, and the triggers that are part of it).
// Copied, not shared: an upgrade must work from what old files contain.
const char* const kVersion1Schema = R"sql(
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
)sql";

std::string version1_triggers()
{
    std::string sql;
    for (const char* table : {"domains", "blocks", "forwards", "ooo"})
        for (const char* op : {"INSERT", "UPDATE", "DELETE"})
            sql += std::string("CREATE TRIGGER IF NOT EXISTS bump_") + table + "_" + op + " AFTER " + op + " ON " +
                   table + " BEGIN UPDATE policy_version SET version = version + 1; END;\n";
    return sql;
}

// A raw sqlite3 connection: "another tool", and the test's eyes.
class Raw {
  public:
    explicit Raw(const std::string& path)
    {
        sqlite3* db = nullptr;
        int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        db_.reset(db);
        if (rc != SQLITE_OK) throw std::runtime_error("raw open " + path + ": " + sqlite3_errstr(rc));
        sqlite3_busy_timeout(db, 5000);
    }
    void exec(const std::string& sql)
    {
        char* err = nullptr;
        if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "?";
            sqlite3_free(err);
            throw std::runtime_error("raw exec: " + msg + " in: " + sql);
        }
    }
    // The first column of the first row, as text ("" for none).
    std::string value(const std::string& sql)
    {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string("raw prepare: ") + sqlite3_errmsg(db_.get()));
        std::string out;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return out;
    }

  private:
    struct Closer {
        void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
    };
    std::unique_ptr<sqlite3, Closer> db_;
};

class Store : public ::testing::Test {
  protected:
    // An initialised store file, and a connection to it.
    SqliteStore fresh()
    {
        SqliteStore::init(path_);
        return SqliteStore(path_);
    }
    testdata::ScratchDir scratch_{"sesame-store-test"};
    std::string dir_ = scratch_.path();
    std::string path_ = dir_ + "/policy.db";
};

template <typename F>
std::string error_of(F&& f)
{
    try {
        f();
    } catch (const StoreError& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("(not a StoreError) ") + e.what();
    }
    return "(no error)";
}

bool has(const std::string& s, const std::string& part)
{
    return s.find(part) != std::string::npos;
}

std::string show(const std::vector<engine::BlockRule>& blocks)
{
    std::string out;
    for (const auto& b : blocks) out += "[" + b.key + " " + b.pattern + "]";
    return out;
}

std::string show(const std::vector<std::string>& v)
{
    std::string out;
    for (const auto& s : v) out += "[" + s + "]";
    return out;
}

OooRule ooo_rule(std::string subject, std::string text, std::string html, std::optional<Time> start,
                 std::optional<Time> until, std::int64_t interval_days, bool active = true)
{
    OooRule r;
    r.active = active;
    r.subject = std::move(subject);
    r.text = std::move(text);
    r.html = std::move(html);
    r.start = start;
    r.until = until;
    r.interval_days = interval_days;
    return r;
}

ForwardRule forward_rule(std::vector<std::string> targets, ForwardMode mode, bool keep_copy)
{
    ForwardRule r;
    r.targets = std::move(targets);
    r.mode = mode;
    r.keep_copy = keep_copy;
    return r;
}

std::string show(const OooRule& r)
{
    std::ostringstream os;
    os << "{active " << r.active << " subject \"" << r.subject << "\" text \"" << r.text << "\" html \"" << r.html
       << "\" start " << (r.start ? std::to_string(*r.start) : "none") << " until "
       << (r.until ? std::to_string(*r.until) : "none") << " interval " << r.interval_days << "}";
    return os.str();
}

std::string show(const ForwardRule& r)
{
    return "{targets " + show(r.targets) + " mode " + engine::to_string(r.mode) + " keep_copy " +
           (r.keep_copy ? "yes" : "no") + "}";
}

// --- init, versions, opening -------------------------------------------------

TEST_F(Store, InitCreatesAWalFileAtTheCurrentVersion)
{
    auto r = SqliteStore::init(path_);
    EXPECT_EQ(r.from_version, 0);
    EXPECT_EQ(r.to_version, SqliteStore::kSchemaVersion);
    EXPECT_EQ(SqliteStore::kSchemaVersion, 3);
    EXPECT_EQ(schema_version_of(path_), 3);
    Raw raw(path_);
    EXPECT_EQ(raw.value("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.value("PRAGMA user_version"), "3");
    for (const char* table : {"domains", "blocks", "forwards", "ooo", "policy_version", "reply_log", "ingest_delivery",
                              "outbound_messages"})
        EXPECT_EQ(raw.value(std::string("SELECT name FROM sqlite_master WHERE type='table' AND name='") + table + "'"),
                  table)
            << "table " << table << " missing";
    SqliteStore s(path_);
    EXPECT_EQ(s.path(), path_);
    EXPECT_TRUE(s.domains().empty());
    EXPECT_TRUE(s.blocks().empty());
}

TEST_F(Store, InitIsIdempotent)
{
    {
        SqliteStore s = fresh();
        s.add_domain("example.com");
        s.add_block("@example.com", "*@spam.com");
        s.set_forward("a@example.com", forward_rule({"b@other.org"}, ForwardMode::redirect, true));
        ASSERT_TRUE(s.record_reply_if_due("a@example.com", "x@y.org", 1000, 10));
    }
    const std::uint64_t before = SqliteStore(path_).policy_version();
    for (int i = 0; i < 2; ++i) {
        auto r = SqliteStore::init(path_);
        EXPECT_EQ(r.from_version, 3) << "init #" << i + 2;
        EXPECT_EQ(r.to_version, 3) << "init #" << i + 2;
    }
    SqliteStore s(path_);
    EXPECT_EQ(s.domains(), std::vector<std::string>{"example.com"});
    EXPECT_EQ(show(s.blocks()), "[@example.com *@spam.com]");
    EXPECT_EQ(s.load_rules().forwards.size(), 1u);
    EXPECT_EQ(s.last_reply("a@example.com", "x@y.org"), std::optional<Time>(1000));
    EXPECT_EQ(s.policy_version(), before) << "a no-op init must not look like a policy change";
}

TEST_F(Store, UpgradesAVersion1File)
{
    {
        Raw raw(path_);
        raw.exec(std::string("BEGIN;") + kVersion1Schema + version1_triggers() + "PRAGMA user_version = 1; COMMIT;");
        raw.exec("INSERT INTO blocks (key, pattern) VALUES ('@example.com', '*@spam.com')");
        raw.exec("INSERT INTO domains VALUES ('example.com')");
    }
    ASSERT_EQ(schema_version_of(path_), 1);
    // An old file is refused until it is upgraded, with the remedy named.
    std::string err = error_of([&] { SqliteStore s(path_); });
    EXPECT_TRUE(has(err, path_) && has(err, "older") && has(err, "sesame db init")) << "got: " << err;

    auto r = SqliteStore::init(path_);
    EXPECT_EQ(r.from_version, 1);
    EXPECT_EQ(r.to_version, 3);
    EXPECT_EQ(schema_version_of(path_), 3);

    SqliteStore s(path_);
    EXPECT_EQ(show(s.blocks()), "[@example.com *@spam.com]") << "the version-1 row must survive the upgrade";
    EXPECT_EQ(s.domains(), std::vector<std::string>{"example.com"});
    Raw raw(path_);
    EXPECT_EQ(raw.value("SELECT name FROM sqlite_master WHERE type='table' AND name='reply_log'"), "reply_log");
    EXPECT_EQ(raw.value("PRAGMA journal_mode"), "wal");
    // The upgraded file works in full: reply state, and version bumps.
    EXPECT_TRUE(s.record_reply_if_due("a@example.com", "x@y.org", 1000, 60));
    EXPECT_EQ(s.last_reply("a@example.com", "x@y.org"), std::optional<Time>(1000));
    const auto v = s.policy_version();
    EXPECT_TRUE(s.add_block("*", "*@other.org"));
    EXPECT_GT(s.policy_version(), v);
}

TEST_F(Store, RefusesANewerFile)
{
    SqliteStore::init(path_);
    {
        SqliteStore s(path_);
        s.add_block("@example.com", "*@spam.com");
    }
    Raw(path_).exec("PRAGMA user_version = 4");

    std::string err = error_of([&] { SqliteStore::init(path_); });
    EXPECT_TRUE(has(err, path_) && has(err, "schema version 4") && has(err, "newer")) << "init: got: " << err;
    err = error_of([&] { SqliteStore s(path_); });
    EXPECT_TRUE(has(err, path_) && has(err, "schema version 4") && has(err, "newer")) << "constructor: got: " << err;
    err = error_of([&] { SqliteStore s(path_, /*read_only=*/true); });
    EXPECT_TRUE(has(err, "newer")) << "read-only constructor: got: " << err;
    // Refusing leaves the file alone.
    Raw raw(path_);
    EXPECT_EQ(raw.value("PRAGMA user_version"), "4");
    EXPECT_EQ(raw.value("SELECT pattern FROM blocks"), "*@spam.com");
}

TEST_F(Store, OpeningAMissingOrUninitialisedFileFails)
{
    struct Case {
        const char* name;
        std::function<void(const std::string&)> make;  // creates (or not) the file
        const char* reason_has;
    };
    const Case cases[] = {
        {"missing", [](const std::string&) {}, "No such file"},
        {"empty file", [](const std::string& p) { std::ofstream(p).flush(); }, "not initialised"},
        {"sqlite file without the schema", [](const std::string& p) { Raw(p).exec("CREATE TABLE other (x)"); },
         "not initialised"},
        {"garbage", [](const std::string& p) { std::ofstream(p) << std::string(4096, 'x'); }, "not a sqlite database"},
    };
    for (const auto& c : cases) {
        const std::string p = dir_ + "/" + c.name + ".db";
        c.make(p);
        std::string err = error_of([&] { SqliteStore s(p); });
        EXPECT_TRUE(has(err, p)) << c.name << ": the message must name the file; got: " << err;
        EXPECT_TRUE(has(err, c.reason_has)) << c.name << ": got: " << err << "\nwant it to contain: " << c.reason_has;
        EXPECT_FALSE(has(err, "(not a StoreError)")) << c.name << ": " << err;
        err = error_of([&] { SqliteStore s(p, /*read_only=*/true); });
        EXPECT_TRUE(has(err, p) && has(err, c.reason_has)) << c.name << " (read-only): got: " << err;
    }
    // The missing file was not created by the attempt.
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/missing.db"));
    // Nor can init turn garbage into a store.
    std::string err = error_of([&] { SqliteStore::init(dir_ + "/garbage.db"); });
    EXPECT_TRUE(has(err, dir_ + "/garbage.db") && !has(err, "(no error)")) << "got: " << err;
}

// --- CRUD ---------------------------------------------------------------------

TEST_F(Store, Domains)
{
    SqliteStore s = fresh();
    EXPECT_TRUE(s.add_domain("example.com"));
    EXPECT_TRUE(s.add_domain("a.example"));
    EXPECT_FALSE(s.add_domain("example.com")) << "adding twice reports no change";
    EXPECT_EQ(show(s.domains()), "[a.example][example.com]");
    EXPECT_TRUE(s.remove_domain("a.example"));
    EXPECT_FALSE(s.remove_domain("a.example"));
    EXPECT_FALSE(s.remove_domain("never.example"));
    EXPECT_EQ(show(s.domains()), "[example.com]");
}

TEST_F(Store, Blocks)
{
    SqliteStore s = fresh();
    EXPECT_TRUE(s.add_block("@example.com", "*@spam.com"));
    EXPECT_TRUE(s.add_block("@example.com", "<>"));
    EXPECT_TRUE(s.add_block("user@example.com", "*@spam.com"));
    EXPECT_TRUE(s.add_block("*", "*@global.net"));
    EXPECT_FALSE(s.add_block("@example.com", "*@spam.com")) << "duplicate";
    EXPECT_EQ(show(s.blocks()),
              "[* *@global.net][@example.com *@spam.com][@example.com <>][user@example.com *@spam.com]");
    EXPECT_EQ(show(s.blocks("@example.com")), "[@example.com *@spam.com][@example.com <>]");
    EXPECT_EQ(show(s.blocks("user@example.com")), "[user@example.com *@spam.com]");
    EXPECT_EQ(show(s.blocks("nobody@example.com")), "");
    EXPECT_TRUE(s.remove_block("@example.com", "<>"));
    EXPECT_FALSE(s.remove_block("@example.com", "<>"));
    EXPECT_FALSE(s.remove_block("user@example.com", "*@global.net")) << "pattern under another key";
    EXPECT_EQ(show(s.blocks("@example.com")), "[@example.com *@spam.com]");
}

TEST_F(Store, ImportBlocksCountsOnlyNewRows)
{
    SqliteStore s = fresh();
    s.add_block("@example.com", "a@x.org");
    struct Case {
        std::vector<std::string> patterns;
        std::size_t want_new;
    };
    const Case cases[] = {
        {{"a@x.org", "b@x.org", "c@x.org"}, 2},  // a@ already there
        {{"d@x.org", "d@x.org", "e@x.org"}, 2},  // a duplicate inside the batch
        {{"a@x.org", "b@x.org"}, 0},
        {{}, 0},
    };
    std::size_t total = 1;
    for (const auto& c : cases) {
        std::size_t got = s.import_blocks("@example.com", c.patterns);
        total += c.want_new;
        EXPECT_EQ(got, c.want_new) << "import " << show(c.patterns) << ": got " << got << " new, want " << c.want_new;
        EXPECT_EQ(s.blocks("@example.com").size(), total);
    }
    // The same patterns under another key are new there.
    EXPECT_EQ(s.import_blocks("*", {"a@x.org", "b@x.org"}), 2u);
    EXPECT_EQ(show(s.blocks("*")), "[* a@x.org][* b@x.org]");
}

TEST_F(Store, Forwards)
{
    SqliteStore s = fresh();
    const ForwardRule a = forward_rule({"b@other.org", "c@example.com"}, ForwardMode::redirect, true);
    const ForwardRule b = forward_rule({"d@other.org"}, ForwardMode::resend, false);
    s.set_forward("a@example.com", a);
    s.set_forward("@example.net", b);
    auto rules = s.load_rules();
    ASSERT_EQ(rules.forwards.size(), 2u);
    EXPECT_EQ(show(rules.forwards.at("a@example.com")), show(a));
    EXPECT_EQ(show(rules.forwards.at("@example.net")), show(b));
    // Setting again replaces.
    const ForwardRule a2 = forward_rule({"z@other.org"}, ForwardMode::resend, false);
    s.set_forward("a@example.com", a2);
    rules = s.load_rules();
    ASSERT_EQ(rules.forwards.size(), 2u);
    EXPECT_EQ(show(rules.forwards.at("a@example.com")), show(a2));
    EXPECT_TRUE(s.clear_forward("a@example.com"));
    EXPECT_FALSE(s.clear_forward("a@example.com"));
    rules = s.load_rules();
    EXPECT_EQ(rules.forwards.size(), 1u);
    EXPECT_EQ(rules.forwards.count("a@example.com"), 0u);
}

TEST_F(Store, OutOfOffice)
{
    SqliteStore s = fresh();
    struct Case {
        const char* key;
        OooRule rule;
    };
    const Case cases[] = {
        {"full@example.com", ooo_rule("Away", "I am away", "<p>I am away</p>", 1735689600, 1736294400, 3)},
        {"bare@example.com", ooo_rule("", "text only", "", std::nullopt, std::nullopt, 7)},
        {"start@example.com", ooo_rule("s", "t", "", 1735689600, std::nullopt, 1)},
        {"until@example.com", ooo_rule("s", "t", "", std::nullopt, 1736294400, 30)},
        {"off@example.com", ooo_rule("s", "t", "h", std::nullopt, std::nullopt, 7, /*active=*/false)},
        {"@example.com", ooo_rule("Everyone", "all", "", -86400, 0, 0)},  // odd but storable values
    };
    for (const auto& c : cases) s.set_ooo(c.key, c.rule);
    auto rules = s.load_rules();
    ASSERT_EQ(rules.ooo.size(), std::size(cases));
    for (const auto& c : cases) {
        ASSERT_EQ(rules.ooo.count(c.key), 1u) << c.key;
        EXPECT_EQ(show(rules.ooo.at(c.key)), show(c.rule))
            << c.key << ": got " << show(rules.ooo.at(c.key)) << " want " << show(c.rule);
    }
    // Replacing drops what the new rule does not have.
    const OooRule replaced = ooo_rule("New", "new", "", std::nullopt, std::nullopt, 7);
    s.set_ooo("full@example.com", replaced);
    EXPECT_EQ(show(s.load_rules().ooo.at("full@example.com")), show(replaced));
    EXPECT_TRUE(s.clear_ooo("full@example.com"));
    EXPECT_FALSE(s.clear_ooo("full@example.com"));
    EXPECT_EQ(s.load_rules().ooo.count("full@example.com"), 0u);
}

TEST_F(Store, LoadRulesReturnsEverything)
{
    SqliteStore s = fresh();
    s.add_domain("example.com");
    s.add_domain("example.net");
    s.add_block("@example.com", "*@spam.com");
    s.add_block("*", "<>");
    s.set_forward("a@example.com", forward_rule({"b@other.org"}, ForwardMode::redirect, true));
    s.set_ooo("c@example.com", ooo_rule("", "away", "", std::nullopt, std::nullopt, 7));
    s.record_reply_if_due("c@example.com", "x@y.org", 100, 10);  // not a rule
    auto r = s.load_rules();
    EXPECT_EQ(show(r.domains), "[example.com][example.net]");
    EXPECT_EQ(show(r.blocks), "[* <>][@example.com *@spam.com]");
    EXPECT_EQ(r.forwards.size(), 1u);
    EXPECT_EQ(r.ooo.size(), 1u);
    EXPECT_EQ(r.version, s.policy_version());

    // And the engine compiles it: the loaded rules block and forward.
    engine::PolicySettings settings;
    auto snap = engine::Snapshot::build(r, settings);
    auto d = engine::evaluate_envelope(*snap, "bob@spam.com", "a@example.com");
    EXPECT_EQ(d.verdict, engine::Verdict::reject);
    auto counts = snap->counts();
    EXPECT_EQ(counts.domains, 2u);
    EXPECT_EQ(counts.blocks, 2u);
}

// --- the policy version -------------------------------------------------------

TEST_F(Store, PolicyVersionMovesOnEveryRuleChange)
{
    SqliteStore s = fresh();
    Raw other(path_);  // another tool: the sqlite3 shell, a script
    struct Step {
        const char* name;
        std::function<void()> change;
    };
    const std::vector<Step> steps = {
        {"add_domain", [&] { s.add_domain("example.com"); }},
        {"remove_domain", [&] { s.remove_domain("example.com"); }},
        {"add_block", [&] { s.add_block("*", "*@spam.com"); }},
        {"remove_block", [&] { s.remove_block("*", "*@spam.com"); }},
        {"import_blocks",
         [&] {
             s.import_blocks("*", {"a@x.org", "b@x.org"});
         }},
        {"set_forward",
         [&] { s.set_forward("a@example.com", forward_rule({"b@x.org"}, ForwardMode::redirect, true)); }},
        {"set_forward again",
         [&] { s.set_forward("a@example.com", forward_rule({"c@x.org"}, ForwardMode::resend, true)); }},
        {"clear_forward", [&] { s.clear_forward("a@example.com"); }},
        {"set_ooo", [&] { s.set_ooo("a@example.com", ooo_rule("", "t", "", std::nullopt, std::nullopt, 7)); }},
        {"clear_ooo", [&] { s.clear_ooo("a@example.com"); }},
        {"raw INSERT INTO blocks", [&] { other.exec("INSERT INTO blocks (key, pattern) VALUES ('*', 'z@x.org')"); }},
        {"raw UPDATE blocks", [&] { other.exec("UPDATE blocks SET pattern = 'y@x.org' WHERE pattern = 'z@x.org'"); }},
        {"raw DELETE FROM blocks", [&] { other.exec("DELETE FROM blocks WHERE pattern = 'y@x.org'"); }},
        {"raw INSERT INTO domains", [&] { other.exec("INSERT INTO domains VALUES ('example.org')"); }},
        {"raw INSERT INTO forwards",
         [&] { other.exec("INSERT INTO forwards VALUES ('q@example.com', 'r@x.org', 'redirect', 1)"); }},
        {"raw INSERT INTO ooo", [&] { other.exec("INSERT INTO ooo (key, text) VALUES ('q@example.com', 'away')"); }},
        {"raw UPDATE ooo", [&] { other.exec("UPDATE ooo SET subject = 'Away' WHERE key = 'q@example.com'"); }},
    };
    std::uint64_t last = s.policy_version();
    for (const auto& step : steps) {
        step.change();
        const std::uint64_t now = s.policy_version();
        EXPECT_GT(now, last) << step.name << ": policy_version got " << now << ", want more than " << last;
        last = now;
    }
    // The other connection sees the same version.
    EXPECT_EQ(other.value("SELECT version FROM policy_version"), std::to_string(last));
}

TEST_F(Store, ReplyStateDoesNotMoveThePolicyVersion)
{
    SqliteStore s = fresh();
    s.add_block("*", "*@spam.com");
    const std::uint64_t v = s.policy_version();
    EXPECT_TRUE(s.record_reply_if_due("a@example.com", "x@y.org", 1000, 100));
    EXPECT_FALSE(s.record_reply_if_due("a@example.com", "x@y.org", 1001, 100));
    EXPECT_TRUE(s.record_reply_if_due("a@example.com", "x@y.org", 2000, 100));
    EXPECT_EQ(s.prune_replies(5000), 1u);
    EXPECT_EQ(s.policy_version(), v);
}

// --- reply-interval state -----------------------------------------------------

TEST_F(Store, RecordReplyIfDue)
{
    SqliteStore s = fresh();
    const Time interval = 7 * 86400;
    const Time t0 = 1735689600;
    struct Step {
        const char* mailbox;
        const char* sender;
        Time now;
        bool want;
        Time want_last;  // last_reply(mailbox, sender) afterwards
    };
    const Step steps[] = {
        {"away@example.com", "bob@x.org", t0, true, t0},                             // first: due
        {"away@example.com", "bob@x.org", t0, false, t0},                            // same instant
        {"away@example.com", "bob@x.org", t0 + 1, false, t0},                        // within
        {"away@example.com", "bob@x.org", t0 + interval - 1, false, t0},             // last second within
        {"away@example.com", "carol@x.org", t0 + 10, true, t0 + 10},                 // another sender
        {"other@example.com", "bob@x.org", t0 + 20, true, t0 + 20},                  // another mailbox
        {"away@example.com", "bob@x.org", t0 + interval, true, t0 + interval},       // interval over
        {"away@example.com", "bob@x.org", t0 + interval + 5, false, t0 + interval},  // a new interval
        {"away@example.com", "bob@x.org", t0 + 3 * interval, true, t0 + 3 * interval},
    };
    for (const auto& st : steps) {
        bool got = s.record_reply_if_due(st.mailbox, st.sender, st.now, interval);
        EXPECT_EQ(got, st.want) << st.mailbox << " <- " << st.sender << " at t0+" << st.now - t0 << ": got " << got
                                << " want " << st.want;
        auto last = s.last_reply(st.mailbox, st.sender);
        EXPECT_EQ(last, std::optional<Time>(st.want_last))
            << st.mailbox << " <- " << st.sender << " at t0+" << st.now - t0 << ": last_reply got "
            << (last ? std::to_string(*last - t0) : "none") << " want t0+" << st.want_last - t0;
    }
    EXPECT_EQ(s.last_reply("nobody@example.com", "bob@x.org"), std::nullopt);
    // A second connection (the other daemon) shares the state.
    SqliteStore other(path_);
    EXPECT_FALSE(other.record_reply_if_due("away@example.com", "bob@x.org", t0 + 3 * interval + 1, interval));
    EXPECT_EQ(other.last_reply("carol@x.org", "away@example.com"), std::nullopt) << "mailbox and sender are ordered";
}

TEST_F(Store, PruneReplies)
{
    SqliteStore s = fresh();
    s.record_reply_if_due("a@example.com", "1@x.org", 100, 10);
    s.record_reply_if_due("a@example.com", "2@x.org", 200, 10);
    s.record_reply_if_due("b@example.com", "1@x.org", 300, 10);
    EXPECT_EQ(s.prune_replies(100), 0u) << "strictly before";
    EXPECT_EQ(s.prune_replies(201), 2u);
    EXPECT_EQ(s.last_reply("a@example.com", "1@x.org"), std::nullopt);
    EXPECT_EQ(s.last_reply("a@example.com", "2@x.org"), std::nullopt);
    EXPECT_EQ(s.last_reply("b@example.com", "1@x.org"), std::optional<Time>(300));
    // A pruned pair is due again at once.
    EXPECT_TRUE(s.record_reply_if_due("a@example.com", "1@x.org", 205, 1000));
}

TEST_F(Store, ReadOnlyConnectionRefusesWrites)
{
    SqliteStore::init(path_);
    SqliteStore ro(path_, /*read_only=*/true);
    std::string err = error_of([&] { ro.add_block("*", "*@spam.com"); });
    EXPECT_TRUE(has(err, path_) && has(err, "readonly")) << "got: " << err;
    EXPECT_TRUE(ro.blocks().empty());
}

// --- PolicySource -------------------------------------------------------------

engine::PolicySettings settings()
{
    engine::PolicySettings s;
    s.domains = {"example.com"};
    return s;
}

bool blocks(const engine::Snapshot& snap, const std::string& sender, const std::string& rcpt)
{
    return engine::evaluate_envelope(snap, sender, rcpt).verdict == engine::Verdict::reject;
}

// A PolicySource over the sqlite file PATH, as the daemons build it (read-only
// handles), with TIMING.
PolicySource sqlite_source(const std::string& path, WatchTiming timing = {})
{
    return PolicySource([path] { return std::make_unique<SqliteStore>(path, /*read_only=*/true); }, timing, settings());
}

TEST_F(Store, PolicySourceLoadsAndRebuildsOnlyOnChange)
{
    SqliteStore::init(path_);
    SqliteStore admin(path_);
    admin.add_block("@example.com", "*@spam.com");

    PolicySource source = sqlite_source(path_);
    EXPECT_EQ(source.current(), nullptr) << "nothing before the first refresh";
    EXPECT_EQ(source.reloads(), 0u);

    EXPECT_TRUE(source.refresh());
    auto first = source.current();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(source.reloads(), 1u);
    EXPECT_TRUE(blocks(*first, "bob@spam.com", "user@example.com"));
    EXPECT_FALSE(blocks(*first, "eve@evil.org", "user@example.com"));
    EXPECT_EQ(first->version(), admin.policy_version());

    EXPECT_FALSE(source.refresh()) << "nothing changed";
    EXPECT_EQ(source.current(), first);

    // A change through another connection (the admin command) is picked up.
    SqliteStore other_admin(path_);
    other_admin.add_block("user@example.com", "eve@evil.org");
    EXPECT_TRUE(source.refresh());
    auto second = source.current();
    ASSERT_NE(second, first);
    EXPECT_TRUE(blocks(*second, "eve@evil.org", "user@example.com"));
    EXPECT_TRUE(blocks(*second, "bob@spam.com", "user@example.com"));
    EXPECT_FALSE(blocks(*first, "eve@evil.org", "user@example.com")) << "a held snapshot never changes";
    EXPECT_EQ(source.reloads(), 2u);
    EXPECT_FALSE(source.refresh());

    // Reply-state writes (both daemons do them) are not policy changes.
    EXPECT_TRUE(other_admin.record_reply_if_due("user@example.com", "x@y.org", 1000, 10));
    EXPECT_EQ(other_admin.prune_replies(2000), 1u);
    EXPECT_FALSE(source.refresh()) << "reply-state writes must not trigger a rebuild";
    EXPECT_EQ(source.current(), second);
    EXPECT_EQ(source.reloads(), 2u);

    // A change made with the sqlite3 shell counts too.
    Raw(path_).exec("DELETE FROM blocks WHERE key = 'user@example.com'");
    EXPECT_TRUE(source.refresh());
    EXPECT_FALSE(blocks(*source.current(), "eve@evil.org", "user@example.com"));

    // force rebuilds regardless.
    auto third = source.current();
    EXPECT_TRUE(source.refresh(/*force=*/true));
    EXPECT_NE(source.current(), third);
}

TEST_F(Store, PolicySourceRebuildsWithNewSettings)
{
    SqliteStore::init(path_);
    SqliteStore(path_).add_block("*", "*@spam.com");
    PolicySource source = sqlite_source(path_);
    ASSERT_TRUE(source.refresh());
    EXPECT_FALSE(blocks(*source.current(), "bob@spam.com", "user@example.org")) << "example.org is not local yet";
    auto s = settings();
    s.domains.push_back("example.org");
    source.set_settings(s);
    EXPECT_TRUE(source.refresh()) << "new settings rebuild without a store change";
    EXPECT_TRUE(blocks(*source.current(), "bob@spam.com", "user@example.org"));
    EXPECT_FALSE(source.refresh());
}

TEST_F(Store, PolicySourceBeforeTheStoreExists)
{
    PolicySource source = sqlite_source(path_);
    std::string err = error_of([&] { source.refresh(); });
    EXPECT_TRUE(has(err, path_)) << "got: " << err;
    EXPECT_EQ(source.current(), nullptr) << "a failed first load leaves nothing current (daemons tempfail)";
    // Once the store is there, the next refresh loads it.
    SqliteStore::init(path_);
    EXPECT_TRUE(source.refresh());
    EXPECT_NE(source.current(), nullptr);
}

// A broken store (here: a table another tool dropped) makes refresh throw
// and keeps the last good snapshot; repairing it makes the next refresh work.
TEST_F(Store, PolicySourceKeepsTheLastGoodSnapshotWhenTheSchemaBreaks)
{
    SqliteStore::init(path_);
    SqliteStore(path_).add_block("@example.com", "*@spam.com");
    PolicySource source = sqlite_source(path_);
    ASSERT_TRUE(source.refresh());
    auto good = source.current();

    Raw raw(path_);
    EXPECT_EQ(source.refresh_failures(), 0u);
    EXPECT_EQ(source.last_error(), "");
    ASSERT_TRUE(source.last_success());
    raw.exec("ALTER TABLE forwards RENAME TO forwards_gone; UPDATE policy_version SET version = version + 1");
    std::string err = error_of([&] { source.refresh(); });
    EXPECT_TRUE(has(err, path_) && !has(err, "(no error)")) << "got: " << err;
    EXPECT_EQ(source.current(), good);
    EXPECT_TRUE(blocks(*source.current(), "bob@spam.com", "user@example.com"));
    // The failure is counted and kept for /readyz until a refresh works.
    EXPECT_EQ(source.refresh_failures(), 1u);
    EXPECT_EQ(source.last_error(), err);
    error_of([&] { source.refresh(); });
    EXPECT_EQ(source.refresh_failures(), 2u);

    raw.exec("ALTER TABLE forwards_gone RENAME TO forwards");
    EXPECT_TRUE(source.refresh());
    EXPECT_NE(source.current(), good);
    EXPECT_EQ(source.last_error(), "");
    EXPECT_EQ(source.refresh_failures(), 2u) << "a count of failures since start";
}

// A backend polled every few seconds (DynamoDB): refresh() between two
// polls does not touch the store; force does.
TEST_F(Store, PolicySourcePollsNoMoreOftenThanItsInterval)
{
    SqliteStore::init(path_);
    SqliteStore admin(path_);
    admin.add_block("@example.com", "*@spam.com");
    PolicySource source = sqlite_source(path_, WatchTiming{std::chrono::hours(1), {}});
    ASSERT_TRUE(source.refresh());
    admin.add_block("@example.com", "*@evil.org");
    EXPECT_FALSE(source.refresh()) << "polled again before the interval passed";
    EXPECT_FALSE(blocks(*source.current(), "x@evil.org", "user@example.com"));
    EXPECT_TRUE(source.refresh(/*force=*/true));
    EXPECT_TRUE(blocks(*source.current(), "x@evil.org", "user@example.com"));
}

// Writes by tools that do not bump the version are found by the periodic
// full reload. Here the version row is put back by hand after the change.
TEST_F(Store, PolicySourceReloadsFullyWhenTheFullRefreshIsDue)
{
    SqliteStore::init(path_);
    PolicySource never = sqlite_source(path_);
    PolicySource periodic = sqlite_source(path_, WatchTiming{{}, std::chrono::milliseconds(1)});
    ASSERT_TRUE(never.refresh());
    ASSERT_TRUE(periodic.refresh());
    Raw(path_).exec(
        "INSERT INTO blocks (key, pattern) VALUES ('@example.com', '*@quiet.org');"
        "UPDATE policy_version SET version = version - 1");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_FALSE(never.refresh()) << "the version did not move";
    EXPECT_FALSE(blocks(*never.current(), "x@quiet.org", "user@example.com"));
    EXPECT_TRUE(periodic.refresh()) << "the full refresh was due";
    EXPECT_TRUE(blocks(*periodic.current(), "x@quiet.org", "user@example.com"));
}

// --- PolicySource over a fake store ---------------------------------------------
//
// PolicySource alone, over a store that counts what is asked of it: the
// poll interval keeps refresh() off the store, the full refresh reloads
// a version that never moves, and a failing store is counted and reported.

// What every handle of a FakeStore shares: the test's knobs and counters.
struct FakeState {
    std::uint64_t version = 1;
    std::string fail;  // non-empty: policy_version() and load_rules() throw this
    std::vector<std::string> domains = {"example.com"};
    int opens = 0, polls = 0, loads = 0;
};

class FakeStore : public engine::Store {
  public:
    explicit FakeStore(std::shared_ptr<FakeState> state) : state_(std::move(state)) { state_->opens++; }
    std::string name() const override { return "fake store"; }
    bool add_domain(const std::string&) override { return false; }
    bool remove_domain(const std::string&) override { return false; }
    std::vector<std::string> domains() override { return state_->domains; }
    bool add_block(const std::string&, const std::string&) override { return false; }
    bool remove_block(const std::string&, const std::string&) override { return false; }
    std::vector<engine::BlockRule> blocks(const std::optional<std::string>&) override { return {}; }
    std::size_t import_blocks(const std::string&, const std::vector<std::string>&) override { return 0; }
    void set_forward(const std::string&, const ForwardRule&) override {}
    bool clear_forward(const std::string&) override { return false; }
    void set_ooo(const std::string&, const OooRule&) override {}
    bool clear_ooo(const std::string&) override { return false; }
    engine::RuleSet load_rules() override
    {
        if (!state_->fail.empty()) throw StoreError(state_->fail);
        state_->loads++;
        engine::RuleSet r;
        r.domains = state_->domains;
        r.version = state_->version;
        return r;
    }
    std::uint64_t policy_version() override
    {
        if (!state_->fail.empty()) throw StoreError(state_->fail);
        state_->polls++;
        return state_->version;
    }
    std::optional<Time> last_reply(std::string_view, std::string_view) const override { return std::nullopt; }
    bool record_reply_if_due(std::string_view, std::string_view, Time, Time) override { return false; }
    std::size_t prune_replies(Time) override { return 0; }
    std::map<std::string, std::string> ingest_outcomes(std::string_view) override { return {}; }
    void record_ingest_outcomes(std::string_view, const std::vector<IngestOutcome>&, Time) override {}
    std::size_t prune_ingest(Time) override { return 0; }
    void record_outbound(const OutboundRecord&) override {}
    std::optional<OutboundRecord> outbound(std::string_view) override { return std::nullopt; }
    void add_bounced(std::string_view, const std::vector<std::string>&) override {}

  private:
    std::shared_ptr<FakeState> state_;
};

PolicySource fake_source(const std::shared_ptr<FakeState>& state, WatchTiming timing)
{
    return PolicySource([state] { return std::make_unique<FakeStore>(state); }, timing, settings());
}

TEST(PolicySourceFake, BetweenTwoPollsTheStoreIsNotAsked)
{
    auto state = std::make_shared<FakeState>();
    PolicySource source = fake_source(state, WatchTiming{std::chrono::hours(1), {}});
    ASSERT_TRUE(source.refresh());
    const int polls = state->polls;
    state->version = 2;
    EXPECT_FALSE(source.refresh()) << "the poll interval has not passed";
    EXPECT_EQ(state->polls, polls) << "refresh() asked the store between two polls";
    EXPECT_EQ(state->loads, 1);
    EXPECT_TRUE(source.refresh(/*force=*/true));
    EXPECT_EQ(state->loads, 2);
    EXPECT_EQ(source.current()->version(), 2u);
}

TEST(PolicySourceFake, TheFullRefreshReloadsAVersionThatNeverMoves)
{
    auto state = std::make_shared<FakeState>();
    PolicySource never = fake_source(state, WatchTiming{});
    ASSERT_TRUE(never.refresh());
    EXPECT_FALSE(never.refresh()) << "the version did not move and no full refresh is configured";
    EXPECT_EQ(state->loads, 1);

    PolicySource periodic = fake_source(state, WatchTiming{{}, std::chrono::milliseconds(1)});
    ASSERT_TRUE(periodic.refresh());
    EXPECT_EQ(state->loads, 2);
    auto first = periodic.current();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(periodic.refresh()) << "the full refresh was due";
    EXPECT_EQ(state->loads, 3) << "load_rules() was not called again";
    EXPECT_NE(periodic.current(), first);
    EXPECT_EQ(periodic.reloads(), 2u);
}

TEST(PolicySourceFake, AFailingRefreshIsCountedAndReportedUntilOneSucceeds)
{
    auto state = std::make_shared<FakeState>();
    PolicySource source = fake_source(state, WatchTiming{});
    EXPECT_EQ(source.refresh_failures(), 0u);
    EXPECT_EQ(source.last_error(), "");
    EXPECT_FALSE(source.last_success()) << "nothing loaded yet";
    ASSERT_TRUE(source.refresh());
    auto good = source.current();
    ASSERT_TRUE(source.last_success());
    const auto first_success = *source.last_success();

    state->version = 2;
    state->fail = "fake store: unreachable";
    EXPECT_EQ(error_of([&] { source.refresh(); }), "fake store: unreachable");
    EXPECT_EQ(source.refresh_failures(), 1u);
    EXPECT_EQ(source.last_error(), "fake store: unreachable");
    EXPECT_EQ(source.current(), good) << "the last good snapshot is kept";
    EXPECT_EQ(*source.last_success(), first_success) << "a failure is no success";
    const int opens = state->opens;
    state->fail = "fake store: still unreachable";
    error_of([&] { source.refresh(); });
    EXPECT_EQ(state->opens, opens + 1) << "the handle is dropped after a failure and reopened";
    EXPECT_EQ(source.refresh_failures(), 2u);
    EXPECT_EQ(source.last_error(), "fake store: still unreachable");

    state->fail.clear();
    EXPECT_TRUE(source.refresh());
    EXPECT_EQ(source.current()->version(), 2u);
    EXPECT_EQ(source.last_error(), "") << "cleared by a successful refresh";
    EXPECT_EQ(source.refresh_failures(), 2u) << "a count since start";
    EXPECT_GE(*source.last_success(), first_success);
}

// The store file deleted, or replaced (by a restore, by mistake): the next
// refresh must notice. Until a good file is back, it throws and keeps the
// last good snapshot; a new file that is put back is loaded.
TEST_F(Store, PolicySourceNoticesTheFileDeleted)
{
    SqliteStore::init(path_);
    SqliteStore(path_).add_block("@example.com", "*@spam.com");
    PolicySource source = sqlite_source(path_);
    ASSERT_TRUE(source.refresh());
    auto good = source.current();

    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
    std::string err = error_of([&] { source.refresh(); });
    EXPECT_TRUE(has(err, path_)) << "refresh after the store file was deleted: got: " << err
                                 << "\nwant a StoreError naming the file";
    EXPECT_EQ(source.current(), good);
}

TEST_F(Store, PolicySourceNoticesTheFileReplacedWithGarbage)
{
    SqliteStore::init(path_);
    SqliteStore(path_).add_block("@example.com", "*@spam.com");
    PolicySource source = sqlite_source(path_);
    ASSERT_TRUE(source.refresh());
    auto good = source.current();

    // Replace the file (write aside, rename over it: what cp --backup, a
    // restore script or an editor does).
    const std::string aside = dir_ + "/garbage";
    std::ofstream(aside) << std::string(8192, 'x');
    for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
    std::filesystem::rename(aside, path_);
    std::string err = error_of([&] { source.refresh(); });
    EXPECT_TRUE(has(err, path_)) << "refresh after the store file was replaced with garbage: got: " << err
                                 << "\nwant a StoreError naming the file";
    EXPECT_EQ(source.current(), good);
    EXPECT_TRUE(blocks(*source.current(), "bob@spam.com", "user@example.com"));
}

TEST_F(Store, PolicySourceLoadsAStoreFileReplacedByANewOne)
{
    SqliteStore::init(path_);
    SqliteStore(path_).add_block("@example.com", "*@spam.com");
    PolicySource source = sqlite_source(path_);
    ASSERT_TRUE(source.refresh());

    // A new store is prepared aside and moved into place (a restore).
    const std::string aside = dir_ + "/new.db";
    SqliteStore::init(aside);
    {
        SqliteStore n(aside);
        n.add_block("@example.com", "*@evil.org");
    }
    for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(aside + suffix);
    std::filesystem::rename(aside, path_);
    for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(path_ + suffix);

    bool changed = false;
    std::string err = error_of([&] { changed = source.refresh(); });
    if (!changed) changed = source.refresh();  // one failed refresh to notice is acceptable
    EXPECT_TRUE(changed) << "the replaced store file was not loaded (first refresh: " << err << ")";
    ASSERT_NE(source.current(), nullptr);
    EXPECT_TRUE(blocks(*source.current(), "x@evil.org", "user@example.com")) << "the new file's rule must be in force";
    EXPECT_FALSE(blocks(*source.current(), "bob@spam.com", "user@example.com")) << "the old file's rule must be gone";
}

// --- sesame-ingest state -------------------------------------------------------

TEST_F(Store, IngestOutcomesAreRecordedPerSesMessageAndSurviveReopening)
{
    {
        SqliteStore s = fresh();
        EXPECT_TRUE(s.ingest_outcomes("ses-1").empty());
        s.record_ingest_outcomes("ses-1",
                                 {{"a@example.com", "delivered", "250 2.0.0 Ok"},
                                  {"b@example.com", "refused", "550 5.1.1 unknown"},
                                  {"forward:a@example.com", "forwarded", ""}},
                                 1000);
        s.record_ingest_outcomes("ses-2", {{"a@example.com", "blocked", "*@spam.com"}}, 2000);
    }
    SqliteStore s(path_);
    auto got = s.ingest_outcomes("ses-1");
    EXPECT_EQ(got.size(), 3u);
    EXPECT_EQ(got["a@example.com"], "delivered");
    EXPECT_EQ(got["b@example.com"], "refused");
    EXPECT_EQ(got["forward:a@example.com"], "forwarded");
    EXPECT_EQ(s.ingest_outcomes("ses-2").at("a@example.com"), "blocked") << "state is kept per SES message id";
    EXPECT_EQ(s.prune_ingest(1500), 3u);
    EXPECT_TRUE(s.ingest_outcomes("ses-1").empty());
    EXPECT_EQ(s.ingest_outcomes("ses-2").size(), 1u);
}

TEST_F(Store, OutboundRecordsCollectBouncedRecipients)
{
    SqliteStore s = fresh();
    EXPECT_FALSE(s.outbound("0100abc").has_value());
    s.record_outbound({"0100abc", "alex@example.com", {"x@remote.org", "y@remote.org"}, 1000, {}});
    s.add_bounced("0100abc", {"x@remote.org"});
    s.add_bounced("0100abc", {"x@remote.org", "y@remote.org"});
    s.add_bounced("unknown-id", {"z@remote.org"});
    auto r = s.outbound("0100abc");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->original_source, "alex@example.com");
    EXPECT_EQ(r->destination, (std::vector<std::string>{"x@remote.org", "y@remote.org"}));
    EXPECT_EQ(r->sent_at, 1000);
    EXPECT_EQ(r->bounced_recipients, (std::vector<std::string>{"x@remote.org", "y@remote.org"}))
        << "each bounced recipient once";
    EXPECT_FALSE(s.outbound("unknown-id").has_value()) << "a bounce for an unknown id creates nothing";
}

}  // namespace
}  // namespace sesame::store
