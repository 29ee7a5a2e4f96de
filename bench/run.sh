#!/usr/bin/env bash
# run.sh - build and run the blocklist benchmark, then rewrite docs/benchmarks.md.
#
# Usage: bench/run.sh            (from anywhere; about five minutes on 2 cores)
#        REPETITIONS=9 bench/run.sh
#        bench/run.sh --from-json FILE   (only rewrite the doc from a saved run)
#
# Configures build-bench/ (Release, no tests) when it does not exist, builds
# blocklist_bench, runs it with JSON output (build-bench/blocklist_bench.json,
# the command beside it in .json.cmd) and writes the medians, the targets and
# the machine into the doc. The hand-written notes between the "notes"
# markers of the old doc are kept.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=build-bench
json=$build/blocklist_bench.json
doc=docs/benchmarks.md
reps=${REPETITIONS:-5}

if [[ ${1:-} == --from-json ]]; then
    json=${2:?--from-json needs a file}
    command=$(cat "$json.cmd" 2>/dev/null || echo "unknown command; doc rewritten from $json")
else
    if [[ ! -f $build/CMakeCache.txt ]]; then
        generator=()
        command -v ninja >/dev/null && generator=(-G Ninja)
        cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DSESAME_TESTS=OFF >/dev/null
    fi
    cmake --build "$build" --target blocklist_bench
    args=(--benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true
          --benchmark_out="$json" --benchmark_out_format=json)
    command="$build/bench/blocklist_bench ${args[*]}"
    echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    "$build/bench/blocklist_bench" "${args[@]}"
    echo "$command" >"$json.cmd"
fi

mkdir -p docs
SESAME_COMMAND=$command \
SESAME_NPROC=$(nproc) \
SESAME_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1) \
SESAME_KERNEL=$(uname -sr) \
SESAME_COMPILER=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null | head -n1) \
SESAME_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
python3 - "$json" "$doc" <<'PY'
import json, os, subprocess, sys

json_path, doc_path = sys.argv[1], sys.argv[2]
with open(json_path) as f:
    data = json.load(f)
ctx = data["context"]
SIZES = [10, 1000, 100000, 1000000]
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# run_name -> {aggregate_name -> entry}
runs = {}
for b in data["benchmarks"]:
    if b.get("run_type") == "aggregate":
        runs.setdefault(b["run_name"], {})[b["aggregate_name"]] = b
    else:  # a run without --benchmark_report_aggregates_only: one repetition
        runs.setdefault(b["run_name"], {}).setdefault("median", b)

def find(prefix, n):
    for name, aggs in runs.items():
        parts = name.split("/")
        if name.startswith(prefix + "/") and str(n) in parts and "median" in aggs:
            return aggs
    return None

def ns(aggs, which="cpu_time", agg="median"):
    if not aggs or agg not in aggs:
        return None
    e = aggs[agg]
    if e.get("error_occurred"):
        return None
    return e[which] * TO_NS[e["time_unit"]]

def cv(aggs, which="cpu_time"):
    if not aggs or "cv" not in aggs:
        return ""
    return f" ±{100 * aggs['cv'][which]:.0f}%"

def fmt_ns(v):
    if v is None:
        return "—"
    if v < 1e4:
        return f"{v:,.0f} ns"
    if v < 1e6:
        return f"{v / 1e3:,.1f} µs"
    return f"{v / 1e6:,.1f} ms"

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

def fmt_ratio(r):
    return "—" if r is None else f"{r:,.0f}×" if r >= 10 else f"{r:.2f}×"

def mb(v):
    return "—" if v is None else f"{v / 1e6:,.1f} MB"

def counter(aggs, name):
    if not aggs or "median" not in aggs:
        return None
    return aggs["median"].get(name)

def errors():
    out = []
    for name, aggs in runs.items():
        for e in aggs.values():
            if e.get("error_occurred"):
                out.append(f"{name}: {e.get('error_message', 'error')}")
                break
    return out

out = []
w = out.append

def table(variant, title):
    w(f"### {title}\n")
    w("| patterns | on the recipient's keys | `evaluate()` per recipient, CPU (wall) | `BlockIndex::find` alone, CPU | linear fnmatch, CPU (wall) | fnmatch calls | linear ÷ indexed, CPU (wall) |")
    w("|---:|---:|---:|---:|---:|---:|---:|")
    for n in SIZES:
        ev, lin = find(f"BM_Evaluate/{variant}", n), find(f"BM_Linear/{variant}", n)
        idx = find("BM_IndexFind/clean", n) if variant == "clean" else None
        path = counter(ev, "path_patterns") or counter(lin, "path_patterns")
        calls = counter(lin, "fnmatch_calls")
        w(f"| {n:,} | {'—' if path is None else f'{path:,.0f}'} "
          f"| {fmt_ns(ns(ev))}{cv(ev)} ({fmt_ns(ns(ev, 'real_time'))}) "
          f"| {fmt_ns(ns(idx)) if variant == 'clean' else 'n/a'} "
          f"| {fmt_ns(ns(lin))}{cv(lin)} ({fmt_ns(ns(lin, 'real_time'))}) "
          f"| {'—' if calls is None else f'{calls:,.0f}'} "
          f"| {fmt_ratio(ratio(ns(lin), ns(ev)))} ({fmt_ratio(ratio(ns(lin, 'real_time'), ns(ev, 'real_time')))}) |")
    w("")

