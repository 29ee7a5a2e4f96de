#!/usr/bin/env bash
# milter_protocol.sh SESAME SESAME_MILTER - the milter's protocol-level replies
# (miltertest, no Postfix), on a temporary unix socket.
set -uo pipefail
SESAME=$1
SESAME_MILTER=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/sesame-miltertest.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
export MILTER_SOCKET=$dir/milter.sock
export SESAME_CONFIG=$dir/sesame.conf
cat >"$SESAME_CONFIG" <<CONF
[store]
sqlite = "$dir/policy.db"
[policy]
domains = ["example.com", "example.net"]
[milter]
socket = "unix:$MILTER_SOCKET"
reinject = "smtp:127.0.0.1:9"
[daemon]
user = "root"
[log]
target = "stderr"
CONF
"$SESAME" db init >/dev/null
"$SESAME" block add @example.com '*@spam.example' >/dev/null
"$SESAME" block add carol@example.com '*@annoying.example' >/dev/null
"$SESAME" forward set dave@example.com erin@example.net >/dev/null
"$SESAME_MILTER" 2>"$dir/milter.log" &
pid=$!
for i in $(seq 1 200); do [ -S "$MILTER_SOCKET" ] && break; sleep 0.05; done
miltertest -s "$(dirname "$0")/milter_protocol.lua"
rc=$?
[ $rc -eq 0 ] || { echo "--- milter log"; cat "$dir/milter.log"; }
exit $rc
