// blocklist_bench.cpp - what the blocklist check costs as the list grows.
//
// DESIGN.md asks that a million patterns cost about what ten do. Each size
// (->Arg: 10, 1,000, 100,000, 1,000,000 rows from bench/patterns.hpp) is
// measured four ways:
//   BM_Evaluate/{clean,blocked}/N  the full engine path: engine::evaluate()
//       for an Envelope with one recipient and a From: equal to the envelope
//       sender, on a Snapshot built from the rows. One iteration is one
//       recipient. "clean" senders match nothing (every probe misses, the
//       worst case); "blocked" ones are each blocked by one row on the
//       recipient's keys.
//   BM_Linear/{clean,blocked}/N    the older workers' way, the baseline:
//       every pattern of the recipient's keys, most specific key first,
//       through fnmatch(3) with FNM_CASEFOLD until one matches.
//   BM_IndexFind/clean/N           BlockIndex::find() alone, to tell the
//       index's share of BM_Evaluate from the rest of evaluate().
//   BM_SnapshotBuild/N             Snapshot::build() from the RuleSet, with
//       the index's memory_bytes() and the resident-set growth (statm, and
//       the peak from VmHWM, and again after malloc_trim) of the first
//       build of each run as counters.
// Senders cycle through 1,024 addresses so that the index is not probed hot
// in cache at one spot. Every iteration checks its verdict against the
// expected one and the benchmark fails (SkipWithError) on a disagreement, so
// the baseline doubles as a cross-check of the index against fnmatch.
// bench/run.sh runs this and writes docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <fnmatch.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/patterns.hpp"
#include "policy/engine/address.hpp"
#include "policy/engine/evaluate.hpp"
#include "policy/engine/snapshot.hpp"

namespace {

using namespace sesame;

constexpr std::uint64_t kSeed = 0x5e5a3e;
constexpr std::size_t kSenders = 1024;  // a power of two: indices wrap with a mask
constexpr engine::Time kNow = 1'717'200'000;

// One size's rows, compiled once and shared by every benchmark of that size.
struct Fixture {
    bench::Corpus corpus;
    engine::PolicySettings settings;
    std::shared_ptr<const engine::Snapshot> snapshot;
    std::vector<std::string> keys;  // the recipient's lookup keys, most specific first
    // The older workers' tables: key -> patterns, in the store's order.
    std::unordered_map<std::string, std::vector<std::string>> lists;
    std::size_t path_patterns = 0;  // patterns under the recipient's keys
    std::vector<std::string> clean, blocked;
};

// The bits of J (below kSenders) reversed: consecutive senders then hit
// rows spread evenly along the linear scan, so a short run of the slow
// baseline still sees matches early, late and in between.
std::size_t bit_reverse(std::size_t j)
{
    std::size_t r = 0;
    for (std::size_t bit = 1; bit < kSenders; bit <<= 1, j >>= 1) r = (r << 1) | (j & 1);
    return r;
}

std::unique_ptr<Fixture> make_fixture(std::size_t n)
{
    auto f = std::make_unique<Fixture>();
    f->corpus = bench::make_corpus(n, kSeed);
    f->settings.domains = {"example.com"};
    f->snapshot = engine::Snapshot::build(f->corpus.rules, f->settings);
    f->keys = engine::lookup_keys(*engine::parse_address(f->corpus.recipient), f->settings.recipient_delimiter);
    for (const auto& b : f->corpus.rules.blocks) f->lists[b.key].push_back(b.pattern);

    // The rows a linear scan for this recipient walks, in its order.
    std::vector<const std::string*> path;
    for (const auto& key : f->keys)
        if (auto it = f->lists.find(key); it != f->lists.end())
            for (const auto& p : it->second) path.push_back(&p);
    f->path_patterns = path.size();

    bench::Rng r(kSeed ^ n);
    for (std::size_t j = 0; j < kSenders; ++j) {
        const std::size_t at = (2 * bit_reverse(j) + 1) * path.size() / (2 * kSenders);
        f->blocked.push_back(bench::matching_sender(*path[at], r));
    }
    for (std::size_t tries = 0; f->clean.size() < kSenders && tries < 100 * kSenders; ++tries) {
        std::string s = bench::clean_candidate(f->corpus, r);
        if (!f->snapshot->blocks().find(s, f->keys)) f->clean.push_back(std::move(s));
    }
    return f;
}

const Fixture& fixture(std::size_t n)
{
    static std::map<std::size_t, std::unique_ptr<Fixture>> cache;
    auto& f = cache[n];
    if (!f) f = make_fixture(n);
    return *f;
}

struct Message {
    engine::Envelope envelope;
    engine::MessageInfo info;
};

std::vector<Message> messages(const Fixture& f, const std::vector<std::string>& senders)
{
    std::vector<Message> out;
    for (const auto& s : senders) {
        Message m;
        m.envelope = {s, {f.corpus.recipient}};
        m.info.from_address = s;
        m.info.to_cc = {f.corpus.recipient};
        m.info.subject = "Quarterly figures";
        m.info.message_id = "<bench." + std::to_string(out.size()) + "@" + s.substr(s.rfind('@') + 1) + ">";
        m.info.received_count = 3;
        out.push_back(std::move(m));
    }
    return out;
}

void set_counters(benchmark::State& state, const Fixture& f)
{
    state.SetItemsProcessed(state.iterations());  // one recipient per iteration
    state.counters["patterns"] = static_cast<double>(f.corpus.rules.blocks.size());
    state.counters["path_patterns"] = static_cast<double>(f.path_patterns);
}

void BM_Evaluate(benchmark::State& state, bool blocked)
{
    const Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
    const auto& senders = blocked ? f.blocked : f.clean;
    if (senders.size() != kSenders) return state.SkipWithError("could not generate enough senders");
    const std::vector<Message> input = messages(f, senders);
    std::size_t i = 0, wrong = 0;
    for (auto _ : state) {
        const Message& m = input[i++ & (kSenders - 1)];
        engine::Decision d = engine::evaluate(*f.snapshot, m.envelope, m.info, kNow, nullptr);
        wrong += (d.recipients.front().verdict == engine::Verdict::reject) != blocked;
        benchmark::DoNotOptimize(d);
    }
    if (wrong) state.SkipWithError("a verdict differs from the expected one");
    set_counters(state, f);
}
BENCHMARK_CAPTURE(BM_Evaluate, clean, false)->Arg(10)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK_CAPTURE(BM_Evaluate, blocked, true)->Arg(10)->Arg(1000)->Arg(100000)->Arg(1000000);

// How the older workers check a recipient: lower-case the sender, derive
// the keys, and run fnmatch over each key's list until a pattern matches.
bool linear_blocked(const Fixture& f, const std::string& sender, std::size_t* calls)
{
    const std::string s = engine::ascii_lower(sender);
    const auto keys = engine::lookup_keys(*engine::parse_address(f.corpus.recipient), f.settings.recipient_delimiter);
    for (const auto& key : keys) {
        auto it = f.lists.find(key);
        if (it == f.lists.end()) continue;
        for (const auto& p : it->second) {
            ++*calls;
            if (fnmatch(p.c_str(), s.c_str(), FNM_CASEFOLD) == 0) return true;
        }
    }
    return false;
}

void BM_Linear(benchmark::State& state, bool blocked)
{
    const Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
    const auto& senders = blocked ? f.blocked : f.clean;
    if (senders.size() != kSenders) return state.SkipWithError("could not generate enough senders");
    std::size_t i = 0, wrong = 0, calls = 0;
    for (auto _ : state) {
        const bool hit = linear_blocked(f, senders[i++ & (kSenders - 1)], &calls);
        wrong += hit != blocked;
        benchmark::DoNotOptimize(hit);
    }
    if (wrong) state.SkipWithError("fnmatch and the index disagree on a sender");
    set_counters(state, f);
    state.counters["fnmatch_calls"] =
        benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kAvgIterations);
}
BENCHMARK_CAPTURE(BM_Linear, clean, false)
    ->Arg(10)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Linear, blocked, true)
    ->Arg(10)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMicrosecond);

