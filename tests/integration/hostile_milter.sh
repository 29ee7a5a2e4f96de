#!/usr/bin/env bash
# hostile_milter.sh SESAME SESAME_MILTER - hostile input through the front
# door: a real throwaway Postfix (tests/integration/lib.sh) with sesame-milter
# in smtpd_milters, fed by real clients: swaks, and Python's smtplib for
# SMTPUTF8 (swaks 20201014, Debian 12's, has no SMTPUTF8 option).
#
# Every case has one defined outcome, asserted precisely, and says who
# decides it: Postfix (its own limits, how it reads the SMTP stream) or
# Sesame (the policy). The rule the outcomes follow is a postmaster's:
# Sesame refuses with 5xx only for a policy verdict and never fails on
# hostile bytes (a deterministic tempfail would keep the mail retrying for
# days); Postfix's own limits answer with Postfix's codes. After each case
# the milter is shown to keep serving: the next ordinary message is
# delivered, the PID is the one started at the top, and the log holds no
# crash, sanitizer report or caught exception.
#
# Postfix here differs from lib.sh's in a few lines, each said where it is
# set: message_size_limit 50 MB (so the 40 MB message really reaches the
# milter), a listener with Postfix's default size limit, a listener whose
# cleanup has header_checks (as many production sites do: it turns on
# Postfix's MIME nesting check), DSN not used towards the sinks, and a
# virtual(8) maildir for the SMTPUTF8 domain (smtp-sink cannot announce
# SMTPUTF8, and Postfix rightly bounces UTF-8 envelopes it cannot relay).
SESAME=$1
SESAME_MILTER=$2
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
e2e_setup hostile-milter

# --- the policy the cases run against
"$SESAME" block add @example.com '*@spam.example' >/dev/null
for i in 01 02 03 04 05; do "$SESAME" block add "blocked$i@example.com" '*@bulk.example' >/dev/null; done
# dave: an external redirect, so the milter keeps the whole body and hands it on.
"$SESAME" forward set dave@example.com dave.home@remote.example >/dev/null
# sales: a resend, so Sesame builds a new message around the original.
"$SESAME" forward set sales@example.com crm@vendor.example --mode resend >/dev/null
# frank: out of office, the reply's subject is "Auto: <original subject>".
"$SESAME" ooo set frank@example.com --text "Back soon." >/dev/null
"$SESAME" domain add utf8.example >/dev/null
"$SESAME" block add 'δοκιμή@utf8.example' 'spämmer@*' >/dev/null

e2e_start_postfix || exit 1
DEFAULT_LIMIT_PORT=$(e2e_free_port)
STRICT_PORT=$(e2e_free_port)
BARE_LF_PORT=$(e2e_free_port)
DEFAULT_SIZE=$(postconf -d -h message_size_limit)
: >"$E2E/empty.regexp"
mkdir -p "$E2E/vmail"
chown postfix:postfix "$E2E/vmail"
# message_size_limit 50 MB: the 40 MB case is about the milter, not about
# Postfix's limit (that one is checked on DEFAULT_LIMIT_PORT).
# smtp_discard_ehlo_keywords = dsn: Postfix would add ORCPT=rfc822;<address>
# to each RCPT it relays, and smtp-sink (the stand-in mailbox server) drops
# a command line over 2048 bytes, which a 2,000-character address then is.
# smtpd_forbid_bare_newline = no: Postfix 3.7's default, written out so
# that case 4 means the same on a Postfix whose default is stricter (3.9);
# BARE_LF_PORT has it at "reject", as a postmaster may since SMTP smuggling
# (2023), for every client (by default it spares mynetworks, and so this test).
# virtual_*: utf8.example is delivered by Postfix's virtual(8) to a maildir.
postconf -c "$E2E_POSTFIX_CONF" -e \
    "message_size_limit = 52428800" \
    "smtpd_forbid_bare_newline = no" \
    "smtp_discard_ehlo_keywords = dsn" \
    "virtual_mailbox_domains = utf8.example" \
    "virtual_mailbox_base = $E2E/vmail" \
    "virtual_mailbox_maps = static:utf8/" \
    "virtual_mailbox_limit = 0" \
    "virtual_uid_maps = static:$(id -u postfix)" \
    "virtual_gid_maps = static:$(id -g postfix)"
