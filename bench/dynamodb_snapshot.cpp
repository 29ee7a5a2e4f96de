// dynamodb_snapshot.cpp - the policy snapshot loaded from DynamoDB, against sqlite.
//
// An end-to-end measurement, not a Google Benchmark: what a daemon pays to
// (re)load its snapshot from the DynamoDB store (the three Scans of
// DynamoStore::load_rules(), then Snapshot::build()) against the same
// policy in sqlite, and what it pays to watch for changes (one GetItem per
// poll). Run by bench/dynamodb_snapshot.sh against dynalite; not a test.
//
//   dynamodb_snapshot --endpoint URL --patterns N [--keys K] [--rounds R]
//                     [--writers W] [--polls P] [--workdir DIR]
//                     [--server-pid PID] [--seed S]
//
// 1. The blocklist: bench/patterns.hpp's make_corpus(N) (the seed of
//    blocklist_bench, so the same rows as the earlier sections), its
//    per-mailbox rows (15 %) spread over K mailboxes (default 1,000, the
//    corpus's recipient among them) instead of make_corpus's N/200: half
//    the rows under "*", 35 % under "@example.com", the rest on the
//    mailboxes. Plus one local domain, example.com.
// 2. Seeding, timed: a scratch sqlite file (SqliteStore::init, one
//    import_blocks per key) and six tables with a unique prefix made by
//    DynamoStore::init(), then import_blocks per key (BatchWriteItem, 25
//    items a call) from W threads, each with its own DynamoStore and
//    connection, keys dealt largest first to the least loaded thread.
// 3. Verification: both stores' load_rules() must give the seeded rows,
//    identical between the backends (exit status 1 otherwise), and the two
//    snapshots the same decision for 2,048 senders (evaluate(), timed).
// 4. R rounds, alternating which backend goes first; each load runs in a
//    fresh child process (this program again, with --load-only) so that
//    its resident-set figures start from a clean heap: load_rules() and
//    build() timed (wall and CPU; with --server-pid, dynalite's CPU too),
//    the RSS growth with the RuleSet, with the RuleSet and the Snapshot,
//    with the Snapshot alone, after malloc_trim(0), and the peak (VmHWM).
//    Each child also hashes the RuleSet, and every hash must agree.
// 5. Polling: P timed policy_version() calls; the Scan pages, items and
//    bytes of one full load (each table scanned page by page), hence the
//    requests a minute per daemon at the defaults (poll_seconds 5,
//    refresh_seconds 300): 12 GetItems plus (1 GetItem + the pages) / 5.
//
// Output: JSON lines (each starting with '{', "type" says which) as the
// figures come, then a human summary. AWS credentials come from the
// environment as for any Sesame program (dynalite checks none).
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include "aws/dynamodb/dynamo_store.hpp"
#include "aws/sdk/dynamodb.hpp"
#include "bench/patterns.hpp"
#include "policy/engine/address.hpp"
#include "policy/engine/evaluate.hpp"
#include "policy/engine/snapshot.hpp"
#include "policy/store/sqlite_store.hpp"