void BM_IndexFind(benchmark::State& state)
{
    const Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
    if (f.clean.size() != kSenders) return state.SkipWithError("could not generate enough senders");
    std::size_t i = 0, wrong = 0;
    for (auto _ : state) {
        auto hit = f.snapshot->blocks().find(f.clean[i++ & (kSenders - 1)], f.keys);
        wrong += hit.has_value();
        benchmark::DoNotOptimize(hit);
    }
    if (wrong) state.SkipWithError("a clean sender is blocked");
    set_counters(state, f);
}
BENCHMARK(BM_IndexFind)->Name("BM_IndexFind/clean")->Arg(10)->Arg(1000)->Arg(100000)->Arg(1000000);

std::int64_t resident_bytes()
{
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * sysconf(_SC_PAGESIZE);
}

// The peak resident set (VmHWM), or -1 if /proc/self/status lacks it.
std::int64_t peak_resident_bytes()
{
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    return -1;
}

// Sets VmHWM back to the current resident set (Linux 4.0 and later).
bool reset_peak()
{
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    return clear.good();
}

void BM_SnapshotBuild(benchmark::State& state)
{
    const Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
    bool measured = false;
    for (auto _ : state) {
        const bool measure = !measured;
        std::int64_t before = 0;
        bool peak_known = false;
        if (measure) {
            // Free heap returned first, so that the growth is what the
            // snapshot takes, not what earlier benchmarks left behind.
            state.PauseTiming();
            malloc_trim(0);
            before = resident_bytes();
            peak_known = reset_peak();
            state.ResumeTiming();
        }
        auto snapshot = engine::Snapshot::build(f.corpus.rules, f.settings);
        state.PauseTiming();
        if (measure) {
            state.counters["rss_growth_bytes"] = static_cast<double>(resident_bytes() - before);
            state.counters["peak_rss_growth_bytes"] =
                peak_known ? static_cast<double>(peak_resident_bytes() - before) : -1.0;
            state.counters["index_bytes"] = static_cast<double>(snapshot->blocks().memory_bytes());
            // What stays once the allocator has returned the build's
            // temporaries (the difference is free heap glibc kept).
            malloc_trim(0);
            state.counters["trimmed_rss_growth_bytes"] = static_cast<double>(resident_bytes() - before);
            measured = true;
        }
        snapshot.reset();
        state.ResumeTiming();
    }
    state.counters["patterns"] = static_cast<double>(f.corpus.rules.blocks.size());
}
BENCHMARK(BM_SnapshotBuild)->Arg(10)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SnapshotBuild)->Arg(100000)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SnapshotBuild)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
