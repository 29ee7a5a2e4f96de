#!/usr/bin/env bash
# milter_e2e.sh SESAME SESAME_MILTER - sesame-milter inside a real Postfix.
#
# One throwaway Postfix (tests/integration/lib.sh) with sesame-milter on a
# unix socket; swaks sends, smtp-sink dumps show what was delivered where.
# Each case states what a postmaster would see.
SESAME=$1
SESAME_MILTER=$2
source "$(dirname "$0")/lib.sh"
e2e_setup milter
"$SESAME" block add @example.com '*@spam.example' >/dev/null
"$SESAME" block add carol@example.com '*@annoying.example' >/dev/null
e2e_start_postfix || exit 1
e2e_start_milter || exit 1
e2e_check "/readyz: 200, policy loaded, Postfix's reinjection service answers" e2e_readyz "$HTTP_PORT" "postfix: ok"
M='sesame_messages_total{path="milter",verdict'
BLOCKED='sesame_recipients_blocked_total{path="milter"}'

# --- 1. two recipients, one of whom blocks the sender
e2e_mark "$HTTP_PORT" "$BLOCKED" "$M=\"delivered\"}" 'sesame_processing_seconds_count{path="milter"}'
e2e_send --from news@annoying.example --to bob@example.com,carol@example.com --header "Subject: case 1"
e2e_check "blocked recipient refused at RCPT with 550 5.7.1" grep -q "<\*\* 550 5.7.1" "$E2E/swaks.last"
e2e_check "the other recipient delivered" e2e_wait_dump local "Subject: case 1"
dump=$(e2e_wait_dump local "Subject: case 1")
e2e_check "bob is a recipient of the delivered copy" grep -q "X-Rcpt-Args: <bob@example.com>" $dump
e2e_check "carol is not" bash -c "! grep -q 'X-Rcpt-Args: <carol' $dump"
e2e_moved "$HTTP_PORT" "$BLOCKED" 1 "metrics: the refused RCPT counted as blocked"
e2e_moved "$HTTP_PORT" "$M=\"delivered\"}" 1 "metrics: the message counted as delivered"
e2e_moved "$HTTP_PORT" 'sesame_processing_seconds_count{path="milter"}' 1 "metrics: its processing time observed"

# --- 2. From-header block (envelope clean)
e2e_mark "$HTTP_PORT" "$M=\"blocked\"}"
e2e_send --from bounce@esp.example --to bob@example.com --header "From: offers@spam.example" --header "Subject: case 2"
e2e_check "From-header block rejects the message with 550 5.7.1" grep -q "<\*\* 550 5.7.1" "$E2E/swaks.last"
e2e_moved "$HTTP_PORT" "$M=\"blocked\"}" 1 "metrics: the message counted as blocked"

# --- 3. hop limit
hops=()
for i in $(seq 1 31); do hops+=(--add-header "Received: from hop$i by hop$((i + 1)); Mon, 2 Nov 2026 10:00:00 +0000"); done
e2e_mark "$HTTP_PORT" "$M=\"loop\"}"
e2e_send --from a@friend.example --to bob@example.com "${hops[@]}" --header "Subject: case 3"
e2e_check "31 Received headers refused with 554 5.4.6" grep -q "<\*\* 554 5.4.6" "$E2E/swaks.last"
e2e_moved "$HTTP_PORT" "$M=\"loop\"}" 1 "metrics: the message counted as a loop"

