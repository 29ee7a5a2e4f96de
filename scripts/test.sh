#!/usr/bin/env bash
# test.sh - the whole test suite, as CI runs it (.ci/run calls this).
#
# 0. clang-format --dry-run --Werror over every C++ file (.clang-format)
# 1. build/       the normal build (-Werror): unit, golden, CLI, milter
#                 (miltertest) and e2e (a throwaway Postfix) tests
# 2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: the same
#                 tests but the e2e and package ones (a whole Postfix per
#                 run; dpkg-buildpackage); any sanitizer report fails the
#                 test that caused it
# 3. build-fuzz/  clang + libFuzzer: the header reader fuzzed for
#                 SESAME_FUZZ_SECONDS (default 30) seconds, and so is the
#                 SES notification parser
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

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

stage "format" clang-format --dry-run --Werror $(git ls-files '*.cpp' '*.hpp')
stage "build" build build
stage "tests" ctest --test-dir build --output-on-failure -j "$(nproc)" -LE fuzz
# -O1 -g1: the sanitizers need no more, and the build takes half the time.
stage "build (sanitizers)" build build-asan -DSESAME_SANITIZE=ON -DSESAME_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1"
stage "tests (sanitizers)" ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -LE "fuzz|e2e|package"
stage "build (fuzz)" build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DSESAME_FUZZ=ON -DSESAME_BENCH=OFF -DSESAME_FUZZ_SECONDS="${SESAME_FUZZ_SECONDS:-30}"
stage "fuzz" ctest --test-dir build-fuzz --output-on-failure -L fuzz

if [ ${#failed[@]} -gt 0 ]; then
    echo "test.sh: FAILED: ${failed[*]}"
    exit 1
fi
echo "test.sh: all stages passed"