cat >>"$E2E_POSTFIX_CONF/master.cf" <<CF
127.0.0.1:$DEFAULT_LIMIT_PORT inet n - n - - smtpd -o smtpd_milters=unix:$MILTER_SOCKET -o message_size_limit=$DEFAULT_SIZE
127.0.0.1:$STRICT_PORT inet n - n - - smtpd -o smtpd_milters=unix:$MILTER_SOCKET -o cleanup_service_name=strictcleanup
127.0.0.1:$BARE_LF_PORT inet n - n - - smtpd -o smtpd_milters=unix:$MILTER_SOCKET -o smtpd_forbid_bare_newline=reject -o smtpd_forbid_bare_newline_exclusions=
strictcleanup unix n - n - 0 cleanup -o header_checks=regexp:$E2E/empty.regexp
virtual unix - n n - - virtual
CF
# (Before the milter starts: no pooled reinjection session outlives the reload.)
script -qec "postfix -c $E2E_POSTFIX_CONF reload" /dev/null >/dev/null || exit 1
e2e_wait_port "$DEFAULT_LIMIT_PORT" && e2e_wait_port "$STRICT_PORT" && e2e_wait_port "$BARE_LF_PORT" || exit 1
e2e_start_milter || exit 1
MILTER_PID=$E2E_MILTER_PID
LOG=$E2E/milter.log