namespace sesame::bench {
namespace {

using nlohmann::json;

constexpr std::uint64_t kSeed = 0x5e5a3e;  // blocklist_bench's
constexpr engine::Time kNow = 1'717'200'000;
constexpr double kPollSeconds = 5, kRefreshSeconds = 300;  // [store.dynamodb]'s defaults

struct Options {
    std::string endpoint;
    std::size_t patterns = 0;
    std::size_t keys = 1000;  // individual mailboxes, beside "*" and "@example.com"
    int rounds = 3;
    int writers = 2;
    int polls = 200;
    std::uint64_t seed = kSeed;
    std::string workdir;  // for the sqlite file; default a fresh directory in TMPDIR
    long server_pid = 0;  // dynalite's, to read its CPU time and RSS
    // --load-only: one load in this process, figures as one JSON line.
    std::string load_only;  // "sqlite" or "dynamodb"
    std::string sqlite_path;
    std::string prefix;
};

[[noreturn]] void usage(const std::string& why)
{
    std::cerr << "dynamodb_snapshot: " << why
              << "\nusage: dynamodb_snapshot --endpoint URL --patterns N [--keys K] [--rounds R] [--writers W]"
                 " [--polls P] [--workdir DIR] [--server-pid PID] [--seed S]\n";
    std::exit(2);
}

Options parse(int argc, char** argv)
{
    Options o;
    auto number = [](const std::string& name, const char* v) {
        char* end = nullptr;
        errno = 0;
        const unsigned long long n = std::strtoull(v, &end, 10);
        if (errno || !end || *end || !*v) usage(name + " wants a number, not " + v);
        return n;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage(a + " wants a value");
        const char* v = argv[++i];
        if (a == "--endpoint")
            o.endpoint = v;
        else if (a == "--patterns")
            o.patterns = number(a, v);
        else if (a == "--keys")
            o.keys = number(a, v);
        else if (a == "--rounds")
            o.rounds = static_cast<int>(number(a, v));
        else if (a == "--writers")
            o.writers = static_cast<int>(number(a, v));
        else if (a == "--polls")
            o.polls = static_cast<int>(number(a, v));
        else if (a == "--seed")
            o.seed = number(a, v);
        else if (a == "--workdir")
            o.workdir = v;
        else if (a == "--server-pid")
            o.server_pid = static_cast<long>(number(a, v));
        else if (a == "--load-only")
            o.load_only = v;
        else if (a == "--sqlite")
            o.sqlite_path = v;
        else if (a == "--prefix")
            o.prefix = v;
        else
            usage("unknown option " + a);
    }
    if (!o.load_only.empty()) {
        if (o.load_only == "sqlite" && o.sqlite_path.empty()) usage("--load-only sqlite wants --sqlite");
        if (o.load_only == "dynamodb" && (o.endpoint.empty() || o.prefix.empty()))
            usage("--load-only dynamodb wants --endpoint and --prefix");
        if (o.load_only != "sqlite" && o.load_only != "dynamodb") usage("--load-only is sqlite or dynamodb");
        return o;
    }
    if (o.endpoint.empty()) usage("--endpoint is required");
    if (o.patterns == 0) usage("--patterns is required");
    if (o.keys == 0 || o.rounds < 1 || o.writers < 1 || o.polls < 1)
        usage("--keys, --rounds, --writers, --polls must be positive");
    return o;
}

// --- measuring ---------------------------------------------------------------

double seconds_now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// utime + stime of process PID, in seconds; 0 when PID is 0 or gone.
double process_cpu_seconds(long pid)
{
    if (pid <= 0) return 0;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = s.rfind(')');
    if (paren == std::string::npos) return 0;
    std::istringstream fields(s.substr(paren + 2));  // from field 3, the state
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
        if (i == 14) utime = std::stoull(f);
        if (i == 15) stime = std::stoull(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Memory {
    long rss_kb = 0;  // VmRSS
    long hwm_kb = 0;  // VmHWM
};

Memory memory_of(const std::string& pid = "self")
{
    Memory m;
    std::ifstream in("/proc/" + pid + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) m.rss_kb = std::stol(line.substr(6));
        if (line.rfind("VmHWM:", 0) == 0) m.hwm_kb = std::stol(line.substr(6));
    }
    return m;
}

// Resets VmHWM to the present RSS (Linux 4.0+), so a peak is this phase's.
void reset_peak()
{
    std::ofstream("/proc/self/clear_refs") << "5";
}

double mb(long kb)
{
    return static_cast<double>(kb) * 1024 / 1e6;
}

double median(std::vector<double> v)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// FNV-1a over the domains and (key, pattern) rows in their order.
std::string digest(const engine::RuleSet& r)
{
    std::uint64_t h = 0xcbf29ce484222325ULL;
    auto add = [&](std::string_view s) {
        for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
        h = (h ^ 0xff) * 0x100000001b3ULL;  // a separator no string contains
    };
    for (const auto& d : r.domains) add(d);
    add("--");
    for (const auto& b : r.blocks) {
        add(b.key);
        add(b.pattern);
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

engine::PolicySettings settings()
{
    engine::PolicySettings s;
    s.domains = {"example.com"};
    return s;
}

// --- the stores --------------------------------------------------------------

dynamodb::Tables prefixed(const std::string& p)
{
    dynamodb::Tables t;
    for (std::string* name : {&t.rules, &t.blocked_senders, &t.outbound, &t.policy, &t.reply_state, &t.ingest_state})
        *name = p + *name;
    return t;
}

std::shared_ptr<const aws::ServiceContext> context(const std::string& endpoint)
{
    auto ctx = std::make_shared<aws::ServiceContext>();
    ctx->endpoint = endpoint;
    if (const char* r = std::getenv("AWS_REGION"); r && *r) ctx->region = r;
    ctx->credentials = std::make_shared<aws::CredentialsProvider>();
    return ctx;
}

// --- one load, in a fresh process ----------------------------------------------

int load_only(const Options& o)
{
    std::unique_ptr<engine::Store> store;
    if (o.load_only == "sqlite")
        store = std::make_unique<store::SqliteStore>(o.sqlite_path, true);
    else
        store = std::make_unique<dynamodb::DynamoStore>(context(o.endpoint), prefixed(o.prefix));
    // A daemon has its handle open and has polled the version before it
    // loads; so has this process (DynamoDB: the connection is up).
    store->policy_version();
    malloc_trim(0);
    reset_peak();
    const Memory base = memory_of();

    const double c0 = cpu_seconds(), s0 = process_cpu_seconds(o.server_pid), t0 = seconds_now();
    engine::RuleSet rules = store->load_rules();
    const double t1 = seconds_now(), c1 = cpu_seconds(), s1 = process_cpu_seconds(o.server_pid);
    const Memory with_rules = memory_of();
    auto snapshot = engine::Snapshot::build(rules, settings());
    const double t2 = seconds_now(), c2 = cpu_seconds();
    const Memory with_both = memory_of();
    const std::string hash = digest(rules);
    const std::size_t blocks = rules.blocks.size(), domains = rules.domains.size();
    rules = engine::RuleSet{};  // as PolicySource: the RuleSet goes once the snapshot is built
    const Memory alone = memory_of();
    malloc_trim(0);
    const Memory trimmed = memory_of();

    json j = {{"type", "load"},
              {"backend", o.load_only},
              {"load_s", t1 - t0},
              {"load_cpu_s", c1 - c0},
              {"build_s", t2 - t1},
              {"build_cpu_s", c2 - c1},
              {"rss_base_mb", mb(base.rss_kb)},
              {"rss_rules_mb", mb(with_rules.rss_kb - base.rss_kb)},
              {"rss_rules_and_snapshot_mb", mb(with_both.rss_kb - base.rss_kb)},
              {"rss_snapshot_mb", mb(alone.rss_kb - base.rss_kb)},
              {"rss_snapshot_trimmed_mb", mb(trimmed.rss_kb - base.rss_kb)},
              {"peak_mb", mb(trimmed.hwm_kb - base.rss_kb)},
              {"memory_bytes_mb", static_cast<double>(snapshot->blocks().memory_bytes()) / 1e6},
              {"blocks", blocks},
              {"snapshot_blocks", snapshot->counts().blocks},
              {"domains", domains},
              {"digest", hash}};
    if (o.server_pid > 0) j["server_cpu_s"] = s1 - s0;
    std::cout << j.dump() << std::endl;
    return 0;
}

// Runs this program with ARGS (after argv[0]); its stdout's last JSON line.
json run_child(const std::vector<std::string>& args)
{
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        std::vector<char*> argv{const_cast<char*>("dynamodb_snapshot")};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv("/proc/self/exe", argv.data());
        std::perror("dynamodb_snapshot: execv /proc/self/exe");
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("the --load-only child failed (status " + std::to_string(status) + "): " + out);
    const auto start = out.rfind("\n{", out.size() >= 2 ? out.size() - 2 : 0);
    return json::parse(out.substr(start == std::string::npos ? 0 : start + 1));
}

// --- the corpus ---------------------------------------------------------------

struct Seed {
    Corpus corpus;  // rows with their final keys; recipient = the first mailbox
    std::map<std::string, std::vector<std::string>> by_key;
    std::size_t dropped = 0;  // mailbox rows that found no mailbox without that pattern
};

Seed make_seed(std::size_t n, std::size_t mailboxes, std::uint64_t seed)
{
    Seed s;
    s.corpus = make_corpus(n, seed);
    Rng r(seed ^ 0xd1a1u);
    std::vector<std::string> boxes{s.corpus.recipient};
    std::unordered_set<std::string> names(boxes.begin(), boxes.end());
    while (boxes.size() < mailboxes) {
        std::string b = word(r, 2, 3) + "." + word(r, 2, 3) + "@example.com";
        if (names.insert(b).second) boxes.push_back(std::move(b));
    }
    std::unordered_set<std::string> seen;
    std::vector<engine::BlockRule> rows;
    rows.reserve(s.corpus.rules.blocks.size());
    for (auto& b : s.corpus.rules.blocks) {
        if (b.key != "*" && b.key != "@example.com") {
            const std::size_t at = r.below(boxes.size());
            bool placed = false;
            for (std::size_t i = 0; i < boxes.size() && !placed; ++i) {
                const std::string& key = boxes[(at + i) % boxes.size()];
                if (seen.insert(key + '\n' + b.pattern).second) {
                    b.key = key;
                    placed = true;
                }
            }
            if (!placed) {
                ++s.dropped;
                continue;
            }
        }
        s.by_key[b.key].push_back(b.pattern);
        rows.push_back(std::move(b));
    }
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return std::tie(a.key, a.pattern) < std::tie(b.key, b.pattern); });
    s.corpus.rules.blocks = std::move(rows);
    return s;
}

// --- the run ---------------------------------------------------------------------

void emit(const json& j)
{
    std::cout << j.dump() << std::endl;
}

std::string fmt(const char* f, double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string with_commas(std::size_t n)
{
    const std::string digits = std::to_string(n);
    std::string s;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
        s += digits[i];
    }
    return s;
}

// The first difference between two RuleSets' domains and blocks, or "".
std::string difference(const engine::RuleSet& a, const engine::RuleSet& b)
{
    if (a.domains != b.domains) return "the domains differ";
    if (a.blocks.size() != b.blocks.size())
        return std::to_string(a.blocks.size()) + " against " + std::to_string(b.blocks.size()) + " block rows";
    for (std::size_t i = 0; i < a.blocks.size(); ++i)
        if (a.blocks[i].key != b.blocks[i].key || a.blocks[i].pattern != b.blocks[i].pattern)
            return "row " + std::to_string(i) + ": " + a.blocks[i].key + " " + a.blocks[i].pattern + " against " +
                   b.blocks[i].key + " " + b.blocks[i].pattern;
    return "";
}

// DynamoDB's size of an item (what read units and the 1 MB page count):
// attribute names and values, a number as its digits in base 100.
std::size_t item_bytes(const aws::Item& item)
{
    std::size_t n = 0;
    for (const auto& [name, v] : item) {
        n += name.size();
        if (v.type == aws::AttributeValue::Type::N)
            n += (v.text.size() + 1) / 2 + 1;
        else if (v.type == aws::AttributeValue::Type::S)
            n += v.text.size();
        else
            n += 8;  // not written by this benchmark
    }
    return n;
}

int run(const Options& o)
{
    const std::string prefix =
        "bench-" + std::to_string(getpid()) + "-" +
        std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000) + "-";
    std::filesystem::path dir = o.workdir;
    bool own_dir = false;
    if (dir.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/sesame-dynbench.XXXXXX";
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
        dir = tmpl;
        own_dir = true;
    }
    const std::string db = (dir / ("policy-" + std::to_string(o.patterns) + ".db")).string();
    std::filesystem::remove(db);
    std::filesystem::remove(db + "-wal");
    std::filesystem::remove(db + "-shm");
    struct Cleanup {
        std::filesystem::path dir, db;
        bool own;
        ~Cleanup()
        {
            std::error_code ec;
            for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix, ec);
            if (own) std::filesystem::remove(dir, ec);
        }
    } cleanup{dir, db, own_dir};

