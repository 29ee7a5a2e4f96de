#!/usr/bin/env bash
# soak.sh - a soak with faults: nothing lost, nothing duplicated, nothing crashes.
#
# Usage: bench/soak.sh                 (as root; the full soak: 100,000 messages
#                                       through Postfix + sesame-milter and
#                                       20,000 through SQS/S3 + sesame-ingest,
#                                       a fault every 5-20 s; about 20 minutes
#                                       on 2 cores)
#        bench/soak.sh --milter 1500 --ingest 300 --rate 25 --fault-min 1
#                     --fault-max 3 --hold-min 1 --hold-max 3
#                                      (the short version CTest runs: e2e.soak)
#        options: --milter N --ingest N --fault-min S --fault-max S (the pause
#                 between faults) --hold-min S --hold-max S (how long one
#                 lasts) --rate R (milter messages started per second, 0: as
#                 fast as Postfix takes them) --senders N
#                 --deadline S (3600) --seed N --report (write the figures into
#                 docs/reliability.md) --keep (keep the scratch folder)
#                 --from-json FILE (only rewrite that block of the doc from a
#                 kept result.json)
#                 --sesame/--sesame-milter/--sesame-ingest/--aws-tool PATH
#                 (default: the binaries in $BUILD, default build/)
#
# One throwaway Postfix on loopback (tests/integration/lib.sh: smtpd with the
# milter, the milter-less reinjection smtpd, smtp-sink dumping every message
# for the local domains and for "remote" hosts), fauxqs (SQS + S3, npm) with
# tests/integration/aws_fault_proxy.py in front of it for throttling and
# server errors, the policy below, and bench/soak.py driving: it sends,
# announces, injects the faults, samples resident memory, then compares the
# Message-IDs and recipients that arrived with those sent (its comment says
# what is expected of each recipient and which duplicates count as
# explained).
#
# Exits 0 only when nothing accepted was lost, nothing blocked arrived, every
# duplicate is explained and memory held; prints the figures as JSON (also in
# the scratch folder's result.json) and, with --report, writes them between
# the "soak" markers of docs/reliability.md. Everything listens on 127.0.0.1
# on ports picked at run time and is stopped by PID (or `postfix stop`).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
MILTER_COUNT=100000 INGEST_COUNT=20000 FAULT_MIN=5 FAULT_MAX=20 HOLD_MIN=2 HOLD_MAX=6 RATE=0 SENDERS=8
DEADLINE=3600 SEED=20261123
REPORT=0 FROM_JSON=
E2E_KEEP=0
SESAME=$root/$BUILD/policy/cli/sesame
SESAME_MILTER=$root/$BUILD/milter/sesame-milter
SESAME_INGEST=$root/$BUILD/aws/ingest/sesame-ingest
AWS_TOOL=$root/$BUILD/tests/aws_tool
while [ $# -gt 0 ]; do
    case $1 in
        --milter) MILTER_COUNT=$2; shift 2 ;;
        --ingest) INGEST_COUNT=$2; shift 2 ;;
        --fault-min) FAULT_MIN=$2; shift 2 ;;
        --fault-max) FAULT_MAX=$2; shift 2 ;;
        --hold-min) HOLD_MIN=$2; shift 2 ;;
        --hold-max) HOLD_MAX=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --senders) SENDERS=$2; shift 2 ;;
        --deadline) DEADLINE=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --report) REPORT=1; shift ;;
        --from-json) FROM_JSON=$2; shift 2 ;;
        --keep) E2E_KEEP=1; shift ;;
        --sesame) SESAME=$2; shift 2 ;;
        --sesame-milter) SESAME_MILTER=$2; shift 2 ;;
        --sesame-ingest) SESAME_INGEST=$2; shift 2 ;;
        --aws-tool) AWS_TOOL=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "soak: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