# --- the hostile messages, made here rather than kept as files
python3 - "$E2E" <<'PY' || exit 1
import base64, os, sys
d = sys.argv[1]
def write(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
# Every message is written as it goes on the wire, for swaks --no-data-fixup
# (which sends a file untouched): dot-stuffed, ended by the "." line.
def wire(msg):
    return msg.replace(b"\r\n.", b"\r\n..") + b"."
# 10,000 header fields; the second copy has a blocked From: after all of them.
fields = b"".join(b"X-Hostile-%05d: value %05d\r\n" % (i, i) for i in range(1, 10001))
write("headers.list", fields.replace(b"\r\n", b"\n"))
write("h10k.wire", wire(b"From: alice@friend.example\r\nTo: bob@example.com\r\nSubject: hostile 10000 headers\r\n"
      + fields + b"\r\nthe body after 10,000 header fields\r\n"))
write("h10k-blocked.wire", wire(b"To: bob@example.com\r\nSubject: hostile 10000 headers blocked\r\n"
      + fields + b"From: offers@spam.example\r\n\r\nbody\r\n"))
# NUL bytes, a bare CR and a bare LF in the header.
hostile = (b"Subject: hostile nul\x00 and what follows the NUL\r\n"
           b"X-Nul: before\x00after\r\n"
           b"X-Bare-CR: one\rtwo\r\n"
           b"X-Bare-LF: one\ntwo\r\n"
           b"X-Smuggled: yes\r\n")
write("nul.wire", wire(b"From: alice@friend.example\r\nTo: bob@example.com\r\n" + hostile
                       + b"\r\nbody line\r\n.a line with a leading dot\r\n"))
write("nul-blocked.wire", wire(b"From: offers@spam.example\x00 <alice@friend.example>\r\nTo: bob@example.com\r\n"
                               + hostile.replace(b"hostile nul", b"hostile nul blocked") + b"\r\nbody\r\n"))
# 200 nested multipart/mixed levels, one boundary each, a text part inside.
depth = 200
inner = b"Content-Type: text/plain; charset=us-ascii\r\n\r\ninnermost part, level 200\r\n"
for level in range(depth, 0, -1):
    b = b"b%03d" % level
    inner = (b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\r\n\r\n--" + b + b"\r\n"
             + inner + b"\r\n--" + b + b"--\r\n")
write("nested.wire", wire(b"From: ivan@friend.example\r\nTo: sales@example.com\r\nSubject: hostile nested 200\r\n"
      b"MIME-Version: 1.0\r\n" + inner))
# 40 MB: random bytes in base64 (no line of it starts with a dot).
body = base64.encodebytes(os.urandom(30 * 1024 * 1024)).replace(b"\n", b"\r\n")
write("big.wire", wire(b"From: alice@friend.example\r\nTo: dave@example.com\r\nSubject: hostile 40 MB\r\n"
      b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body))
PY

# --- helpers
# swaks_at PORT ARGS...: e2e_send against any port of this Postfix, with
# time for 40 MB.
swaks_at() {
    local port=$1
    shift
    swaks --server 127.0.0.1 --port "$port" --helo client.sesame.test --timeout 120 "$@" >"$E2E/swaks.last" 2>&1
}
replies() { grep -c -- "$1" "$E2E/swaks.last"; }
queue_id() { sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-F]*\).*/\1/p' "$E2E/swaks.last" | tail -1; }
refused_with() { grep -q -- "^<\*\* $1" "$E2E/swaks.last"; }
# log_has PATTERN [COUNT]: the milter log has COUNT (default 1) lines with
# the fixed string PATTERN (20 s at most, as e2e_wait_dump: it logs a moment
# after Postfix answers, and a sanitizer build on a busy machine is slow).
log_count() { grep -cF -- "$1" "$LOG"; }
log_has() {
    local want=${2:-1} i
    for i in $(seq 1 200); do
        [ "$(log_count "$1")" -eq "$want" ] && return 0
        sleep 0.1
    done
    echo "milter log: $(log_count "$1") line(s) with '${1:0:200}', want $want"
    return 1
}
# The sha256 of the body in one of the .wire files above (dot-stuffing and
# the final "." undone), and of the body in an smtp-sink dump (which adds
# one line end of its own).
file_body_sha() {
    python3 -c 'import hashlib, sys
m = open(sys.argv[1], "rb").read()[:-1].replace(b"\r\n..", b"\r\n.")
print(hashlib.sha256(m.split(b"\r\n\r\n", 1)[1]).hexdigest())' "$1"
}
dump_body_sha() {
    python3 -c 'import hashlib, sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
b = d.split(b"\r\n\r\n", 1)[1]
print(hashlib.sha256(b[:-2] if b.endswith(b"\r\n\r\n") else b).hexdigest())' "$1"
}
# dump_header DUMP: the header part of an smtp-sink dump (up to the empty line).
dump_header() { sed -n '1,/^\r\?$/p' "$1"; }
dump_body() { sed '1,/^\r\?$/d' "$1"; }
header_lacks() { ! dump_header "$1" | grep -q -- "$2"; }
body_has() { dump_body "$1" | grep -q -- "$2"; }
# settled FILE: its size did not change in half a second (a big dump is
# found by its first lines while smtp-sink still writes the rest).
settled() {
    local before
    before=$(stat -c %s "$1") && sleep 0.5 && [ "$(stat -c %s "$1")" = "$before" ]
}

milter_unchanged() {
    [ "$E2E_MILTER_PID" = "$MILTER_PID" ] &&
        [ "$(awk '{print $3}' "/proc/$MILTER_PID/stat" 2>/dev/null)" != Z ] &&
        [ "$(readlink "/proc/$MILTER_PID/exe")" = "$(readlink -f "$SESAME_MILTER")" ]
}
# Nothing in the log a crash, a sanitizer or guarded()'s catch would write
# ("tempfail: <stage>: <what()>"): no case here is Sesame's own trouble.
milter_log_clean() {
    if grep -nE "tempfail: |Sanitizer|runtime error|terminate called|Segmentation fault|Aborted|what\(\)" "$LOG"; then
        return 1
    fi
}
SERVED=0
still_serving() {
    SERVED=$((SERVED + 1))
    e2e_send --from alice@friend.example --to bob@example.com --header "Subject: ordinary $SERVED after $1"
    e2e_check "$1: then an ordinary message is delivered" e2e_wait_dump local "Subject: ordinary $SERVED after $1"
    e2e_check "$1: sesame-milter still runs as PID $MILTER_PID" milter_unchanged
    e2e_check "$1: no crash, sanitizer report or exception in the milter log" milter_log_clean
}
start_case() { echo "--- $1"; CASE_START=$(date +%s%N); }
end_case() { echo "    ($1: $((($(date +%s%N) - CASE_START) / 1000000)) ms)"; }