    // 1. The corpus.
    double t = seconds_now();
    const Seed seed = make_seed(o.patterns, o.keys, o.seed);
    const auto& expected = seed.corpus.rules;
    std::size_t star = 0, domain_key = 0;
    for (const auto& [k, ps] : seed.by_key) {
        if (k == "*") star = ps.size();
        if (k == "@example.com") domain_key = ps.size();
    }
    emit({{"type", "corpus"},
          {"patterns", expected.blocks.size()},
          {"keys", seed.by_key.size()},
          {"mailboxes", seed.by_key.size() - (star ? 1 : 0) - (domain_key ? 1 : 0)},
          {"under_star", star},
          {"under_domain", domain_key},
          {"dropped", seed.dropped},
          {"generate_s", seconds_now() - t}});

    // 2. Seeding.
    t = seconds_now();
    store::SqliteStore::init(db);
    std::size_t sqlite_added = 0;
    {
        store::SqliteStore s(db);
        s.add_domain("example.com");
        for (const auto& [k, ps] : seed.by_key) sqlite_added += s.import_blocks(k, ps);
    }
    const double sqlite_seed_s = seconds_now() - t;
    const auto sqlite_file_mb = static_cast<double>(std::filesystem::file_size(db)) / 1e6;
    emit({{"type", "seed"},
          {"backend", "sqlite"},
          {"seconds", sqlite_seed_s},
          {"rows", sqlite_added},
          {"file_mb", sqlite_file_mb}});