def verdict(ok):
    return "**unknown**" if ok is None else ("**met**" if ok else "**NOT met**")

# --- targets -------------------------------------------------------------
M = 1000000
ev_c, lin_c = find("BM_Evaluate/clean", M), find("BM_Linear/clean", M)
ev_b, lin_b = find("BM_Evaluate/blocked", M), find("BM_Linear/blocked", M)
build = find("BM_SnapshotBuild", M)
t_ev = ns(ev_c)
t_ev_wall = ns(ev_c, "real_time")
t_ev_b = ns(ev_b)
r_c, r_c_wall = ratio(ns(lin_c), ns(ev_c)), ratio(ns(lin_c, "real_time"), ns(ev_c, "real_time"))
r_b = ratio(ns(lin_b), ns(ev_b))
t_build, t_build_cpu = ns(build, "real_time"), ns(build)
rss = counter(build, "rss_growth_bytes")
le = lambda v, limit: None if v is None else v <= limit
ge = lambda v, limit: None if v is None else v >= limit

w("# Benchmarks")
w("")
w("<!-- Generated by bench/run.sh from build-bench/blocklist_bench.json; edit the")
w("     prose in bench/run.sh, or the notes between the markers below. -->")
w("")
w("## What is measured")
w("")
w("`bench/blocklist_bench.cpp` checks one recipient, `alex.morgan@example.com`,")
w("against blocklists of 10, 1,000, 100,000 and 1,000,000 patterns generated by")
w("`bench/patterns.hpp` from a fixed seed: 40 % exact addresses, 30 % `*@domain`,")
w("15 % `*@*.domain` and 15 % `prefix*@domain`, with random-looking local parts")
w("and domains plus a few freemail providers and role names. Half the rows are")
w("listed under the global key `*`, 35 % under `@example.com` and 15 % under")
w("individual mailboxes (about 30 each, the recipient among them), so about 85 %")
w("of the rows are on the recipient's keys.")
w("")
w("* **`evaluate()`**: the full engine path, `engine::evaluate()` on a Snapshot")
w("  built from a RuleSet (PolicySettings with domain `example.com`), for an")
w("  envelope with one recipient and a From: equal to the envelope sender. The")
w("  figure is per recipient (one recipient per iteration) and includes parsing")
w("  the addresses, the lookup keys, the trace and the Decision's destruction.")
w("  Senders cycle through 1,024 addresses so that the index is not probed hot")
w("  in cache at a single spot. *Clean* senders are blocked by nothing, the worst")
w("  case: every probe misses and every key is tried. *Blocked* senders are each")
w("  blocked by one row on the recipient's keys, chosen at evenly spread")
w("  positions along the linear scan.")
w("* **`BlockIndex::find` alone**: the same clean senders against the index,")
w("  without the rest of `evaluate()`; the difference is what evaluation costs")
w("  beside the blocklist.")
w("* **linear fnmatch**: the baseline, the way the older workers check a")
w("  recipient: lower-case the sender, derive the keys, and run `fnmatch(3)` with")
w("  `FNM_CASEFOLD` over every pattern of each key, most specific key first,")
w("  until one matches. Same patterns, same senders. Every iteration of both")
w("  checks its verdict, so the baseline also cross-checks the index against")
w("  fnmatch on every sender.")
w("* **Snapshot build**: `Snapshot::build()` from the RuleSet, and its memory:")
w("  `BlockIndex::memory_bytes()` and the growth of the resident set")
w("  (`/proc/self/statm`) across the first build of each repetition, after")
w("  `malloc_trim(0)`; the peak (VmHWM, reset through `/proc/self/clear_refs`);")
w("  and the growth again after a second `malloc_trim(0)`, which shows how much")
w("  of it is free heap glibc kept from the build's temporaries.")
w("")
w("Every figure is the **median of the repetitions** (`±` is their coefficient")
w("of variation). CPU time is the benchmark thread's own; wall time is in")
w("parentheses. The machine has two cores shared with other work (compilers,")
w("tests), so wall time stretches with the load average and figures drift by")
w("tens of percent between runs. What matters is the shape: the indexed cost")
w("should stay roughly flat from 10 to 1,000,000 patterns while the linear one")
w("grows with N, and the ratio between the two, measured in the same run under")
w("the same load, is the figure to compare across runs. The absolute targets")
w("below are judged on both CPU and wall time; CPU time is the steadier of")
w("the two, and a miss by less than the drift should be re-run on a quiet")
w("machine before it is believed. At 10 patterns the baseline wins: it is")
w("ten fnmatch calls, while the `evaluate()` figure is the whole per-recipient")
w("path (address parsing, lookup keys, trace, Decision); `BlockIndex::find`")
w("alone is the like-for-like comparison there.")
w("")
w("## Results")
w("")
table("clean", "Senders not blocked (every probe misses)")
table("blocked", "Senders blocked")
w("### Snapshot build and memory")
w("")
w("| patterns | build, wall (CPU) | `memory_bytes()` | RSS growth | peak RSS growth | RSS growth after `malloc_trim` |")
w("|---:|---:|---:|---:|---:|---:|")
for n in SIZES:
    b = find("BM_SnapshotBuild", n)
    w(f"| {n:,} | {fmt_ns(ns(b, 'real_time'))}{cv(b, 'real_time')} ({fmt_ns(ns(b))}) "
      f"| {mb(counter(b, 'index_bytes'))} | {mb(counter(b, 'rss_growth_bytes'))} "
      f"| {mb(counter(b, 'peak_rss_growth_bytes'))} | {mb(counter(b, 'trimmed_rss_growth_bytes'))} |")