# --- 4. forwards: internal and external; loop-marked mail not forwarded
"$SESAME" forward set dave@example.com erin@example.net dave.home@remote.example >/dev/null
sleep 1  # the milter notices store changes within a second
e2e_mark "$HTTP_PORT" 'sesame_forwards_total{path="milter",result="sent"}'
printf 'This body must arrive byte for byte.\r\n.leading dot line\r\nlast line\r\n' >"$E2E/body.txt"
e2e_send --from alice@friend.example --to dave@example.com --header "Subject: case 4" --body "$E2E/body.txt"
e2e_check "forwarded message accepted" e2e_queued
local_copy=$(e2e_wait_dump local "Subject: case 4")
e2e_check "internal forward: dave receives it" grep -q "X-Rcpt-Args: <dave@example.com>" $local_copy
e2e_check "internal forward: erin receives it" grep -q "X-Rcpt-Args: <erin@example.net>" $local_copy
remote=$(e2e_wait_dump remote "Subject: case 4")
e2e_check "external forward reaches the remote MX" test -n "$remote"
e2e_check "external copy has an SRS envelope sender in our domain" grep -qE "X-Mail-Args: <SRS0[=+-][^>]*@example.com>" $remote
e2e_check "external copy carries the marker" grep -q "^X-Sesame-Processed: forwarded" $remote
e2e_check "external copy's body is byte for byte the local copy's" cmp <(e2e_body_of $remote) <(e2e_body_of $local_copy)
e2e_check "external copy's original header lines are unchanged" \
    cmp <(e2e_original_header $remote) <(e2e_original_header $local_copy)
srs=$(grep -oE "SRS0[=+-][^>]*@example.com" $remote | head -1)
e2e_moved "$HTTP_PORT" 'sesame_forwards_total{path="milter",result="sent"}' 2 "metrics: both forward copies counted"

e2e_send --from alice@friend.example --to dave@example.com --header "Subject: case 4b" --header "X-Sesame-Processed: forwarded"
e2e_check "loop-marked message delivered to dave" e2e_wait_dump local "Subject: case 4b"
sleep 2
e2e_check "loop-marked message not forwarded" bash -c "! grep -lq 'Subject: case 4b' $E2E/remote/* 2>/dev/null"

# --- 5. a bounce to the SRS address reaches the original sender
e2e_mark "$HTTP_PORT" 'sesame_srs_bounces_reversed_total{path="milter"}'
e2e_send --from "" --to "$srs" --header "Subject: case 5 bounce"
e2e_check "bounce to $srs accepted" e2e_queued
bounce=$(e2e_wait_dump remote "Subject: case 5 bounce")
e2e_check "bounce delivered to the original sender" grep -q "X-Rcpt-Args: <alice@friend.example>" $bounce
e2e_moved "$HTTP_PORT" 'sesame_srs_bounces_reversed_total{path="milter"}' 1 "metrics: the SRS bounce counted"
forged=$(echo "$srs" | sed -E 's/^(SRS0[=+-])..../\1AAAA/')
e2e_send --from "" --to "$forged" --header "Subject: case 5 forged"
e2e_check "forged SRS address refused" grep -q "<\*\* 550 5.7.1" "$E2E/swaks.last"

# --- 6. out of office: once, not twice, not for a list
"$SESAME" ooo set frank@example.com --subject "Away" --text "Back soon." >/dev/null
sleep 1
e2e_mark "$HTTP_PORT" 'sesame_autoreplies_total{path="milter",result="sent"}'
e2e_send --from gina@friend.example --to frank@example.com --header "To: frank@example.com" --header "Subject: case 6"
reply=$(e2e_wait_dump remote "Subject: Away")
e2e_check "auto-reply sent to the sender" grep -q "X-Rcpt-Args: <gina@friend.example>" $reply
e2e_check "auto-reply has a null envelope sender" grep -q "X-Mail-Args: <>" $reply
e2e_moved "$HTTP_PORT" 'sesame_autoreplies_total{path="milter",result="sent"}' 1 "metrics: the reply counted"
e2e_send --from gina@friend.example --to frank@example.com --header "To: frank@example.com" --header "Subject: case 6b"
e2e_wait_dump local "Subject: case 6b" >/dev/null
sleep 2
e2e_check "no second auto-reply within the interval" test "$(grep -l 'Subject: Away' $E2E/remote/* | wc -l)" -eq 1
e2e_send --from list@lists.example --to frank@example.com --header "To: frank@example.com" --header "List-Id: <l.lists.example>" --header "Subject: case 6c"
e2e_wait_dump local "Subject: case 6c" >/dev/null
sleep 2
e2e_check "no auto-reply to a list message" bash -c "! grep -l 'X-Rcpt-Args: <list@lists.example>' $E2E/remote/* 2>/dev/null | grep -q ."