    const auto ctx = context(o.endpoint);
    const dynamodb::Tables tables = prefixed(prefix);
    t = seconds_now();
    {
        dynamodb::DynamoStore s(ctx, tables);
        s.init();
        s.add_domain("example.com");
    }
    const double init_s = seconds_now() - t;
    // Keys largest first, each to the writer with the fewest rows so far.
    std::vector<const std::pair<const std::string, std::vector<std::string>>*> order;
    for (const auto& kv : seed.by_key) order.push_back(&kv);
    std::stable_sort(order.begin(), order.end(),
                     [](const auto* a, const auto* b) { return a->second.size() > b->second.size(); });
    const std::size_t writers = std::min<std::size_t>(static_cast<std::size_t>(o.writers), order.size());
    std::vector<std::vector<const std::pair<const std::string, std::vector<std::string>>*>> share(writers);
    std::vector<std::size_t> load(writers, 0);
    for (const auto* kv : order) {
        const auto w = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        share[w].push_back(kv);
        load[w] += kv->second.size();
    }
    std::vector<std::size_t> added(writers, 0);
    std::vector<double> writer_s(writers, 0);
    std::vector<std::exception_ptr> failed(writers);
    const double server0 = process_cpu_seconds(o.server_pid);
    t = seconds_now();
    {
        std::vector<std::thread> threads;
        for (std::size_t w = 0; w < writers; ++w)
            threads.emplace_back([&, w] {
                try {
                    dynamodb::DynamoStore s(ctx, tables);
                    for (const auto* kv : share[w]) added[w] += s.import_blocks(kv->first, kv->second);
                    writer_s[w] = seconds_now() - t;
                } catch (...) {
                    failed[w] = std::current_exception();
                }
            });
        for (auto& th : threads) th.join();
    }
    const double dynamo_seed_s = seconds_now() - t;
    const double seed_server_cpu = process_cpu_seconds(o.server_pid) - server0;
    for (auto& f : failed)
        if (f) std::rethrow_exception(f);
    std::size_t dynamo_added = 0;
    for (auto a : added) dynamo_added += a;
    json seed_line = {{"type", "seed"},
                      {"backend", "dynamodb"},
                      {"seconds", dynamo_seed_s},
                      {"init_s", init_s},
                      {"rows", dynamo_added},
                      {"writers", writers},
                      {"writer_rows", load},
                      {"writer_s", writer_s},
                      {"batch_write_calls", (dynamo_added + 24) / 25},
                      {"items_per_s", static_cast<double>(dynamo_added) / dynamo_seed_s}};
    if (o.server_pid > 0) {
        seed_line["server_cpu_s"] = seed_server_cpu;
        seed_line["server_rss_mb"] = mb(memory_of(std::to_string(o.server_pid)).rss_kb);
    }
    emit(seed_line);