# report RESULT.JSON COMMAND: the block between the soak markers of
# docs/reliability.md, from a run's result.json.
report() {
    python3 - "$1" "$root/docs/reliability.md" "$2" <<'PY'
import json, os, re, subprocess, sys
r = json.load(open(sys.argv[1]))
m, g, mem = r["milter"], r["ingest"], r["memory"]
try:
    commit = open(os.path.join(os.path.dirname(sys.argv[1]), "commit")).read().strip()
except OSError:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
kb = lambda v: f"{v / 1024:.1f} MiB"
lines = [f"Command: `{sys.argv[3]}` (commit {commit}, {r['seconds'] / 60:.1f} minutes on this machine).", "",
         "| figure | milter path | ingest path |", "|---|---|---|",
         f"| messages sent / announced | {m['messages']:,} | {g['announced']:,} |",
         f"| accepted by Postfix (250 after the final dot) | {m['accepted']:,} | – |",
         f"| throughput under faults | {m['msg_per_s']:.0f} msg/s accepted | announced in step with the milter side over "
         f"{m['seconds']:.0f} s, all drained |",
         f"| SMTP transactions / retries (4xx, or Postfix or the milter unreachable) | {m['attempts']:,} / {m['tempfails']:,} | – |",
         f"| replies lost after the final dot (sent again) | {m['ambiguous']} | – |",
         f"| notifications left in the queue | – | {g['queue_left']} |", "",
         f"Deliveries expected (message × recipient, forwards included): {r['expected_deliveries']:,}; "
         f"arrived: {r['arrived']:,}; **lost: {r['lost']}**; blocked that arrived: {r['blocked_arrived']}; "
         f"unexplained duplicates: {r['duplicates_unexplained']}; never accepted: {m['not_accepted']}.", ""]
dups = r["duplicates_explained"]
lines += ["Duplicates, each explained:" if dups else "Duplicates: none.", ""]
for d in dups:
    lines.append(f"* {d['count']} × {d['path']}: {d['why']}")
lines += ["", "Faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(r["faults"].items())) +
          "; answers the proxy faked: " + (", ".join(f"{k} {v}" for k, v in sorted(r["proxy_answers"].items())) or "none") + ".", "",
          "| daemon | restarts (SIGKILL) | RSS settled after warm-up | RSS at the end | change | peak RSS |", "|---|---|---|---|---|---|"]
for name in ("milter", "ingest"):
    x = mem.get(name, {})
    if "settled_kb" in x:
        lines.append(f"| sesame-{name} | {x['restarts']} | {kb(x['settled_kb'])} | {kb(x['end_kb'])} | "
                     f"{100 * x['growth']:+.1f} % | {kb(x['peak_kb'])} |")
lines.append("")
lines.append("Problems: " + ("; ".join(r["problems"]) if r["problems"] else "none") + ".")
doc = open(sys.argv[2]).read()
block = "<!-- soak:begin -->\n" + "\n".join(lines) + "\n<!-- soak:end -->"
doc, n = re.subn(r"<!-- soak:begin -->.*?<!-- soak:end -->", lambda _: block, doc, flags=re.S)
if n != 1: sys.exit("docs/reliability.md has no soak markers")
open(sys.argv[2], "w").write(doc)
PY
}
if [ -n "$FROM_JSON" ]; then
    report "$FROM_JSON" "$(cat "$(dirname "$FROM_JSON")/command" 2>/dev/null || echo bench/soak.sh)"
    exit
fi
for b in "$SESAME" "$SESAME_MILTER" "$SESAME_INGEST" "$AWS_TOOL"; do
    [ -x "$b" ] || { echo "soak: $b is missing: build first (cmake --build $BUILD)" >&2; exit 1; }
done

source "$root/tests/integration/lib.sh"
source "$root/scripts/emulators.sh"
e2e_setup soak  # exits 77 unless root; trap e2e_cleanup EXIT
# The driver's daemons by PID when it could not stop them itself.
soak_cleanup() {
    local p
    while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$E2E/pids"
    [ -n "${FAUXQS_PID:-}" ] && kill -CONT "$FAUXQS_PID" 2>/dev/null
    e2e_cleanup
}
: >"$E2E/pids"
trap soak_cleanup EXIT
sed -i 's/^level = "debug"$/level = "info"/' "$E2E/sesame.conf"

e2e_start_fauxqs soak-secret || exit 1
PROXY_PORT=$(e2e_free_port)
python3 "$root/tests/integration/aws_fault_proxy.py" "$PROXY_PORT" "$FAUXQS_PORT" "$E2E/proxy.control" "$E2E/proxy.log" &
E2E_PIDS+=($!)
e2e_wait_port "$PROXY_PORT" || exit 1

# Visibility 10 s: what a SIGKILLed daemon had in flight comes back soon.
QUEUE=$("$AWS_TOOL" create-queue example-com-inbound 10) || exit 1