# --- 1. 1,000 recipients (plus five blocked ones among them, plus one too many).
# Sesame: the five recipients who block the sender get 550 5.7.1 at RCPT;
# the 1,000 others are delivered. Postfix: smtpd_recipient_limit (1000)
# counts accepted recipients; the next one gets Postfix's 452 4.5.3.
# (Five, not more: from a client's tenth refused command on, Postfix
# answers every command a second late - smtpd_soft_error_limit 10,
# smtpd_error_sleep_time 1s - Postfix's tarpit, which would make this case
# take a minute.)
start_case "1,000 recipients"
python3 -c '
r = []
for i in range(1, 1001):
    r.append("r%04d@example.com" % i)
    if i % 200 == 100:
        r.append("blocked%02d@example.com" % (i // 200 + 1))
print(",".join(r + ["extra@example.com"]))' >"$E2E/rcpts.list"
seq -f 'r%04g@example.com' 1 1000 >"$E2E/rcpts.want"
e2e_send --from news@bulk.example --to "$(cat "$E2E/rcpts.list")" --header "To: undisclosed-recipients:;" \
    --header "Subject: hostile 1000 recipients"
e2e_check "the 5 blocked recipients refused at RCPT with Sesame's 550 5.7.1" test "$(replies '^<\*\* 550 5.7.1 Sender blocked by recipient policy')" -eq 5
e2e_check "the 1,001st accepted recipient refused with Postfix's own 452 4.5.3" test "$(replies '^<\*\* 452 4.5.3 Error: too many recipients')" -eq 1
e2e_check "no other refusal" test "$(replies '^<\*\*')" -eq 6
e2e_check "the message is queued" e2e_queued
qid=$(queue_id)
delivered_rcpts() {
    local files
    files=$(grep -lF "Subject: hostile 1000 recipients" "$E2E"/local/* 2>/dev/null) || return 0
    # shellcheck disable=SC2086
    sed -n 's/^X-Rcpt-Args: <\([^>]*\)>.*/\1/p' $files | sort
}
all_1000() { [ "$(delivered_rcpts | wc -l)" -ge 1000 ]; }
e2e_wait_for 60 all_1000
e2e_check "exactly the 1,000 accepted recipients reach the mailbox server" cmp <(delivered_rcpts) "$E2E/rcpts.want"
e2e_check "milter log: one refusal line per blocked recipient, with its rule" \
    log_has "verdict=reject rule: block *@bulk.example matched envelope sender (key blocked" 5
e2e_check "milter log: one verdict line per delivered recipient" log_has "$qid: from=<news@bulk.example> to=<r" 1000
end_case "1,000 recipients"
still_serving "1,000 recipients"

# --- 2. 10,000 header fields. Sesame: delivered untouched, every field in
# order; the same fields followed by a blocked From: are refused with
# 550 5.7.1 (the From: is found after 10,000 fields). Postfix has no limit
# on the number of fields (header_size_limit is per field).
start_case "10,000 headers"
swaks_at "$SMTP_PORT" --from alice@friend.example --to bob@example.com --data "$E2E/h10k.wire" --no-data-fixup --suppress-data
e2e_check "10,000 headers: queued" e2e_queued
qid=$(queue_id)
d=$(e2e_wait_dump local "Subject: hostile 10000 headers")
e2e_check "10,000 headers: delivered" test -n "$d"
e2e_check "10,000 headers: all 10,000 fields arrive, in order, unchanged" \
    cmp <(grep '^X-Hostile-' $d | tr -d '\r') "$E2E/headers.list"
e2e_check "10,000 headers: the body arrives byte for byte" test "$(dump_body_sha $d)" = "$(file_body_sha "$E2E/h10k.wire")"
e2e_check "10,000 headers: milter log has the verdict" log_has "$qid: from=<alice@friend.example> to=<bob@example.com> verdict=deliver"
swaks_at "$SMTP_PORT" --from hdrs@friend.example --to bob@example.com --data "$E2E/h10k-blocked.wire" --no-data-fixup --suppress-data
e2e_check "10,000 headers then a blocked From: refused with Sesame's 550 5.7.1" \
    refused_with "550 5.7.1 From address blocked by recipient policy"
e2e_check "milter log: the From: block after 10,000 fields" \
    log_has "from=<hdrs@friend.example> to=<bob@example.com> verdict=reject rule: block *@spam.example matched From header offers@spam.example (key @example.com)"
end_case "10,000 headers"
still_serving "10,000 headers"

# --- 3. 2,000-character addresses (RFC 5321 allows 64 for the local part;
# Postfix checks no length, so it is Sesame's policy that answers).
# Sesame: a blocked sender is refused 550 5.7.1 however long its address;
# mail to a 2,000-character address in our domain gets that domain's
# blocklist (it cannot be parsed into its own rule key); everything else
# is delivered with the address intact.
start_case "2,000-character addresses"
long_at() { python3 -c 'import sys; d = "@" + sys.argv[1]; print("a" * (2000 - len(d)) + d)' "$1"; }
long_spam=$(long_at spam.example)
long_friend=$(long_at friend.example)
long_ours=$(long_at example.com)
e2e_check "the addresses are 2,000 characters" test "${#long_spam}${#long_friend}${#long_ours}" = 200020002000
e2e_send --from "$long_spam" --to bob@example.com --header "Subject: hostile long blocked sender"
e2e_check "2,000-character blocked sender refused at RCPT with Sesame's 550 5.7.1" \
    refused_with "550 5.7.1 Sender blocked by recipient policy"
e2e_check "milter log: the refusal, with its rule" \
    log_has "from=<$long_spam> to=<bob@example.com> verdict=reject rule: block *@spam.example matched envelope sender (key @example.com)"
e2e_send --from "$long_friend" --to bob@example.com --header "Subject: hostile long sender"
e2e_check "2,000-character sender: queued" e2e_queued
d=$(e2e_wait_dump local "Subject: hostile long sender")
e2e_check "2,000-character sender: delivered with the envelope sender intact" grep -qxF "X-Mail-Args: <$long_friend>" $d
e2e_send --from offers@spam.example --to "$long_ours" --header "Subject: hostile long recipient blocked"
e2e_check "2,000-character recipient in our domain: its domain's blocklist applies, 550 5.7.1" \
    refused_with "550 5.7.1 Sender blocked by recipient policy"
e2e_check "milter log: the refusal names the domain's rule" \
    log_has "from=<offers@spam.example> to=<$long_ours> verdict=reject rule: recipient is not a parseable address: only the blocklists of its domain and * apply; block *@spam.example matched envelope sender (key @example.com)"
e2e_send --from alice@friend.example --to "$long_ours" --header "Subject: hostile long recipient"
e2e_check "2,000-character recipient: queued" e2e_queued
d=$(e2e_wait_dump local "Subject: hostile long recipient")
e2e_check "2,000-character recipient: delivered to the address intact" grep -qxF "X-Rcpt-Args: <$long_ours>" $d
end_case "2,000-character addresses"
still_serving "2,000-character addresses"

# --- 4. NUL bytes, a bare CR and a bare LF in the header. How the bytes are
# read is Postfix's (3.7, smtpd_forbid_bare_newline = no): a field ends at
# its NUL; a bare LF ends the line, so "two" (no colon) ends the header and
# "X-Smuggled: yes" is body text; a bare CR is not a line end. Sesame sees
# the header as Postfix does (no smuggled field) and applies the policy:
# the clean copy is delivered, a From: that is blocked before its NUL is
# refused 550 5.7.1. With smtpd_forbid_bare_newline = reject the bare LF
# gets Postfix's own 550 5.5.2 and Sesame makes no decision at all.
start_case "NUL, bare CR, bare LF"
swaks_at "$SMTP_PORT" --from alice@friend.example --to bob@example.com --data "$E2E/nul.wire" --no-data-fixup
e2e_check "hostile header bytes: queued" e2e_queued
qid=$(queue_id)
d=$(e2e_wait_dump local "Subject: hostile nul")
e2e_check "hostile header bytes: delivered" test -n "$d"
e2e_check "Postfix cut the Subject at its NUL" grep -qx 'Subject: hostile nul' <(tr -d '\r' <$d)
e2e_check "the bare LF ended the header (Postfix): X-Smuggled is not a field" header_lacks $d '^X-Smuggled'
e2e_check "the bare LF ended the header (Postfix): X-Smuggled is body text" body_has $d '^X-Smuggled: yes'
e2e_check "hostile header bytes: the body's dot line arrives" grep -q '^\.a line with a leading dot' $d
e2e_check "milter log: the verdict" log_has "$qid: from=<alice@friend.example> to=<bob@example.com> verdict=deliver"
swaks_at "$SMTP_PORT" --from nul@friend.example --to bob@example.com --data "$E2E/nul-blocked.wire" --no-data-fixup
e2e_check "From: blocked before a NUL: refused with Sesame's 550 5.7.1" \
    refused_with "550 5.7.1 From address blocked by recipient policy"
e2e_check "milter log: the From: block" \
    log_has "from=<nul@friend.example> to=<bob@example.com> verdict=reject rule: block *@spam.example matched From header offers@spam.example"
swaks_at "$BARE_LF_PORT" --from barelf@friend.example --to bob@example.com --data "$E2E/nul.wire" --no-data-fixup
e2e_check "bare LF, Postfix with smtpd_forbid_bare_newline = reject: Postfix's own 550 5.5.2" \
    refused_with "550 5.5.2 mx.sesame.test Error: bare <LF> received"
e2e_check "bare LF refused by Postfix: the milter made no decision" test "$(log_count "from=<barelf@friend.example>")" -eq 0
end_case "NUL, bare CR, bare LF"
still_serving "NUL, bare CR, bare LF"

# --- 5. Broken RFC 2047 encoded words. Sesame: the mail is delivered with
# its header untouched; the address, never the display name, decides a
# block; the out-of-office reply's "Auto: <subject>" is one clean line even
# when the decoded subject holds CR LF (no header can be injected into it).
start_case "broken RFC 2047"
subj='=?utf-8?B?!!!not*base64?= =?x-unknown-charset?Q?caf=E9?= =?utf-8?Q?=0D=0ABcc:_victim@evil.example=0D=0A?= =?utf-8?Q?=C3?= =?utf-8?B?'
e2e_send --from gina@friend.example --to frank@example.com --header "To: frank@example.com" \
    --header "From: =?utf-8?B?broken?= <gina@friend.example>" --header "Subject: $subj" --header "X-Case: hostile 2047"
e2e_check "broken encoded words: queued" e2e_queued
d=$(e2e_wait_dump local "X-Case: hostile 2047")
e2e_check "broken encoded words: delivered to frank" grep -q "^X-Rcpt-Args: <frank@example.com>" $d
e2e_check "broken encoded words: the Subject arrives as sent" grep -qxF "Subject: $subj" <(tr -d '\r' <$d)
reply=$(e2e_wait_dump remote "X-Rcpt-Args: <gina@friend.example>")
e2e_check "the out-of-office reply is sent to the sender" test -n "$reply"
e2e_check "the reply has one Subject field, \"Auto: ...\"" \
    test "$(dump_header $reply | grep -c '^Subject:')/$(dump_header $reply | grep -c '^Subject: Auto: ')" = 1/1
e2e_check "the reply's header has no injected Bcc: field" header_lacks $reply '^Bcc:'
e2e_check "milter log: the reply" log_has "autoreply from=<frank@example.com> to=<gina@friend.example>"
# The display name decodes to a clean address; the mailbox is blocked.
e2e_send --from bounce@esp.example --to bob@example.com --header "Subject: hostile 2047 blocked" \
    --header "From: =?utf-8?B?YWxpY2VAZnJpZW5kLmV4YW1wbGU=?= =?utf-8?B?#broken?= <offers@spam.example>"
e2e_check "encoded display name over a blocked address: Sesame's 550 5.7.1" \
    refused_with "550 5.7.1 From address blocked by recipient policy"
e2e_check "milter log: the block names the address, not the display name" \
    log_has "from=<bounce@esp.example> to=<bob@example.com> verdict=reject rule: block *@spam.example matched From header offers@spam.example (key @example.com)"
# The display name decodes to a blocked address; the mailbox is clean.
e2e_send --from bounce@esp.example --to bob@example.com --header "Subject: hostile 2047 clean" \
    --header "From: =?utf-8?Q?offers=40spam.example?= =?utf-8?Q?=ZZ?= <alice@friend.example>"
e2e_check "a blocked address only in the encoded display name: delivered" e2e_wait_dump local "Subject: hostile 2047 clean"
end_case "broken RFC 2047"
still_serving "broken RFC 2047"

# --- 6. 200 nested multipart levels. Sesame reads the header only and
# attaches the original whole to a resend, so depth costs it nothing: the
# local copy arrives byte for byte, the resend carries every level. Postfix
# checks MIME nesting (mime_nesting_limit 100) only when it inspects MIME,
# e.g. with header_checks: then it refuses with its own 550 5.6.0.
start_case "200 nested multiparts"
swaks_at "$SMTP_PORT" --from ivan@friend.example --to sales@example.com --data "$E2E/nested.wire" --no-data-fixup --suppress-data
e2e_check "200 levels: queued" e2e_queued
d=$(e2e_wait_dump local "Subject: hostile nested 200")
e2e_check "200 levels: the local copy's body arrives byte for byte" test "$(dump_body_sha $d)" = "$(file_body_sha "$E2E/nested.wire")"
fwd=$(e2e_wait_dump remote "Subject: Fwd: hostile nested 200")
e2e_check "200 levels: the resend reaches the target" test -n "$fwd"
e2e_check "200 levels: the resend carries all 200 levels and the innermost part" \
    test "$(grep -c '^Content-Type: multipart/mixed; boundary="b[0-9]*"' $fwd)/$(grep -c '^innermost part, level 200' $fwd)" = 200/1
swaks_at "$STRICT_PORT" --from ivan@friend.example --to sales@example.com --data "$E2E/nested.wire" --no-data-fixup --suppress-data
e2e_check "200 levels, Postfix with header_checks: Postfix's own 550 5.6.0" \
    refused_with "550 5.6.0 MIME nesting exceeds safety limit"
end_case "200 nested multiparts"
still_serving "200 nested multiparts"

# --- 7. A 40 MB message to dave, whose rule redirects to an external
# address: the milter takes in all 40 MB and hands them on. Sesame: both
# copies arrive byte for byte. Postfix: with its default message_size_limit
# (10240000) the same message gets Postfix's own 552 5.3.4.
start_case "40 MB"
big_sha=$(file_body_sha "$E2E/big.wire")
swaks_at "$SMTP_PORT" --from alice@friend.example --to dave@example.com --data "$E2E/big.wire" --no-data-fixup --suppress-data
e2e_check "40 MB: queued" e2e_queued
qid=$(queue_id)
d=$(e2e_wait_dump local "Subject: hostile 40 MB")
e2e_wait_for 30 settled $d
e2e_check "40 MB: dave's copy arrives byte for byte (sha256)" test "$(dump_body_sha $d)" = "$big_sha"
r=$(e2e_wait_dump remote "Subject: hostile 40 MB")
e2e_wait_for 30 settled $r
e2e_check "40 MB: the forwarded copy arrives byte for byte (sha256)" test "$(dump_body_sha $r)" = "$big_sha"
e2e_check "40 MB: the forwarded copy has an SRS sender" grep -qE "^X-Mail-Args: <SRS0[=+-][^>]*@example.com>" $r
e2e_check "milter log: the verdict with the forward" log_has "$qid: from=<alice@friend.example> to=<dave@example.com> verdict=deliver"
swaks_at "$DEFAULT_LIMIT_PORT" --from alice@friend.example --to bob@example.com --data "$E2E/big.wire" --no-data-fixup --suppress-data
e2e_check "40 MB with Postfix's default size limit: Postfix's own 552 5.3.4" \
    refused_with "552 5.3.4 Error: message file too big"
end_case "40 MB"
still_serving "40 MB"

# --- 8. SMTPUTF8: UTF-8 local parts in sender and recipient. Sesame: the
# recipient's own UTF-8 rule refuses a blocked UTF-8 sender with 550 5.7.1
# at RCPT; the other is delivered, envelope intact (Postfix's virtual(8)
# writes it as Return-Path and Delivered-To).
start_case "SMTPUTF8"
python3 - "$SMTP_PORT" >"$E2E/utf8.out" 2>&1 <<'PY'
import smtplib, sys
port = int(sys.argv[1])
rcpt = "δοκιμή@utf8.example"
for sender, subject in (("jörg@friend.example", "hostile smtputf8 ünïcödé"),
                        ("spämmer@friend.example", "hostile smtputf8 blocked")):
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nGrüße\r\n" % (sender, rcpt, subject)).encode()
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.sesame.test", timeout=60)
    s.ehlo()
    print(sender, "SMTPUTF8 offered" if s.has_extn("smtputf8") else "no SMTPUTF8")
    try:
        s.sendmail(sender, [rcpt], msg, mail_options=["SMTPUTF8"])
        print(sender, "accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients[rcpt]
        print(sender, "refused", code, text.decode())
    s.quit()
PY
e2e_check "SMTPUTF8: Postfix offers it" test "$(grep -c 'SMTPUTF8 offered' "$E2E/utf8.out")" -eq 2
e2e_check "SMTPUTF8: the clean UTF-8 sender accepted" grep -qx "jörg@friend.example accepted" "$E2E/utf8.out"
e2e_check "SMTPUTF8: the blocked UTF-8 sender refused with Sesame's 550 5.7.1" \
    grep -qx "spämmer@friend.example refused 550 5.7.1 Sender blocked by recipient policy" "$E2E/utf8.out"
utf8_mail() { grep -lF "Subject: hostile smtputf8 ünïcödé" "$E2E"/vmail/utf8/new/* 2>/dev/null; }
e2e_check "SMTPUTF8: delivered to the maildir" e2e_wait_for 20 utf8_mail
m=$(utf8_mail)
e2e_check "SMTPUTF8: the UTF-8 envelope sender intact" grep -qx "Return-Path: <jörg@friend.example>" $m
e2e_check "SMTPUTF8: the UTF-8 recipient intact" grep -qx "Delivered-To: δοκιμή@utf8.example" $m
e2e_check "SMTPUTF8: nothing delivered for the blocked sender" bash -c "! grep -qlF 'hostile smtputf8 blocked' $E2E/vmail/utf8/new/*"
e2e_check "milter log: both verdicts" log_has "to=<δοκιμή@utf8.example> verdict=" 2
e2e_check "milter log: the UTF-8 rule named" \
    log_has "from=<spämmer@friend.example> to=<δοκιμή@utf8.example> verdict=reject rule: block spämmer@* matched envelope sender (key δοκιμή@utf8.example)"
end_case "SMTPUTF8"
still_serving "SMTPUTF8"

e2e_check "/healthz still answers" curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" -o /dev/null
e2e_finish
