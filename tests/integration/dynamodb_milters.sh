#!/usr/bin/env bash
# dynamodb_milters.sh SESAME SESAME_MILTER - two sesame-milter processes
# sharing one DynamoDB store (a real dynalite from npm), driven by miltertest,
# their out-of-office replies reinjected into smtp-sink:
#   1. the same ten senders write to bob (away) through both milters at the
#      same moment: exactly ten replies go out, one per sender;
#   2. a block added with `sesame` reaches both running milters within the
#      polling interval (poll_seconds = 1);
#   3. dynalite stopped: both milters keep their snapshot (the block still
#      refuses, other mail flows), log the failed refresh and say "stale" in
#      /readyz; a third milter started meanwhile runs without a policy,
#      defers mail (4xx) and says 503 in /readyz; dynalite restarted on the
#      same port with the same data: a new rule reaches all three and /readyz
#      says "ok".
# Everything on 127.0.0.1 ports and sockets picked at run time; every process
# started here is stopped by its PID. Needs root (smtp-sink -u postfix);
# exit 77 (skipped) without it or without Node/dynalite.
set -uo pipefail
SESAME=$1
SESAME_MILTER=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: smtp-sink -u postfix needs root"
    exit 77
fi
# shellcheck source=../../scripts/emulators.sh
source "$ROOT/scripts/emulators.sh"
PIDS=()
stop_processes() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
SESSION_CLEANUP=stop_processes
dynalite_session dynamodb-milters
chmod 755 "$WORK"

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
ok() { echo "ok: $*"; }

start_dynalite "$WORK" "$WORK/dynalite-data" || exit 1
DYNAMO_PORT=$DYNALITE_PORT
echo "dynalite on 127.0.0.1:$DYNAMO_PORT (pid $DYNALITE_PID)"

SINK_PORT=$(free_port)
mkdir -p "$WORK/sink" && chown postfix "$WORK/sink"
/usr/sbin/smtp-sink -u postfix -d "$WORK/sink/%Y%m%d%H%M%S." "127.0.0.1:$SINK_PORT" 100 &
PIDS+=($!)

# config NAME: milter NAME's configuration (only the socket and the HTTP
# port differ).
declare -A HTTP_PORT
config() {
    HTTP_PORT[$1]=$(free_port)
    cat >"$WORK/$1.conf" <<CONF
[store]
backend = "dynamodb"
[store.dynamodb]
endpoint = "http://127.0.0.1:$DYNAMO_PORT"
poll_seconds = 1
[policy]
domains = ["example.com"]
[milter]
socket = "unix:$WORK/$1.sock"
reinject = "smtp:127.0.0.1:$SINK_PORT"
[http]
listen = "127.0.0.1:${HTTP_PORT[$1]}"
[daemon]
user = "root"
[log]
target = "stderr"
level = "info"
CONF
}
config a
config b
config c
export SESAME_CONFIG=$WORK/a.conf
"$SESAME" db init >/dev/null || fail "db init"
"$SESAME" ooo set bob@example.com --text "Bob is away." --interval 7 >/dev/null || fail "ooo set"

declare -A MILTER_PID
for m in a b; do
    "$SESAME_MILTER" --config "$WORK/$m.conf" 2>"$WORK/$m.log" &
    MILTER_PID[$m]=$!
    PIDS+=($!)
done
for m in a b; do
    for _ in $(seq 1 200); do [ -S "$WORK/$m.sock" ] && break; sleep 0.05; done
    [ -S "$WORK/$m.sock" ] || { fail "milter $m did not start"; cat "$WORK/$m.log"; exit 1; }
done

# readyz MILTER: the body of its /readyz (and fails unless the answer is 200).
readyz() { curl -sf "http://127.0.0.1:${HTTP_PORT[$1]}/readyz"; }

