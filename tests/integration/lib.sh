# lib.sh - a throwaway Postfix on loopback for Sesame's end-to-end tests.
#
# Sourced by the tests/integration/*.sh scripts. Everything lives under one
# scratch folder ($E2E), listens on 127.0.0.1 ports picked at run time, and
# is stopped by PID (or `postfix -c DIR stop`) by the trap that e2e_setup
# installs. Facts behind the choices: ../shared/notes/real-stack.md.
#
# Layout: Postfix listens on $SMTP_PORT (with smtpd_milters = the milter
# under test) and on $REINJECT_PORT (no milter: the reinjection service).
# Mail for the local domains is relayed to smtp-sink on $LOCAL_PORT (dumps in
# $E2E/local), everything else to smtp-sink on $REMOTE_PORT (the remote MX,
# dumps in $E2E/remote). smtp-sink's dump files carry the envelope in
# X-Mail-Args / X-Rcpt-Args pseudo headers.
set -uo pipefail

# e2e_free_port: a port on 127.0.0.1 for a listener of this test: free now,
# and given to no other test in the last ten minutes (scripts/free_port.py:
# tests run side by side, and a daemon binds its port seconds after it was
# picked).
E2E_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)
e2e_free_port() {
    python3 "$E2E_SCRIPTS/free_port.py"
}

