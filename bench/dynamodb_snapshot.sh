#!/usr/bin/env bash
# dynamodb_snapshot.sh - the policy snapshot loaded from DynamoDB (dynalite)
# against sqlite, for 100,000 and 1,000,000 patterns.
#
# Usage: bench/dynamodb_snapshot.sh                 (about 5 minutes on 2 cores)
#        bench/dynamodb_snapshot.sh 10000 100000    (other sizes)
#        environment: BUILD (build-dynbench), ROUNDS (3), KEYS (1000),
#                     WRITERS (2), POLLS (200), OUT ($BUILD/dynamodb_snapshot)
#
# For each size, a fresh dynalite (npm, pinned in package.json; in memory)
# on a 127.0.0.1 port picked at run time, then
#   $BUILD/bench/dynamodb_snapshot --endpoint URL --patterns N --keys KEYS
#       --rounds ROUNDS --writers WRITERS --polls POLLS --server-pid PID
# which seeds the patterns into a scratch sqlite file and into DynamoDB
# tables with a unique prefix, checks that both stores load the same rules,
# then times ROUNDS loads of each (each in a fresh process) and the cost of
# polling; see the program's header comment. dynalite is stopped (by PID)
# after each size, and whatever happens (trap). Dummy AWS credentials in
# the environment; dynalite checks no signature.
#
# Uses the binary already built in $BUILD: it never configures or builds:
#   cmake -S . -B build-dynbench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSESAME_TESTS=OFF
#   ninja -C build-dynbench dynamodb_snapshot
# Writes OUT/N.jsonl (the program's JSON lines) and OUT/N.txt (all its
# output) per size and prints the human summaries at the end, with the
# machine's load average before and after. Not a test: nothing registers it
# with CTest, and it asserts nothing about time. Exit status: non-zero when
# a run failed or the two backends loaded different rules.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build-dynbench}
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-1000}
WRITERS=${WRITERS:-2}
POLLS=${POLLS:-200}
OUT=${OUT:-$BUILD/dynamodb_snapshot}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000 1000000)

die() {
    echo "dynamodb_snapshot.sh: $*" >&2
    exit 1
}

BIN=$BUILD/bench/dynamodb_snapshot
[ -x "$BIN" ] || die "$BIN is missing: build first (ninja -C $BUILD dynamodb_snapshot); this script never builds"

# shellcheck source=../scripts/emulators.sh
source "$root/scripts/emulators.sh"
dynalite_session dynbench
mkdir -p "$OUT" || die "cannot create $OUT"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
status=0
for n in "${SIZES[@]}"; do
    start_dynalite "$WORK/dynalite-$n" || die "dynalite did not start"
    echo "== $n patterns: dynalite on 127.0.0.1:$DYNALITE_PORT (pid $DYNALITE_PID), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    t0=$SECONDS
    "$BIN" --endpoint "http://127.0.0.1:$DYNALITE_PORT" --patterns "$n" --keys "$KEYS" --rounds "$ROUNDS" \
        --writers "$WRITERS" --polls "$POLLS" --server-pid "$DYNALITE_PID" --workdir "$WORK" |
        tee "$OUT/$n.txt"
    rc=${PIPESTATUS[0]}
    grep '^{' "$OUT/$n.txt" >"$OUT/$n.jsonl"
    dyn_hwm=$(awk '/^VmHWM/ {printf "%.0f MB", $2 * 1024 / 1e6}' "/proc/$DYNALITE_PID/status" 2>/dev/null)
    echo "== $n patterns: exit status $rc, $((SECONDS - t0)) s in all; dynalite's peak RSS ${dyn_hwm:-unknown}"
    echo "dynalite_peak_rss: ${dyn_hwm:-unknown}" >>"$OUT/$n.txt"
    [ "$rc" -eq 0 ] || status=1
    stop_emulators
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "Run of $STARTED on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
echo "load average $LOAD_BEFORE before, $LOAD_AFTER after; rounds $ROUNDS, keys $KEYS, writers $WRITERS"
for n in "${SIZES[@]}"; do
    sed -n '/^== /,$p' "$OUT/$n.txt"
done
echo
echo "JSON lines: $OUT/<patterns>.jsonl"
exit $status
