#!/usr/bin/env bash
# daemon_process.sh SESAME SESAME_MILTER SESAME_INGEST - the daemons as
# processes a service manager runs: who they become, what they refuse, and
# what they tell systemd.
#
# Privileges (as root): a scratch system user stands in for `sesame`.
#   * daemon.user that does not exist: both daemons refuse to start, exit 2,
#     one line saying what to do; so does a world-readable SRS secret;
#   * sesame-milter started as root becomes the user and group (every uid and
#     gid in /proc/PID/status), creates the missing socket directory 0750
#     owner the user, group postfix, and the socket 0660 group postfix; the
#     sqlite WAL it creates belongs to the user; sesame-ingest becomes the
#     user too (its queues are unreachable: it starts anyway and says so),
#     and warns of a queue whose domain the policy does not call local.
# sd_notify: a unix datagram socket in $NOTIFY_SOCKET, as systemd sets it,
#   with WATCHDOG_USEC=1 s: READY=1 once the milter listens, WATCHDOG=1
#   pings, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM.
# Every process started here is stopped by its PID; the user is removed.
SESAME=$1
SESAME_MILTER=$2
SESAME_INGEST=$3
source "$(dirname "$0")/lib.sh"  # e2e_check, e2e_wait_for, e2e_free_port, e2e_finish
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: becoming another user needs root"
    exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/sesame-process.XXXXXX")
E2E=$dir  # where e2e_finish finds milter.log
chmod 755 "$dir"
user=sesame-t$$
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    userdel "$user" 2>/dev/null
    getent group "$user" >/dev/null && groupdel "$user" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT

useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user" || exit 1
uid=$(id -u "$user")
gid=$(id -g "$user")
mkdir -p "$dir/lib"
head -c 24 /dev/urandom | base64 >"$dir/srs.secret"
chmod 640 "$dir/srs.secret"

# conf FILE USER [EXTRA]: a configuration for both daemons.
conf() {
    cat >"$1" <<CONF
[store]
sqlite = "$dir/lib/policy.db"
[policy]
domains = ["example.com"]
[milter]
socket = "unix:$dir/run/milter.sock"
reinject = "smtp:127.0.0.1:$(e2e_free_port)"
[srs]
domain = "example.com"
secret_file = "$dir/srs.secret"
[ingest]
deliver_to = "smtp:127.0.0.1:$(e2e_free_port)"
[[ingest.queue]]
domain = "example.com"
url = "http://127.0.0.1:$(e2e_free_port)/000000000000/example-com-inbound"
[[ingest.queue]]
domain = "other.example"
url = "http://127.0.0.1:$(e2e_free_port)/000000000000/other-example-inbound"
[http]
listen = "127.0.0.1:$(e2e_free_port)"
ingest_listen = "127.0.0.1:$(e2e_free_port)"
[daemon]
user = "$2"
group = "$2"
[log]
target = "stderr"
${3:-}
CONF
}
conf "$dir/sesame.conf" "$user"
SESAME_CONFIG=$dir/sesame.conf "$SESAME" db init >/dev/null || exit 1
chown -R "$user:$user" "$dir/lib"

# refused CONF WANT PROGRAM [ARGS...]: PROGRAM with CONF exits 2 with one
# line naming WANT.
refused() {
    local conf=$1 want=$2 program=$3 rc
    shift 3
    timeout 20 "$program" --config "$conf" "$@" >"$dir/out" 2>"$dir/err"
    rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -qF -- "$want" "$dir/err" && return 0
    echo "  exit $rc, stderr: $(cat "$dir/err")"
    return 1
}
conf "$dir/nouser.conf" "nosuchuser-$$"
for p in "$SESAME_MILTER" "$SESAME_INGEST"; do
    e2e_check "$(basename "$p"): a missing daemon.user is refused" refused "$dir/nouser.conf" \
        "daemon.user \"nosuchuser-$$\" does not exist" "$p"
done
chmod 644 "$dir/srs.secret"
for p in "$SESAME_MILTER" "$SESAME_INGEST"; do
    e2e_check "$(basename "$p"): a world-readable SRS secret is refused" refused "$dir/sesame.conf" \
        "chmod o-rwx $dir/srs.secret" "$p"