# The policy (bench/soak.py's comment says what each recipient expects).
"$SESAME" block add guarded@example.com '*@spam.example' >/dev/null || exit 1
"$SESAME" forward set team@example.com member@example.net >/dev/null || exit 1
"$SESAME" forward set ext@example.com someone@remote.example >/dev/null || exit 1

e2e_ingest_config "$E2E/ingest.conf" "http://127.0.0.1:$PROXY_PORT"

e2e_start_postfix || exit 1
# `postfix start` checks the queue with postsuper, which runs as postfix and,
# with postlogd stopped, writes the log file itself: it must be able to (a
# stop can leave a half-written file in incoming/ that it warns about).
touch "$E2E/postfix/log/postfix.log" && chown postfix "$E2E/postfix/log/postfix.log"

# Sanitizer builds hold freed memory back (ASan's quarantine) and keep shadow
# memory and access history (TSan) that grow by design: no memory check there.
RSS_CHECK=1
# (ldd's output read whole first: with pipefail, grep -q leaving early can
# SIGPIPE ldd and turn a match into a failure.)
if grep -q -E 'lib(asan|tsan)\.' <<<"$(ldd "$SESAME_MILTER")"; then
    RSS_CHECK=0
    echo "soak: a sanitizer build: resident memory is reported, not checked" >&2
fi

echo "bench/soak.sh --milter $MILTER_COUNT --ingest $INGEST_COUNT --rate $RATE --fault-min $FAULT_MIN" \
    "--fault-max $FAULT_MAX --hold-min $HOLD_MIN --hold-max $HOLD_MAX --seed $SEED" >"$E2E/command"
git -C "$root" rev-parse --short HEAD >"$E2E/commit" 2>/dev/null
echo "soak: $MILTER_COUNT milter + $INGEST_COUNT ingest messages, a fault every $FAULT_MIN-$FAULT_MAX s, in $E2E" >&2
SOAK_WORK=$E2E MILTER_COUNT=$MILTER_COUNT INGEST_COUNT=$INGEST_COUNT SENDERS=$SENDERS \
    FAULT_MIN=$FAULT_MIN FAULT_MAX=$FAULT_MAX HOLD_MIN=$HOLD_MIN HOLD_MAX=$HOLD_MAX RATE=$RATE RSS_CHECK=$RSS_CHECK DEADLINE=$DEADLINE SEED=$SEED \
    SESAME_MILTER=$SESAME_MILTER SESAME_INGEST=$SESAME_INGEST INGEST_CONFIG=$E2E/ingest.conf \
    HTTP_PORT=$HTTP_PORT INGEST_HTTP_PORT=$INGEST_HTTP_PORT SMTP_PORT=$SMTP_PORT \
    POSTFIX_CONF=$E2E_POSTFIX_CONF SINK_DIR=$E2E FAUXQS_PORT=$FAUXQS_PORT FAUXQS_PID=$FAUXQS_PID \
    BUCKET=$BUCKET QUEUE_URL=$QUEUE PROXY_CONTROL=$E2E/proxy.control PROXY_LOG=$E2E/proxy.log \
    RESULT=$E2E/result.json python3 "$root/bench/soak.py"
status=$?

# What the daemons said that an operator would worry about.
crash='AddressSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer|runtime error:|terminate called|Segmentation fault|Assertion'
for d in milter ingest; do
    if grep -E -q "$crash" "$E2E/$d.log"; then
        echo "soak: sesame-$d logged a crash or sanitizer report:" >&2
        grep -E "$crash" "$E2E/$d.log" | head -20 >&2
        status=1
    fi
done
if [ "$status" -ne 0 ]; then
    e2e_tail "$E2E/milter.log" 20
    e2e_tail "$E2E/ingest.log" 20
    # The verdict last, where a CI summary that keeps only the end shows it.
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
for kind, examples in r.get("examples", {}).items():
    for e in examples: print("soak: example of", kind + ":", json.dumps(e)[:300])
for p in r.get("problems", []): print("FAIL: soak:", p)' "$E2E/result.json" 2>/dev/null ||
        echo "soak: bench/soak.py exited with $status before writing its result"
fi

if [ "$REPORT" = 1 ] && [ -s "$E2E/result.json" ]; then
    report "$E2E/result.json" "$(cat "$E2E/command")"
fi
exit "$status"