    // 3. Verification: the same rows from both, and the same decisions.
    bool ok = true;
    engine::RuleSet from_sqlite = store::SqliteStore(db, true).load_rules();
    engine::RuleSet from_dynamodb = dynamodb::DynamoStore(ctx, tables).load_rules();
    engine::RuleSet seeded;
    seeded.domains = {"example.com"};
    seeded.blocks = expected.blocks;
    const std::string vs_seed = difference(seeded, from_sqlite), vs_dynamo = difference(from_sqlite, from_dynamodb);
    ok = ok && vs_seed.empty() && vs_dynamo.empty();

    const auto snap_sqlite = engine::Snapshot::build(from_sqlite, settings());
    const auto snap_dynamodb = engine::Snapshot::build(from_dynamodb, settings());
    const std::string recipient = seed.corpus.recipient;
    const auto keys = engine::lookup_keys(*engine::parse_address(recipient), settings().recipient_delimiter);
    std::vector<const std::string*> path;
    for (const auto& k : keys)
        if (auto it = seed.by_key.find(k); it != seed.by_key.end())
            for (const auto& p : it->second) path.push_back(&p);
    Rng r(o.seed ^ o.patterns);
    std::vector<std::string> senders;
    for (int i = 0; i < 1024 && !path.empty(); ++i) senders.push_back(matching_sender(*path[r.below(path.size())], r));
    for (std::size_t tries = 0, clean = 0; clean < 1024 && tries < 100000; ++tries) {
        std::string s = clean_candidate(seed.corpus, r);
        if (snap_sqlite->blocks().find(s, keys)) continue;
        senders.push_back(std::move(s));
        ++clean;
    }
    struct Message {
        engine::Envelope envelope;
        engine::MessageInfo info;
    };
    std::vector<Message> messages;
    for (const auto& s : senders) {
        Message m;
        m.envelope = {s, {recipient}};
        m.info.from_address = s;
        m.info.to_cc = {recipient};
        m.info.subject = "Quarterly figures";
        m.info.message_id = "<bench." + std::to_string(messages.size()) + "@" + s.substr(s.rfind('@') + 1) + ">";
        m.info.received_count = 3;
        messages.push_back(std::move(m));
    }
    std::size_t decisions_differ = 0, rejected = 0;
    for (const auto& m : messages) {
        const auto a = engine::evaluate(*snap_sqlite, m.envelope, m.info, kNow, nullptr);
        const auto b = engine::evaluate(*snap_dynamodb, m.envelope, m.info, kNow, nullptr);
        const auto& ra = a.recipients.front();
        const auto& rb = b.recipients.front();
        if (ra.verdict != rb.verdict || ra.trace != rb.trace || ra.smtp != rb.smtp) ++decisions_differ;
        rejected += ra.verdict == engine::Verdict::reject;
    }
    ok = ok && decisions_differ == 0;
    // Evaluation speed on each: interleaved passes over the 2,048 messages.
    std::vector<double> eval_ns[2];
    for (int pass = 0; pass < 10; ++pass)
        for (int which = 0; which < 2; ++which) {
            const engine::Snapshot& snap = (which ^ (pass & 1)) ? *snap_dynamodb : *snap_sqlite;
            const double e0 = seconds_now();
            std::size_t sink = 0;
            for (int rep = 0; rep < 20; ++rep)
                for (const auto& m : messages)
                    sink += engine::evaluate(snap, m.envelope, m.info, kNow, nullptr).recipients.front().trace.size();
            const double per = (seconds_now() - e0) / (20.0 * static_cast<double>(messages.size())) * 1e9;
            eval_ns[(which ^ (pass & 1)) ? 1 : 0].push_back(per + static_cast<double>(sink % 2) * 1e-9);
        }
    emit({{"type", "verify"},
          {"identical", vs_dynamo.empty()},
          {"as_seeded", vs_seed.empty()},
          {"difference", vs_dynamo.empty() ? vs_seed : vs_dynamo},
          {"blocks", from_dynamodb.blocks.size()},
          {"domains", from_dynamodb.domains.size()},
          {"senders", messages.size()},
          {"rejected", rejected},
          {"decisions_differ", decisions_differ},
          {"evaluate_ns_sqlite", median(eval_ns[0])},
          {"evaluate_ns_dynamodb", median(eval_ns[1])}});
    if (!ok) {
        std::cerr << "dynamodb_snapshot: the backends DIFFER: "
                  << (!vs_dynamo.empty() ? "sqlite against DynamoDB: " + vs_dynamo
                      : !vs_seed.empty() ? "seeded against sqlite: " + vs_seed
                                         : std::to_string(decisions_differ) + " decisions")
                  << "\n";
        return 1;
    }
    const std::string expected_digest = digest(from_sqlite);
    from_sqlite = {};
    from_dynamodb = {};