# e2e_wait_port PORT: until something accepts on 127.0.0.1:PORT (20 s at most).
e2e_wait_port() {
    local i
    for i in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

# e2e_stop_postfix: the instance of $E2E/postfix by its configuration folder,
# then its master by PID if it is still there 10 s later.
e2e_stop_postfix() {
    local conf=$E2E/postfix/conf pid _
    [ -f "$conf/main.cf" ] || return 0
    pid=$(tr -dc 0-9 <"$E2E/postfix/queue/pid/master.pid" 2>/dev/null)
    script -qec "postfix -c $conf stop" /dev/null >/dev/null 2>&1
    for _ in $(seq 1 100); do
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null
}

E2E_PIDS=()
E2E_SINK_PIDS=()
e2e_cleanup() {
    set +e  # clean up everything, whatever fails on the way
    [ -n "${E2E_MILTER_PID:-}" ] && e2e_stop_milter
    [ -n "${E2E_POSTFIX_CONF:-}" ] && script -qec "postfix -c $E2E_POSTFIX_CONF stop" /dev/null >/dev/null 2>&1
    local p
    for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${E2E_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${E2E_KEEP:-0}" = 1 ]; then echo "kept $E2E"; else rm -rf "$E2E"; fi
}

# e2e_setup NAME: the scratch folder, ports, sinks, config and store.
e2e_setup() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "skipped: a throwaway Postfix and smtp-sink -u postfix need root"
        exit 77
    fi
    E2E=$(mktemp -d "${TMPDIR:-/tmp}/sesame-e2e-$1.XXXXXX")
    chmod 755 "$E2E"
    trap e2e_cleanup EXIT
    SMTP_PORT=$(e2e_free_port)
    REINJECT_PORT=$(e2e_free_port)
    LOCAL_PORT=$(e2e_free_port)
    REMOTE_PORT=$(e2e_free_port)
    MILTER_SOCKET=$E2E/milter/milter.sock
    INET_SMTP_PORT=$(e2e_free_port)
    MILTER_INET_PORT=$(e2e_free_port)
    HTTP_PORT=$(e2e_free_port)
    INGEST_HTTP_PORT=$(e2e_free_port)
    mkdir -p "$E2E/local" "$E2E/remote" "$E2E/milter"
    chown postfix "$E2E/local" "$E2E/remote"
    chgrp postfix "$E2E/milter" && chmod 750 "$E2E/milter"
    local name port
    for name in local remote; do
        port=$LOCAL_PORT
        [ $name = remote ] && port=$REMOTE_PORT
        /usr/sbin/smtp-sink -u postfix -d "$E2E/$name/%Y%m%d%H%M%S." "127.0.0.1:$port" 100 &
        E2E_PIDS+=($!)
        E2E_SINK_PIDS+=($!)
    done
    cat >"$E2E/sesame.conf" <<CONF
[store]
sqlite = "$E2E/policy.db"
[policy]
domains = ["example.com", "example.net"]
[milter]
socket = "unix:$MILTER_SOCKET"
reinject = "smtp:127.0.0.1:$REINJECT_PORT"
[srs]
domain = "example.com"
secret_file = "$E2E/srs.secret"
[http]
listen = "127.0.0.1:$HTTP_PORT"
ingest_listen = "127.0.0.1:$INGEST_HTTP_PORT"
[daemon]
user = "root"
[log]
target = "stderr"
level = "debug"
CONF
    head -c 24 /dev/urandom | base64 >"$E2E/srs.secret"
    chmod 600 "$E2E/srs.secret"
    export SESAME_CONFIG=$E2E/sesame.conf
    "$SESAME" db init >/dev/null
    e2e_wait_port "$LOCAL_PORT" && e2e_wait_port "$REMOTE_PORT"
}

# e2e_start_postfix: the instance, wired to the milter socket.
e2e_start_postfix() {
    local d=$E2E/postfix
    mkdir -p "$d/conf" "$d/queue" "$d/data" "$d/log"
    chown postfix "$d/data"
    cat >"$d/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.sesame.test
mydomain = sesame.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
mynetworks = 127.0.0.0/8
relay_domains = example.com example.net
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
transport_maps = inline:{ example.com=relay:[127.0.0.1]:$LOCAL_PORT, example.net=relay:[127.0.0.1]:$LOCAL_PORT }
default_transport = smtp:[127.0.0.1]:$REMOTE_PORT
relay_transport = relay:[127.0.0.1]:$LOCAL_PORT
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
disable_dns_lookups = yes
maillog_file = $d/log/postfix.log
maillog_file_prefixes = $d/log
milter_default_action = tempfail
milter_protocol = 6
milter_command_timeout = 30s
milter_connect_macros = j {daemon_name} v
milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr}
milter_rcpt_macros = i {rcpt_addr}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
CF
    cat >"$d/conf/master.cf" <<CF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd -o smtpd_milters=unix:$MILTER_SOCKET
127.0.0.1:$REINJECT_PORT inet n - n - - smtpd -o smtpd_milters=
127.0.0.1:$INET_SMTP_PORT inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$MILTER_INET_PORT
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 1 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
showq unix n - n - - showq
scache unix - - n - 1 scache
anvil unix - - n - 1 anvil
postlog unix-dgram n - n - 1 postlogd
CF
    script -qec "postfix -c $d/conf check" /dev/null || { echo "postfix check failed" >&2; return 1; }
    if ! script -qec "postfix -c $d/conf start" /dev/null >"$d/start.out" 2>&1; then
        echo "postfix start failed:" >&2
        tail -5 "$d/start.out" "$d/log/postfix.log" >&2 2>/dev/null
        return 1
    fi
    E2E_POSTFIX_CONF=$d/conf
    e2e_wait_port "$SMTP_PORT" && e2e_wait_port "$REINJECT_PORT"
}

# e2e_start_milter [CONFIG]: sesame-milter in the background; waits for its
# unix socket.
e2e_start_milter() {
    "$SESAME_MILTER" --config "${1:-$E2E/sesame.conf}" 2>>"$E2E/milter.log" &
    E2E_MILTER_PID=$!
    local i
    for i in $(seq 1 200); do
        [ -S "$MILTER_SOCKET" ] && return 0
        kill -0 "$E2E_MILTER_PID" 2>/dev/null || { echo "sesame-milter died:" >&2; cat "$E2E/milter.log" >&2; return 1; }
        sleep 0.05
    done
    echo "sesame-milter did not create $MILTER_SOCKET" >&2
    return 1
}

e2e_stop_milter() {
    kill -TERM "$E2E_MILTER_PID" 2>/dev/null
    wait "$E2E_MILTER_PID" 2>/dev/null
    E2E_MILTER_PID=
}