done
chmod 640 "$dir/srs.secret"
e2e_check "check-config refuses the missing user too" refused "$dir/nouser.conf" "does not exist" \
    "$SESAME_MILTER" --check-config

# ids PID: "uid uid uid uid / gid gid gid gid / groups" from /proc/PID/status.
ids() {
    awk '/^Uid:/ { u = $2" "$3" "$4" "$5 } /^Gid:/ { g = $2" "$3" "$4" "$5 } /^Groups:/ { $1 = ""; s = $0 }
         END { print u " / " g " /" s }' "/proc/$1/status"
}

# --- the milter as root, with sd_notify
python3 - "$dir/notify.sock" >"$dir/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)  # as systemd's own: the daemon writes after dropping root
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " | "), flush=True)
PY
pids+=($!)
e2e_wait_for 5 test -S "$dir/notify.sock"
NOTIFY_SOCKET=$dir/notify.sock WATCHDOG_USEC=1000000 "$SESAME_MILTER" --config "$dir/sesame.conf" 2>"$dir/milter.log" &
milter=$!
pids+=($milter)
e2e_check "sd_notify: READY=1 once the milter listens" e2e_wait_for 10 grep -q "^READY=1 | STATUS=listening on unix:" "$dir/notify.log"
e2e_check "the milter became $user:$user (uid $uid, gid $gid)" \
    test "$(ids $milter)" = "$uid $uid $uid $uid / $gid $gid $gid $gid / $gid"
e2e_check "the log says whom it runs as" grep -q "running as user $user, group $user" "$dir/milter.log"
e2e_check "the socket directory was created 0750, $user:postfix" \
    test "$(stat -c '%a %U %G' "$dir/run")" = "750 $user postfix"
e2e_check "the socket is 0660, group postfix" test "$(stat -c '%a %G' "$dir/run/milter.sock")" = "660 postfix"
wal_owner() { [ "$(stat -c %U "$dir/lib/policy.db-wal" 2>/dev/null)" = "$user" ]; }
# notices N PATTERN: at least N lines of the notify log match PATTERN.
notices() { [ "$(grep -c "$2" "$dir/notify.log")" -ge "$1" ]; }
e2e_check "sqlite's WAL belongs to $user" e2e_wait_for 5 wal_owner
e2e_check "sd_notify: WATCHDOG=1 pings every half second" e2e_wait_for 5 notices 3 '^WATCHDOG=1'
kill -HUP $milter
e2e_check "sd_notify: RELOADING=1 on SIGHUP" e2e_wait_for 5 grep -q "^RELOADING=1 | MONOTONIC_USEC=[0-9]" "$dir/notify.log"
e2e_check "sd_notify: READY=1 again after the reload" e2e_wait_for 5 notices 2 '^READY=1'
kill -TERM $milter
wait $milter
e2e_check "SIGTERM: exit status 0" test $? -eq 0
e2e_check "sd_notify: STOPPING=1 on SIGTERM" grep -q "^STOPPING=1" "$dir/notify.log"

# --- the ingest daemon as root
"$SESAME_INGEST" --config "$dir/sesame.conf" 2>"$dir/ingest.log" &
ingest=$!
pids+=($ingest)
e2e_check "sesame-ingest says whom it runs as" e2e_wait_for 10 grep -q "running as user $user, group $user" "$dir/ingest.log"
e2e_check "sesame-ingest became $user:$user" test "$(ids $ingest)" = "$uid $uid $uid $uid / $gid $gid $gid $gid / $gid"
e2e_check "sesame-ingest says its queue cannot be reached" e2e_wait_for 10 grep -q "queue example.com (" "$dir/ingest.log"
e2e_check "sesame-ingest warns of a queue whose domain is not local" \
    grep -q "queue other.example: other.example is not a local domain" "$dir/ingest.log"
kill -TERM $ingest
wait $ingest
e2e_check "sesame-ingest: SIGTERM, exit status 0" test $? -eq 0

e2e_finish