    // 4. Rounds: each load in a fresh process.
    std::map<std::string, std::vector<json>> loads;
    for (int round = 0; round < o.rounds; ++round) {
        for (int i = 0; i < 2; ++i) {
            const std::string backend = (i ^ (round & 1)) ? "dynamodb" : "sqlite";
            std::vector<std::string> args{"--load-only",  backend,
                                          "--sqlite",     db,
                                          "--endpoint",   o.endpoint,
                                          "--prefix",     prefix,
                                          "--server-pid", std::to_string(o.server_pid)};
            json j = run_child(args);
            j["round"] = round + 1;
            emit(j);
            if (j.value("digest", "") != expected_digest) {
                std::cerr << "dynamodb_snapshot: round " << round + 1 << ", " << backend
                          << ": the RuleSet's hash differs from the verified one\n";
                ok = false;
            }
            loads[backend].push_back(std::move(j));
        }
    }

    // 5. Polling: the version GetItem, and the pages of one full load.
    dynamodb::DynamoStore poller(ctx, tables);
    for (int i = 0; i < 10; ++i) poller.policy_version();
    std::vector<double> poll_ms;
    const double pc0 = cpu_seconds(), ps0 = process_cpu_seconds(o.server_pid);
    for (int i = 0; i < o.polls; ++i) {
        const double p0 = seconds_now();
        poller.policy_version();
        poll_ms.push_back((seconds_now() - p0) * 1e3);
    }
    const double poll_cpu_us = (cpu_seconds() - pc0) / o.polls * 1e6;
    const double poll_server_us = (process_cpu_seconds(o.server_pid) - ps0) / o.polls * 1e6;
    double poll_sum = 0;
    for (double v : poll_ms) poll_sum += v;
    std::vector<double> sorted_poll = poll_ms;
    std::sort(sorted_poll.begin(), sorted_poll.end());
    const double poll_p99 = sorted_poll[std::min(sorted_poll.size() - 1, sorted_poll.size() * 99 / 100)];