# --- 7. a rule added while the milter runs
e2e_send --from promo@newspam.example --to bob@example.com --header "Subject: case 7a"
e2e_check "before the rule: accepted" e2e_queued
"$SESAME" block add bob@example.com '*@newspam.example' >/dev/null
sleep 1
e2e_send --from promo@newspam.example --to bob@example.com --header "Subject: case 7b"
e2e_check "after the rule: refused with 550 5.7.1" grep -q "<\*\* 550 5.7.1" "$E2E/swaks.last"

# --- 8. the milter dies: 4xx, then after a restart the retried mail arrives
e2e_stop_milter
e2e_send --from hank@friend.example --to bob@example.com --header "Subject: case 8"
e2e_check "milter down: Postfix answers 4xx" grep -qE "<~?\*+ 4[0-9][0-9]" "$E2E/swaks.last"
e2e_start_milter
e2e_send --from hank@friend.example --to bob@example.com --header "Subject: case 8"
e2e_check "milter back: the retried mail is delivered" e2e_wait_dump local "Subject: case 8"

# --- 8b. the reply state survived the restart: still no second reply
e2e_send --from gina@friend.example --to frank@example.com --header "To: frank@example.com" --header "Subject: case 8b"
e2e_wait_dump local "Subject: case 8b" >/dev/null
sleep 2
e2e_check "after a restart, still no second auto-reply within the interval" \
    test "$(grep -l 'Subject: Away' $E2E/remote/* | wc -l)" -eq 1

# --- 8c. resend forwards: a new Fwd: message, Reply-To the original sender
"$SESAME" forward set sales@example.com crm@vendor.example --mode resend >/dev/null
sleep 1
e2e_send --from ivan@friend.example --to sales@example.com --header "From: Ivan <ivan@friend.example>" \
    --header "Subject: case 8c"
resent=$(e2e_wait_dump remote "Subject: Fwd: case 8c")
e2e_check "resend forward reaches the target as Fwd:" test -n "$resent"
e2e_check "resend forward has Reply-To the original sender" grep -q "^Reply-To: .*ivan@friend.example" $resent
e2e_check "resend forward comes from the forwarding address" grep -q "X-Mail-Args: <sales@example.com>" $resent

# --- 8d. SIGHUP re-reads the configuration (max_hops 3 instead of 30)
sed -i 's/^domains = \(.*\)$/domains = \1\nmax_hops = 3/' "$E2E/sesame.conf"
kill -HUP "$E2E_MILTER_PID"
sleep 1
e2e_send --from a@friend.example --to bob@example.com "${hops[@]:0:8}" --header "Subject: case 8d"
e2e_check "after SIGHUP, 4 Received headers exceed max_hops 3: 554 5.4.6" grep -q "<\*\* 554 5.4.6" "$E2E/swaks.last"
e2e_check "the milter survived SIGHUP" kill -0 "$E2E_MILTER_PID"
sed -i '/^max_hops = 3$/d' "$E2E/sesame.conf"

# --- 8e. Postfix restarts: the milter's reinjection connections are stale
script -qec "postfix -c $E2E_POSTFIX_CONF stop" /dev/null >/dev/null
script -qec "postfix -c $E2E_POSTFIX_CONF start" /dev/null >/dev/null
e2e_wait_port "$SMTP_PORT" && e2e_wait_port "$REINJECT_PORT"
e2e_send --from alice@friend.example --to dave@example.com --header "Subject: case 8e"
e2e_check "after a Postfix restart the forward is still handed on" e2e_wait_dump remote "Subject: case 8e"

