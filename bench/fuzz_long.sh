#!/usr/bin/env bash
# fuzz_long.sh - run every libFuzzer target for a long time, one after another,
# and print what each did as a markdown table.
#
# Usage: bench/fuzz_long.sh [BUILD_DIR]          (default: build-fuzz at the top)
#        FUZZ_SECONDS=240 bench/fuzz_long.sh      (per target; default 1800)
#        FUZZ_TARGETS="srs glob" bench/fuzz_long.sh   (only these)
#        FUZZ_OUT=/tmp/run1 NICE=0 bench/fuzz_long.sh
#
# BUILD_DIR is a SESAME_FUZZ=ON build with the targets built:
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang \
#         -DCMAKE_CXX_COMPILER=clang++ -DSESAME_FUZZ=ON -DSESAME_BENCH=OFF
#   cmake --build build-fuzz --target <NAME>_fuzz ...
# The targets and their seed corpora are those of the fuzz.NAME CTest tests
# (read from BUILD_DIR/tests/fuzz/CTestTestfile.cmake), run with the same
# options as those tests (-rss_limit_mb=2048 -timeout=10), each under nice on
# a scratch copy of its seed corpus in FUZZ_OUT (default: a new directory in
# /tmp, kept), with its log and any crash artifacts; the source tree is
# never written. A target stops at its first crash, leak, timeout or
# out-of-memory (libFuzzer's behaviour); the next target still runs.
#
# Columns: executions and exec/s from -print_final_stats; cov (edges) and ft
# (features) from the last status line; corpus as libFuzzer holds it at the
# end (units/bytes) and the seeds it started from; crashes: the crash-,
# leak-, timeout- and oom- artifacts written. Progress goes to stderr, the
# table to stdout. Exit status 1 when any target left an artifact.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build-fuzz}" && pwd)
seconds=${FUZZ_SECONDS:-1800}
niceness=${NICE:-10}
out=${FUZZ_OUT:-$(mktemp -d /tmp/sesame-fuzz-long.XXXXXX)}
mkdir -p "$out"

tests=$build/tests/fuzz/CTestTestfile.cmake
if [[ ! -f $tests ]]; then
    echo "fuzz_long.sh: $tests not found: configure $build with -DSESAME_FUZZ=ON" >&2
    exit 2
fi

# NAME SEED_DIR, one per line, from the fuzz.NAME.seed tests.
targets=$(sed -n 's/^add_test(\[=\[fuzz\.\(.*\)\.seed\]=\] .* "copy_directory" "\([^"]*\)" .*/\1 \2/p' "$tests")
if [[ -n ${FUZZ_TARGETS:-} ]]; then
    targets=$(echo "$targets" | awk -v want=" $FUZZ_TARGETS " 'index(want, " " $1 " ")')
fi
if [[ -z $targets ]]; then
    echo "fuzz_long.sh: no fuzz targets found in $tests" >&2
    exit 2
fi

# The value after KEY (e.g. "cov:") in LINE.
field() { awk -v key="$1" '{ for (i = 1; i < NF; i++) if ($i == key) { print $(i + 1); exit } }' <<<"$2"; }

rows=()
found=0
while read -r name seeds; do
    binary=$build/tests/fuzz/${name}_fuzz
    work=$out/$name
    if [[ ! -x $binary ]]; then
        echo "fuzz_long.sh: $binary not built, skipped (cmake --build $build --target ${name}_fuzz)" >&2
        rows+=("| $name | not built | | | | | | | |")
        continue
    fi
    rm -rf "$work"
    mkdir -p "$work/corpus"
    cp -R "$seeds/." "$work/corpus/"
    nseeds=$(find "$work/corpus" -type f | wc -l)
    echo "fuzz_long.sh: $name for ${seconds}s ($nseeds seeds from $seeds; log $work/fuzz.log)" >&2
    start=$(date +%s)
    rc=0
    (cd "$work" && G_SLICE=always-malloc UBSAN_OPTIONS=print_stacktrace=1 nice -n "$niceness" "$binary" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/" corpus >fuzz.log 2>&1) || rc=$?
    elapsed=$(($(date +%s) - start))

    log=$work/fuzz.log
    status=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    artifacts=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | sort)
    ncrash=$(grep -c . <<<"$artifacts" || true)
    crashes=$ncrash
    if ((ncrash > 0)); then
        found=1
        crashes="**$ncrash** ($(xargs -n 1 basename <<<"$artifacts" | sed 's/-.*//' | sort | uniq -c |
            awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }'))"
        echo "fuzz_long.sh: $name left $(tr '\n' ' ' <<<"$artifacts")" >&2
    elif ((rc != 0)); then
        found=1
        crashes="exit $rc, no artifact (see log)"
    fi
    rows+=("| $name | $elapsed | ${execs:-?} | ${rate:-?} | $(field cov: "$status") | $(field ft: "$status") |\
 $(field corp: "$status") (from $nseeds) | ${rss:-?} | $crashes |")
done <<<"$targets"

echo "| target | seconds | executions | exec/s | cov | ft | corpus units/bytes (seeds) | peak RSS MB | crashes |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---|"
printf '%s\n' "${rows[@]}"
echo
echo "FUZZ_SECONDS=$seconds per target, nice $niceness, $(nproc) CPUs ($(uname -m)); logs, corpora and artifacts in $out"
exit "$found"