    aws::DynamoClient raw(*ctx);
    std::size_t pages = 0, items = 0, bytes = 0, read_units = 0;
    json per_table = json::object();
    double scan_s = 0;
    for (const std::string& table : {tables.policy, tables.blocked_senders, tables.rules}) {
        aws::Item start;
        std::size_t tp = 0, ti = 0, tb = 0;
        const double s0 = seconds_now();
        do {
            aws::ScanPage page = raw.scan(table, start);
            std::size_t pb = 0;
            for (const auto& item : page.items) pb += item_bytes(item);
            read_units += std::max<std::size_t>(1, (pb + 4095) / 4096);  // consistent: 4 KB a unit, per page
            ++tp;
            ti += page.items.size();
            tb += pb;
            start = std::move(page.last_key);
        } while (!start.empty());
        scan_s += seconds_now() - s0;
        pages += tp;
        items += ti;
        bytes += tb;
        per_table[table.substr(prefix.size())] = {{"pages", tp}, {"items", ti}, {"bytes", tb}};
    }
    const double requests_per_load = 1.0 + static_cast<double>(pages);  // load_rules: GetItem + Scan pages
    const double rpm = 60.0 / kPollSeconds + requests_per_load * 60.0 / kRefreshSeconds;
    const double rru_per_min = 60.0 / kPollSeconds + (1.0 + static_cast<double>(read_units)) * 60.0 / kRefreshSeconds;
    json poll_line = {{"type", "poll"},
                      {"calls", o.polls},
                      {"get_item_mean_ms", poll_sum / static_cast<double>(o.polls)},
                      {"get_item_median_ms", median(poll_ms)},
                      {"get_item_p99_ms", poll_p99},
                      {"get_item_client_cpu_us", poll_cpu_us},
                      {"scan_pages", pages},
                      {"scan_items", items},
                      {"scan_bytes", bytes},
                      {"scan_seconds", scan_s},
                      {"tables", per_table},
                      {"requests_per_load", requests_per_load},
                      {"poll_seconds", kPollSeconds},
                      {"refresh_seconds", kRefreshSeconds},
                      {"requests_per_minute", rpm},
                      {"read_units_per_load", 1 + read_units},
                      {"read_units_per_minute", rru_per_min}};
    if (o.server_pid > 0) {
        poll_line["get_item_server_cpu_us"] = poll_server_us;
        poll_line["server_rss_mb"] = mb(memory_of(std::to_string(o.server_pid)).rss_kb);
    }
    emit(poll_line);

    // Summary.
    auto med = [&](const std::string& backend, const char* field) {
        std::vector<double> v;
        for (const auto& j : loads[backend]) v.push_back(j.value(field, 0.0));
        return median(v);
    };
    const double sl = med("sqlite", "load_s"), dl = med("dynamodb", "load_s");
    json summary = {{"type", "summary"},
                    {"patterns", expected.blocks.size()},
                    {"keys", seed.by_key.size()},
                    {"rounds", o.rounds},
                    {"identical", ok},
                    {"sqlite_seed_s", sqlite_seed_s},
                    {"dynamodb_seed_s", dynamo_seed_s},
                    {"dynamodb_init_s", init_s},
                    {"writers", writers},
                    {"sqlite_load_s", sl},
                    {"dynamodb_load_s", dl},
                    {"load_ratio", sl > 0 ? dl / sl : 0},
                    {"sqlite_load_cpu_s", med("sqlite", "load_cpu_s")},
                    {"dynamodb_load_cpu_s", med("dynamodb", "load_cpu_s")},
                    {"dynamodb_load_server_cpu_s", med("dynamodb", "server_cpu_s")},
                    {"sqlite_build_s", med("sqlite", "build_s")},
                    {"dynamodb_build_s", med("dynamodb", "build_s")},
                    {"sqlite_rss_rules_mb", med("sqlite", "rss_rules_mb")},
                    {"dynamodb_rss_rules_mb", med("dynamodb", "rss_rules_mb")},
                    {"sqlite_rss_snapshot_mb", med("sqlite", "rss_snapshot_mb")},
                    {"dynamodb_rss_snapshot_mb", med("dynamodb", "rss_snapshot_mb")},
                    {"sqlite_rss_snapshot_trimmed_mb", med("sqlite", "rss_snapshot_trimmed_mb")},
                    {"dynamodb_rss_snapshot_trimmed_mb", med("dynamodb", "rss_snapshot_trimmed_mb")},
                    {"sqlite_peak_mb", med("sqlite", "peak_mb")},
                    {"dynamodb_peak_mb", med("dynamodb", "peak_mb")},
                    {"memory_bytes_mb", med("sqlite", "memory_bytes_mb")},
                    {"get_item_mean_ms", poll_sum / static_cast<double>(o.polls)},
                    {"scan_pages", pages},
                    {"requests_per_minute", rpm},
                    {"evaluate_ns_sqlite", median(eval_ns[0])},
                    {"evaluate_ns_dynamodb", median(eval_ns[1])}};
    emit(summary);

