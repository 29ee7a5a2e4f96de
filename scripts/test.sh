#!/usr/bin/env bash
# test.sh - the whole test suite, as CI runs it (.ci/run calls this).
#
# 0. clang-format --dry-run --Werror over every C++ file (.clang-format)
# 1. build/       the normal build (-Werror): unit, golden, CLI, milter
#                 (miltertest), e2e (a throwaway Postfix), hostile input,
#                 the short soak and the package tests
# 2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: the same
#                 tests but the package ones (dpkg-buildpackage builds
#                 without sanitizers)
# 3. build-tsan/  ThreadSanitizer: the daemons (and what their tests call)
#                 only; the tests that run them (labels milter, e2e,
#                 integration, hostile, soak), not the single-threaded CLI's,
#                 and the unit programs labelled tsan (threads of their own)
# 4. build-fuzz/  clang + libFuzzer: the fuzz targets only (tests/fuzz), each
#                 run for SESAME_FUZZ_SECONDS (default 20) seconds: a smoke
#                 run over the seed corpora and the found crashes; the long
#                 run is bench/fuzz_long.sh
# Sanitizer reports go to files (log_path) in build-*/sanitizer-logs, so that
# a daemon started in the background by a test reports too; after each
# sanitizer stage any report there fails the run and is printed.
# Every stage runs even when an earlier one failed; the exit status is
# non-zero if any did.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_packages || exit 1
install_emulators || exit 1

failed=()
stage() {
    local name=$1
    shift
    echo "=== $name ($(date +%T))"
    if ! "$@"; then failed+=("$name"); fi
}

# sanitizer_logs DIR: fails, printing them, if DIR holds sanitizer reports.
sanitizer_logs() {
    local f found=0
    for f in "$1"/*; do
        [ -s "$f" ] || continue
        found=1
        echo "--- $f"
        head -80 "$f"
    done
    [ "$found" = 0 ]
}
# A fresh folder any user can write (daemon.process drops privileges).
log_dir() { rm -rf "$1" && mkdir -p "$1" && chmod 1777 "$1"; }

log_dir "$PWD/build-asan/sanitizer-logs"
log_dir "$PWD/build-tsan/sanitizer-logs"
# GLib's slice allocator recycles memory between threads under locks of its
# own that no sanitizer follows: plain malloc instead.
export G_SLICE=always-malloc
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$PWD/build-asan/sanitizer-logs/asan
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$PWD/build-asan/sanitizer-logs/ubsan
export TSAN_OPTIONS=suppressions=$PWD/tests/tsan.supp:second_deadlock_stack=1:log_path=$PWD/build-tsan/sanitizer-logs/tsan

stage "format" clang-format --dry-run --Werror $(git ls-files '*.cpp' '*.hpp')
stage "build" build build
stage "tests" ctest --test-dir build --output-on-failure -j "$(nproc)" -LE fuzz
# -O1 -g1: the sanitizers need no more, and the build takes half the time.
sanitized=(-DSESAME_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1")
stage "build (ASan+UBSan)" build build-asan -DSESAME_SANITIZE=ON "${sanitized[@]}"
stage "tests (ASan+UBSan)" ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -LE "fuzz|package"
stage "reports (ASan+UBSan)" sanitizer_logs build-asan/sanitizer-logs
stage "build (TSan)" build build-tsan -DSESAME_TSAN=ON "${sanitized[@]}" -- \
    --target sesame sesame-milter sesame-ingest aws_tool unit_aws_threads
stage "tests (TSan)" ctest --test-dir build-tsan --output-on-failure -j "$(nproc)" \
    -L "milter|e2e|integration|hostile|soak|tsan" -LE "package|unit" -E "^aws\.dynamodb"
stage "reports (TSan)" sanitizer_logs build-tsan/sanitizer-logs
stage "build (fuzz)" build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DSESAME_FUZZ=ON -DSESAME_BENCH=OFF -DSESAME_FUZZ_SECONDS="${SESAME_FUZZ_SECONDS:-20}" -- --target fuzzers
# libFuzzer prints the report itself, and a failing target's exit status
# fails its test: the reports stay on stderr here.
stage "fuzz" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-fuzz --output-on-failure -j "$(nproc)" -L fuzz
if [ ${#failed[@]} -gt 0 ]; then
    echo "test.sh: FAILED: ${failed[*]}"
    exit 1
fi
echo "test.sh: all stages passed"