w("")
w("MB are 10⁶ bytes. Below a few thousand patterns the resident-set figures are")
w("page-granular noise.")
w("")
w("## Targets (at 1,000,000 patterns)")
w("")
w("| target | measured | |")
w("|---|---|---|")
w(f"| median `evaluate()` per recipient ≤ 2 µs (clean senders) | {fmt_ns(t_ev)} CPU, {fmt_ns(t_ev_wall)} wall "
  f"| CPU {verdict(le(t_ev, 2000))}, wall {verdict(le(t_ev_wall, 2000))} |")
w(f"| the same, blocked senders | {fmt_ns(t_ev_b)} CPU, {fmt_ns(ns(ev_b, 'real_time'))} wall "
  f"| CPU {verdict(le(t_ev_b, 2000))}, wall {verdict(le(ns(ev_b, 'real_time'), 2000))} |")
w(f"| ≥ 1,000× faster than the linear baseline, same run (clean) | {fmt_ratio(r_c)} CPU, {fmt_ratio(r_c_wall)} wall "
  f"| {verdict(ge(r_c, 1000))} |")
w(f"| the same, blocked senders | {fmt_ratio(r_b)} CPU | {verdict(ge(r_b, 1000))} |")
w(f"| snapshot build ≤ 3 s | {fmt_ns(t_build)} wall, {fmt_ns(t_build_cpu)} CPU | {verdict(le(t_build, 3e9))} |")
w(f"| snapshot ≤ 200 MB resident | {mb(rss)} RSS growth ({mb(counter(build, 'index_bytes'))} by `memory_bytes()`) "
  f"| {verdict(le(rss, 200e6))} |")
w("")
errs = errors()
if errs:
    w("**Benchmarks that failed** (a verdict differed from the expected one, or")
    w("no senders could be generated):")
    w("")
    for e in errs:
        w(f"* {e}")
    w("")

# Hand-written notes from the previous doc, kept as they are.
BEGIN, END = "<!-- notes -->", "<!-- /notes -->"
notes = "## Notes\n\n(Profile notes go here; bench/run.sh keeps this block.)\n"
if os.path.exists(doc_path):
    old = open(doc_path).read()
    if BEGIN in old and END in old:
        notes = old[old.index(BEGIN) + len(BEGIN):old.index(END)].strip("\n") + "\n"
w(BEGIN)
w(notes)
w(END)
w("")
w("## How these figures were produced")
w("")
load = ctx.get("load_avg") or []
w(f"* Command: `bench/run.sh`, which ran `{os.environ['SESAME_COMMAND']}`")
w(f"* Date: {ctx.get('date', '?')}")
w(f"* Machine: {os.environ['SESAME_NPROC']} CPUs (nproc), {os.environ['SESAME_CPU']}, "
  f"{os.environ['SESAME_KERNEL']}; load average at the start "
  f"{', '.join(f'{x:.2f}' for x in load) if load else 'unknown'}")
w(f"* Build: Release, {os.environ.get('SESAME_COMPILER') or 'unknown compiler'}, commit "
  f"{os.environ['SESAME_COMMIT']} plus the working tree; Google Benchmark "
  f"{ctx.get('library_build_type', '?')} build of the library "
  f"(Debian's package, which only affects the harness, not the code measured)")
w("")
with open(doc_path, "w") as f:
    f.write("\n".join(out))
print(f"wrote {doc_path}", file=sys.stderr)
PY