# rcpt MILTER SENDER: "refused" or "accepted" for SENDER -> bob.
rcpt() {
    MILTER_SOCKET=$WORK/$1.sock MODE=rcpt SENDERS=$2 miltertest -s "$HERE/dynamodb_milters.lua" 2>&1 | tail -n 1
}
# until_all ANSWER SENDER MILTER...: waits (15 s at most) until every MILTER
# gives ANSWER for SENDER; prints the seconds it took.
until_all() {
    local answer=$1 sender=$2 t0=$SECONDS m all
    shift 2
    while [ $((SECONDS - t0)) -lt 15 ]; do
        all=1
        for m in "$@"; do [ "$(rcpt "$m" "$sender")" = "$answer" ] || { all=0; break; }; done
        if [ $all = 1 ]; then
            echo $((SECONDS - t0))
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# --- 1. one reply per sender, two milters racing ---------------------------
senders=$(seq -f 'writer%g@sender.test' 1 10 | paste -sd,)
MILTER_SOCKET=$WORK/a.sock MODE=mail SENDERS=$senders miltertest -s "$HERE/dynamodb_milters.lua" >"$WORK/mt-a.out" 2>&1 &
mta=$!
MILTER_SOCKET=$WORK/b.sock MODE=mail SENDERS=$senders miltertest -s "$HERE/dynamodb_milters.lua" >"$WORK/mt-b.out" 2>&1 &
mtb=$!
wait $mta || fail "miltertest on milter a: $(cat "$WORK/mt-a.out")"
wait $mtb || fail "miltertest on milter b: $(cat "$WORK/mt-b.out")"
# The replies are sent before the milters answer end-of-message; give the
# sink a moment to write its files.
for _ in $(seq 1 50); do [ "$(ls "$WORK/sink" | wc -l)" -ge 10 ] && break; sleep 0.1; done
sleep 1
replies=$(ls "$WORK/sink" | wc -l)
[ "$replies" = 10 ] && ok "20 messages from 10 senders through two milters: 10 replies" ||
    fail "$replies replies for 10 senders (want exactly one each)"
got=$(grep -h '^X-Rcpt-Args:' "$WORK"/sink/* 2>/dev/null | grep -o 'writer[0-9]*@sender.test' | sort -u | wc -l)
[ "$got" = 10 ] && ok "every sender got its reply" || fail "replies reached $got distinct senders"

readyz a | grep -q '^policy: ok' && readyz b | grep -q '^policy: ok' &&
    ok "/readyz: policy ok on both" || fail "/readyz before the outage: $(readyz a) / $(readyz b)"

# --- 2. a rule change reaches both running milters --------------------------
[ "$(rcpt a late@late.example)" = accepted ] && [ "$(rcpt b late@late.example)" = accepted ] ||
    fail "late@late.example refused before it was blocked"
"$SESAME" block add @example.com '*@late.example' >/dev/null || fail "block add"
if took=$(until_all refused late@late.example a b); then
    ok "a block added with sesame reached both milters in ${took} s (poll_seconds = 1)"
else
    fail "the new block did not reach both milters within 15 s"
fi

# --- 3. dynalite stopped, then back ------------------------------------------
stop_emulators
sleep 3 # three polls fail
[ "$(rcpt a late@late.example)" = refused ] && [ "$(rcpt b late@late.example)" = refused ] &&
    ok "with dynalite down both milters keep their snapshot" || fail "the snapshot was lost with dynalite down"
[ "$(rcpt a friend@else.example)" = accepted ] && ok "and other mail flows" || fail "other mail refused while down"
grep -q 'policy refresh failed' "$WORK/a.log" && grep -q 'policy refresh failed' "$WORK/b.log" &&
    ok "both milters log the failed refresh" || fail "no 'policy refresh failed' in the milter logs"
for m in a b; do
    kill -0 "${MILTER_PID[$m]}" 2>/dev/null || fail "milter $m died while dynalite was down"
done
for m in a b; do
    r=$(readyz $m)
    grep -q '^policy: stale' <<<"$r" && grep -q 'failed since start' <<<"$r" &&
        ok "/readyz of milter $m: $r" || fail "/readyz of milter $m while dynalite is down: $r"
done
grep -q '^sesame_policy_refresh_ok 0$' <<<"$(curl -s "http://127.0.0.1:${HTTP_PORT[a]}/metrics")" &&
    ok "/metrics: sesame_policy_refresh_ok 0" || fail "/metrics does not show the failing refresh"

# A milter started while the store is away: up, deferring, not ready.
"$SESAME_MILTER" --config "$WORK/c.conf" 2>"$WORK/c.log" &
MILTER_PID[c]=$!
PIDS+=($!)
for _ in $(seq 1 200); do [ -S "$WORK/c.sock" ] && break; sleep 0.05; done
[ -S "$WORK/c.sock" ] && ok "a milter starts while dynalite is down" || fail "milter c did not start: $(cat "$WORK/c.log")"
# (miltertest sees a reply code, not which: the log says it was the 4xx.)
[ "$(rcpt c friend@else.example)" = refused ] && grep -q 'tempfail: no policy loaded yet' "$WORK/c.log" &&
    ok "without a policy it defers mail (4xx)" || fail "milter c without a policy: $(tail -n 3 "$WORK/c.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP_PORT[c]}/readyz")
[ "$code" = 503 ] && ok "and /readyz says 503" || fail "/readyz of milter c without a policy: $code"

EMULATOR_PORT=$DYNAMO_PORT start_dynalite "$WORK" "$WORK/dynalite-data" || { fail "dynalite restart"; exit 1; }
echo "dynalite back on 127.0.0.1:$DYNAMO_PORT (pid $DYNALITE_PID)"
"$SESAME" block add @example.com '*@after.example' >/dev/null || fail "block add after the restart"
if took=$(until_all refused someone@after.example a b c); then
    ok "dynalite back: a new block reached all three milters in ${took} s"
else
    fail "the milters did not recover within 15 s of dynalite's return"
fi
[ "$(rcpt a late@late.example)" = refused ] && ok "the rules kept by dynalite still apply" ||
    fail "late@late.example accepted after the restart"
readyz a | grep -q '^policy: ok' && readyz b | grep -q '^policy: ok' &&
    ok "/readyz: policy ok again on both" || fail "/readyz after the restart: $(readyz a) / $(readyz b)"
readyz c | grep -q '^policy: ok' && ok "the milter started without a policy has loaded it" ||
    fail "milter c after the restart: $(readyz c)"

if [ "$failures" -gt 0 ]; then
    for m in a b c; do
        echo "--- milter $m log (tail)"
        tail -n 30 "$WORK/$m.log"
    done
fi
echo "dynamodb_milters: $failures failure(s)"
[ "$failures" -eq 0 ]
