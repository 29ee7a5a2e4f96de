#!/usr/bin/env bash
# dynamodb_client.sh TEST_BINARY - runs the DynamoClient tests against a real
# dynalite (npm, pinned in package.json) on a 127.0.0.1 port picked at run
# time. Dummy credentials in the environment (dynalite checks no signature),
# dynalite stopped by its PID whatever happens. Exit status: the test
# binary's; 77 (skipped) only when Node or dynalite cannot be had.
set -uo pipefail
TEST=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# shellcheck source=../../scripts/emulators.sh
source "$ROOT/scripts/emulators.sh"
dynalite_session dynamodb
start_dynalite "$WORK" || exit 1
echo "dynalite on 127.0.0.1:$DYNALITE_PORT (pid $DYNALITE_PID, start-up ${DYNALITE_START_MS} ms)"

export SESAME_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$DYNALITE_PORT
"$TEST"