# --- 9. a forward that cannot be handed on: the whole message is a tempfail
sed "s|^reinject = .*|reinject = \"smtp:127.0.0.1:$(e2e_free_port)\"|" "$E2E/sesame.conf" >"$E2E/dead-reinject.conf"
e2e_stop_milter
e2e_start_milter "$E2E/dead-reinject.conf"
e2e_check "/readyz: 503, the reinjection service does not answer" e2e_readyz "$HTTP_PORT" "postfix: FAILING (connect to" 503
e2e_mark "$HTTP_PORT" 'sesame_reinjection_failures_total{path="milter"}' "$M=\"tempfail\"}"
e2e_send --from alice@friend.example --to dave@example.com --header "Subject: case 9"
e2e_check "forward not handed on: 451 4.3.0, nothing accepted" grep -q "<\*\* 451 4.3.0" "$E2E/swaks.last"
e2e_moved "$HTTP_PORT" 'sesame_reinjection_failures_total{path="milter"}' 1 "metrics: the reinjection failure counted"
e2e_moved "$HTTP_PORT" "$M=\"tempfail\"}" 1 "metrics: the message counted as a tempfail"
e2e_check "metrics: sesame_postfix_up is 0" test "$(e2e_metric 'sesame_postfix_up{path="milter"}')" = 0
e2e_stop_milter
e2e_start_milter
e2e_send --from alice@friend.example --to dave@example.com --header "Subject: case 9"
e2e_check "reinjection back: the retried message is forwarded" e2e_wait_dump remote "Subject: case 9"

# --- 9b. SIGTERM while a message is in flight: it is finished, then the milter exits
python3 - "$SMTP_PORT" "$E2E_MILTER_PID" >"$E2E/inflight.out" 2>&1 <<'PY' &
import os, signal, smtplib, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.sesame.test", timeout=60)
s.ehlo()
s.mail("jack@friend.example")
s.rcpt("bob@example.com")
code, _ = s.docmd("DATA")
assert code == 354, code
s.send(b"Subject: case 9b\r\nFrom: jack@friend.example\r\n\r\nfirst half\r\n")
time.sleep(1)
os.kill(pid, signal.SIGTERM)  # the milter is stopped mid-message
time.sleep(1)
s.send(b"second half\r\n.\r\n")
print("final reply", s.getreply())
PY
inflight=$!
wait $inflight
wait "$E2E_MILTER_PID" 2>/dev/null
E2E_MILTER_PID=
e2e_check "SIGTERM mid-message: the message in flight is accepted" grep -q "final reply (250" "$E2E/inflight.out"
e2e_check "SIGTERM mid-message: and delivered" e2e_wait_dump local "Subject: case 9b"
e2e_start_milter

# --- 10. the milter on an inet: socket pays no delayed-ACK stall per message
sed "s|^socket = .*|socket = \"inet:$MILTER_INET_PORT@127.0.0.1\"|" "$E2E/sesame.conf" >"$E2E/inet.conf"
"$SESAME_MILTER" --config "$E2E/inet.conf" 2>>"$E2E/milter-inet.log" &
inet_pid=$!
E2E_PIDS+=($inet_pid)
e2e_wait_port "$MILTER_INET_PORT"
# Twenty messages in one session through each socket, in the same run: the
# inet one must not be several times slower (a 40+ ms stall per message
# would make it about ten times slower; see ../shared/notes/real-stack.md).
# sesame-milter answers every body chunk, so Postfix's ACKs ride on those
# replies; it also sets TCP_NODELAY for the day it stops answering them
# (SMFIP_NR_BODY). Measured here without TCP_NODELAY: no stall either.
elapsed() {
    local start end
    start=$(date +%s%N)
    /usr/sbin/smtp-source -s 1 -m 20 -l 512 -f bench@friend.example -t bob@example.com "127.0.0.1:$1" >/dev/null 2>&1
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}
elapsed "$SMTP_PORT" >/dev/null # warm up both paths
elapsed "$INET_SMTP_PORT" >/dev/null
unix_ms=$(elapsed "$SMTP_PORT")
inet_ms=$(elapsed "$INET_SMTP_PORT")
echo "20 messages, one session: unix socket ${unix_ms} ms, inet socket ${inet_ms} ms"
e2e_check "inet socket within 3x the unix socket's time (+200 ms)" test "$inet_ms" -le $((3 * unix_ms + 200))

e2e_check "the SRS secret appears in no log line (level debug)" bash -c "! grep -qF '$(cat "$E2E/srs.secret")' '$E2E/milter.log'"

e2e_finish
