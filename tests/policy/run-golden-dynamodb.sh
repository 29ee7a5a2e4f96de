#!/usr/bin/env bash
# run-golden-dynamodb.sh SESAME - every golden case (tests/policy/*.in) again,
# against the DynamoDB store in a real dynalite (npm) on a loopback port
# picked at run time: the same .ref files must come out as with sqlite.
# dynalite is stopped by its PID whatever happens. Exit status: 1 when any
# case failed (each failure's diff is printed), 77 (skipped) only when
# Node or dynalite cannot be had.
set -uo pipefail
SESAME=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# shellcheck source=../../scripts/emulators.sh
source "$ROOT/scripts/emulators.sh"
dynalite_session golden-dynamodb
start_dynalite "$WORK" || exit 1
echo "dynalite on 127.0.0.1:$DYNALITE_PORT (pid $DYNALITE_PID)"

export SESAME_GOLDEN_DYNAMODB=http://127.0.0.1:$DYNALITE_PORT
unset SESAME_UPDATE_GOLDEN
passed=0
failed=()
for case_in in "$HERE"/*.in; do
    name=$(basename "$case_in" .in)
    if bash "$HERE/run-golden.sh" "$SESAME" "$case_in" >"$WORK/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed+=("$name")
        echo "--- $name failed on dynamodb:"
        cat "$WORK/out"
    fi
done
echo "golden cases on dynamodb: $passed passed, ${#failed[@]} failed${failed[*]:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