# e2e_send ARGS...: swaks against the milter port; prints swaks' transcript
# to $E2E/swaks.last and returns swaks' status.
e2e_send() {
    swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo client.sesame.test --timeout 30 "$@" >"$E2E/swaks.last" 2>&1
}

# e2e_dump_open FILE...: smtp-sink still holds one of these dumps open. It
# writes a dump as the data arrives, in buffer-sized pieces, and closes it
# at the final dot, before its 250: a dump that is open is not whole yet.
e2e_dump_open() {
    local p fd open
    open=$(for p in "${E2E_SINK_PIDS[@]}"; do
        for fd in /proc/"$p"/fd/*; do readlink "$fd"; done
    done)
    [ -n "$open" ] && grep -qxF -- "$open" <<<"$(realpath -- "$@")"  # not a pipe: pipefail
}

# e2e_wait_dump SINK GREP-PATTERN [COUNT]: until COUNT whole dumps in SINK
# (local or remote) contain PATTERN (20 s at most); prints the matching
# files.
e2e_wait_dump() {
    local sink=$1 pattern=$2 count=${3:-1} i files
    for i in $(seq 1 200); do
        files=$(grep -lF -- "$pattern" "$E2E/$sink"/* 2>/dev/null)
        # shellcheck disable=SC2086
        if [ -n "$files" ] && [ "$(echo "$files" | wc -l)" -ge "$count" ] && ! e2e_dump_open $files; then
            echo "$files"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# e2e_body_of DUMP: the message body in an smtp-sink dump (after the first
# empty line), with CRLF line ends.
e2e_body_of() {
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); d=d.replace(b"\r\n",b"\n").replace(b"\n",b"\r\n"); sys.stdout.buffer.write(d.split(b"\r\n\r\n",1)[1])' "$1"
}

# e2e_original_header DUMP: the header lines swaks wrote (from Date: to the
# empty line), without Sesame's marker.
e2e_original_header() {
    sed -n '/^Date: /,/^\r\?$/p' "$1" | grep -v '^X-Sesame-Processed:'
}

# e2e_queued: the last swaks session ended with the message queued.
e2e_queued() {
    grep -q "^<-  250 2.0.0 Ok: queued" "$E2E/swaks.last"
}

# e2e_wait_for SECONDS COMMAND...: until COMMAND succeeds (every 0.1 s).
e2e_wait_for() {
    local n=$(($1 * 10)) i
    shift
    for i in $(seq 1 $n); do "$@" && return 0; sleep 0.1; done
    return 1
}

# e2e_scrape PORT: the /metrics of the daemon whose side door is on PORT
# into $E2E/metrics.last; fails unless `promtool check metrics` accepts it.
e2e_scrape() {
    curl -sf "http://127.0.0.1:$1/metrics" >"$E2E/metrics.last" || return 1
    promtool check metrics <"$E2E/metrics.last" >"$E2E/promtool.last" 2>&1 || {
        cat "$E2E/promtool.last"
        return 1
    }
}

# e2e_metric SERIES: its value in the last scrape, as written there
# ('sesame_messages_total{path="milter",verdict="loop"}'); 0 when absent.
e2e_metric() {
    awk -v s="$1" '$1 == s { v = $2 } END { print (v == "" ? 0 : v) }' "$E2E/metrics.last"
}

# e2e_metric_moved PORT SERIES BEFORE BY: scrapes PORT until SERIES is
# BEFORE + BY (5 s at most: the daemon may count a moment after Postfix answers).
e2e_metric_moved() {
    local i want=$(($3 + $4))
    for i in $(seq 1 50); do
        e2e_scrape "$1" && [ "$(e2e_metric "$2")" = "$want" ] && return 0
        sleep 0.1
    done
    echo "$2 is $(e2e_metric "$2"), want $want"
    return 1
}

# e2e_mark PORT SERIES...: remembers each SERIES's value now, for e2e_moved.
declare -A E2E_MARK
e2e_mark() {
    local port=$1 s
    shift
    e2e_scrape "$port" >/dev/null
    for s in "$@"; do E2E_MARK[$s]=$(e2e_metric "$s"); done
}
# e2e_moved PORT SERIES BY WHAT: checks that SERIES went up by exactly BY
# since e2e_mark.
e2e_moved() {
    e2e_check "$4 ($2 +$3)" e2e_metric_moved "$1" "$2" "${E2E_MARK[$2]}" "$3"
}

# e2e_readyz PORT PATTERN [STATUS]: until /readyz on PORT answers STATUS
# (default 200) with a body containing PATTERN (20 s at most).
e2e_readyz() {
    local i code want=${3:-200}
    for i in $(seq 1 200); do
        code=$(curl -s -o "$E2E/readyz.last" -w '%{http_code}' "http://127.0.0.1:$1/readyz")
        [ "$code" = "$want" ] && grep -qF -- "$2" "$E2E/readyz.last" && return 0
        sleep 0.1
    done
    echo "/readyz answered $code: $(cat "$E2E/readyz.last" 2>/dev/null)"
    return 1
}

# e2e_start_fauxqs [SECRET]: the npm SQS/S3 emulator (scripts/emulators.sh,
# which the caller sources) for this test, stopped with it; AWS_* exported
# to reach it (SECRET, default "test", as the secret key: a test may check
# that no log line shows it) and the bucket BUCKET (inbound-mail) made with
# $AWS_TOOL.
e2e_start_fauxqs() {
    install_emulators || { echo "cannot install the npm emulators" >&2; return 1; }
    start_fauxqs "$E2E" || return 1
    E2E_PIDS+=("$FAUXQS_PID")
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=${1:-test} AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
    export AWS_ENDPOINT_URL=http://127.0.0.1:$FAUXQS_PORT
    BUCKET=inbound-mail
    "$AWS_TOOL" create-bucket "$BUCKET"
}

# e2e_ingest_config FILE ENDPOINT [LINE...]: sesame-ingest's configuration:
# the test's sesame.conf, AWS at ENDPOINT, each LINE (more TOML, right after
# that endpoint: keys of [aws], then tables such as [outbound]), delivery to
# the reinjection service (retry after 1 s, 4 at a time), and the queue
# $QUEUE for example.com.
e2e_ingest_config() {
    local file=$1 endpoint=$2
    shift 2
    {
        cat "$E2E/sesame.conf"
        printf '[aws]\nendpoint = "%s"\n' "$endpoint"
        [ $# -gt 0 ] && printf '%s\n' "$@"
        cat <<CONF
[ingest]
concurrency = 4
deliver_to = "smtp:127.0.0.1:$REINJECT_PORT"
retry_seconds = 1
[[ingest.queue]]
domain = "example.com"
url = "$QUEUE"
CONF
    } >"$file"
}

E2E_FAILURES=0
E2E_FAILED=()
e2e_ok() { echo "ok: $*"; }
e2e_fail() {
    echo "FAIL: $*"
    E2E_FAILURES=$((E2E_FAILURES + 1))
    E2E_FAILED+=("$*")
}
# e2e_check DESCRIPTION COMMAND...: runs COMMAND, reports.
e2e_check() {
    local what=$1
    shift
    if "$@"; then e2e_ok "$what"; else e2e_fail "$what"; fi
}
# e2e_tail FILE N: its last N lines, each cut at 300 characters (a test's
# 2,000-character addresses would otherwise crowd out what matters).
e2e_tail() {
    echo "--- $(basename "$1") (last $2 lines)"
    tail -n "$2" "$1" 2>/dev/null | cut -c 1-300
}
# e2e_finish: the logs' tails when a check failed, then the failed checks
# again as the last lines, where a CI summary that keeps only the end of
# the output still shows them.
e2e_finish() {
    if [ "$E2E_FAILURES" -gt 0 ]; then
        e2e_tail "$E2E/milter.log" 50
        e2e_tail "$E2E/postfix/log/postfix.log" 50
        printf 'FAILED: %s\n' "${E2E_FAILED[@]}"
    fi
    echo "$E2E_FAILURES failed"
    [ "$E2E_FAILURES" -eq 0 ]
}