    std::cout << "\n== " << with_commas(expected.blocks.size()) << " patterns under " << with_commas(seed.by_key.size())
              << " keys (" << with_commas(star) << " under *, " << with_commas(domain_key) << " under @example.com), "
              << o.rounds << " rounds, medians ==\n"
              << "  RuleSets: sqlite and DynamoDB " << (ok ? "IDENTICAL" : "DIFFER") << " ("
              << with_commas(expected.blocks.size()) << " rows, as seeded; " << messages.size()
              << " decisions the same on both snapshots)\n"
              << "  seeding: sqlite " << fmt("%.1f s", sqlite_seed_s) << "; DynamoDB " << fmt("%.1f s", dynamo_seed_s)
              << " (" << writers << " writers, "
              << fmt("%.0f items/s", static_cast<double>(dynamo_added) / dynamo_seed_s) << ", tables "
              << fmt("%.2f s", init_s) << ")\n"
              << "  load_rules: sqlite " << fmt("%.3f s", sl) << ", DynamoDB " << fmt("%.3f s", dl) << "  ("
              << fmt("%.1f×", sl > 0 ? dl / sl : 0) << "; client CPU " << fmt("%.2f s", med("dynamodb", "load_cpu_s"))
              << (o.server_pid > 0 ? ", dynalite CPU " + fmt("%.2f s", med("dynamodb", "server_cpu_s")) : "") << ")\n"
              << "  Snapshot::build: " << fmt("%.3f s", med("sqlite", "build_s")) << " (sqlite's RuleSet), "
              << fmt("%.3f s", med("dynamodb", "build_s")) << " (DynamoDB's)\n"
              << "  RSS growth, sqlite / DynamoDB: RuleSet " << fmt("%.1f", med("sqlite", "rss_rules_mb")) << " / "
              << fmt("%.1f MB", med("dynamodb", "rss_rules_mb")) << "; snapshot alone "
              << fmt("%.1f", med("sqlite", "rss_snapshot_mb")) << " / "
              << fmt("%.1f MB", med("dynamodb", "rss_snapshot_mb")) << " ("
              << fmt("%.1f", med("sqlite", "rss_snapshot_trimmed_mb")) << " / "
              << fmt("%.1f MB", med("dynamodb", "rss_snapshot_trimmed_mb")) << " after malloc_trim); peak "
              << fmt("%.1f", med("sqlite", "peak_mb")) << " / " << fmt("%.1f MB", med("dynamodb", "peak_mb")) << "\n"
              << "  evaluate(): " << fmt("%.0f ns", median(eval_ns[0])) << " on sqlite's snapshot, "
              << fmt("%.0f ns", median(eval_ns[1])) << " on DynamoDB's (same class, same data)\n"
              << "  polling: GetItem " << fmt("%.2f ms", poll_sum / static_cast<double>(o.polls)) << " mean ("
              << fmt("p99 %.2f ms", poll_p99) << "); a full load is " << pages << " Scan pages (" << with_commas(items)
              << " items, " << fmt("%.1f MB", static_cast<double>(bytes) / 1e6) << ") + 1 GetItem\n"
              << "  per daemon at poll 5 s / refresh 300 s: " << fmt("%.1f requests/min", rpm) << " ("
              << fmt("%.1f read units/min", rru_per_min) << ")\n";
    return ok ? 0 : 1;
}

}  // namespace
}  // namespace sesame::bench

int main(int argc, char** argv)
{
    try {
        const auto o = sesame::bench::parse(argc, argv);
        if (!o.load_only.empty()) return sesame::bench::load_only(o);
        return sesame::bench::run(o);
    } catch (const std::exception& e) {
        std::cerr << "dynamodb_snapshot: " << e.what() << "\n";
        return 1;
    }
}
