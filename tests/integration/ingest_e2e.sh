#!/usr/bin/env bash
# ingest_e2e.sh SESAME SESAME_INGEST AWS_TOOL - sesame-ingest between real
# AWS emulators (fauxqs: SQS and S3; aws-ses-v2-local: SES, from npm, pinned
# in package.json) and a real throwaway Postfix (tests/integration/lib.sh).
#
# Each case puts a raw mail into S3 and announces it in SQS with an SES
# "Received" notification inside the SNS envelope, as SES and SNS do, then
# checks what a postmaster would see: what reached the mailbox sink, how the
# S3 object is marked, what is left in the queue. One fault is injected with
# a stand-in, and says so: an S3 "AccessDenied" answer (case 8), which the
# emulators cannot be made to give.
#
# SESAME_E2E_STORE=dynamodb runs every case on the DynamoDB store (a real
# dynalite from npm) instead of sqlite: the delivery state, the reply state
# and the outbound table that bounce rewriting reads all live there.
SESAME=$1
SESAME_INGEST=$2
AWS_TOOL=$3
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/../../scripts/emulators.sh"
e2e_setup ingest
# (A secret no log line may ever show: checked at the end.)
AWS_SECRET=e2e-secret-$RANDOM$RANDOM-never-logged
e2e_start_fauxqs "$AWS_SECRET" || exit 1
start_ses_local "$E2E" || exit 1
E2E_PIDS+=("$SES_PID")
STORE=${SESAME_E2E_STORE:-sqlite}
if [ "$STORE" = dynamodb ]; then
    start_dynalite "$E2E" || exit 1
    E2E_PIDS+=("$DYNALITE_PID")
    sed -i 's/^\[store\]$/[store]\nbackend = "dynamodb"/' "$E2E/sesame.conf"
    printf '[store.dynamodb]\nendpoint = "http://127.0.0.1:%s"\npoll_seconds = 1\n' "$DYNALITE_PORT" >>"$E2E/sesame.conf"
    "$SESAME" db init >/dev/null || exit 1
fi
# A visibility timeout of 10 s: a daemon stopped with SIGTERM abandons its
# long poll, and the emulator (as SQS may) can still hand the next message
# to that closed connection; the message comes back after the visibility
# timeout, and the waits below allow for it.
QUEUE=$("$AWS_TOOL" create-queue example-com-inbound 10) || exit 1

e2e_start_postfix || exit 1
# nobody@example.com does not exist: Postfix refuses it, as it would an
# unknown mailbox.
# (texthash: read as text, no postmap needed.)
echo "nobody@example.com 550 5.1.1 no such user" >"$E2E/rcpt_access"
postconf -c "$E2E_POSTFIX_CONF" -e \
    "smtpd_recipient_restrictions = check_recipient_access texthash:$E2E/rcpt_access, permit_mynetworks, reject_unauth_destination"
script -qec "postfix -c $E2E_POSTFIX_CONF reload" /dev/null >/dev/null

write_config() {  # write_config FILE S3_ENDPOINT
    e2e_ingest_config "$1" "$2" "ses_endpoint = \"http://127.0.0.1:$SES_PORT\"" '[outbound]' 'route = "ses"'
}
write_config "$E2E/ingest.conf" "$AWS_ENDPOINT_URL"

INGEST_PID=
start_ingest() {  # start_ingest [CONFIG]
    "$SESAME_INGEST" --config "${1:-$E2E/ingest.conf}" 2>>"$E2E/ingest.log" &
    INGEST_PID=$!
    E2E_PIDS+=("$INGEST_PID")
}
stop_ingest() {
    kill -TERM "$INGEST_PID" 2>/dev/null
    wait "$INGEST_PID" 2>/dev/null
    INGEST_PID=
}

# mail NAME FROM TO SUBJECT: a raw message in $E2E/NAME.eml.
mail() {
    printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@friend.example>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nHello from %s.\r\n.a line with a leading dot\r\n\r\nlast line\r\n' \
        "$2" "$3" "$4" "$1" "$1" >"$E2E/$1.eml"
}

# announce KEY SOURCE RCPT[,RCPT...]: the SNS-wrapped SES notification for
# s3://$BUCKET/KEY, sent to the queue.
announce() {
    python3 "$HERE/ses_notification.py" "$1" "$2" "$3" "$BUCKET" >"$E2E/$1.json"
    "$AWS_TOOL" send "$QUEUE" "$E2E/$1.json" >/dev/null
}

put() { "$AWS_TOOL" put $BUCKET "$1" "$E2E/$1.eml"; }
meta() { "$AWS_TOOL" head $BUCKET "$1"; }

queue_empty() { [ "$("$AWS_TOOL" count "$QUEUE")" = 0 ]; }
has_meta() { meta "$1" | grep -qx -- "$2"; }
got_dump() { e2e_wait_dump "$@" >/dev/null; }
dumps_with() { grep -lF -- "$2" "$E2E/$1"/* 2>/dev/null | wc -l; }

start_ingest
e2e_check "/readyz: 200 once the queue and Postfix answer" e2e_readyz "$INGEST_HTTP_PORT" "queue example.com: ok"
e2e_check "/readyz: Postfix checked too" grep -q "^postfix: ok" "$E2E/readyz.last"
e2e_scrape "$INGEST_HTTP_PORT"
e2e_check "metrics: the queue's depth is served" \
    grep -q '^sesame_queue_depth{queue="example-com-inbound",domain="example.com"} ' "$E2E/metrics.last"
M='sesame_messages_total{path="ingest",verdict'
R='sesame_ingest_recipients_total{outcome'

# --- 1. a message in S3 and SQS arrives byte for byte; object marked; queue empty
e2e_mark "$INGEST_HTTP_PORT" "$M=\"delivered\"}" "$R=\"delivered\"}"
mail m1 alice@friend.example bob@example.com "ingest case 1"
put m1 && announce m1 alice@friend.example bob@example.com
d=$(e2e_wait_dump local "Subject: ingest case 1")
e2e_check "delivered to the mailbox" test -n "$d"
e2e_check "envelope sender is the SES source" grep -q "X-Mail-Args: <alice@friend.example>" $d
# (smtp-sink's dump ends each message with an empty line of its own.)
e2e_check "the message arrives byte for byte (after Postfix's Received line)" \
    cmp <(python3 -c 'import sys; d=open(sys.argv[1],"rb").read().replace(b"\r\n",b"\n"); i=d.index(b"\nFrom: "); sys.stdout.buffer.write(d[i+1:])' $d) \
        <(tr -d '\r' <"$E2E/m1.eml"; echo)
e2e_check "object marked status=delivered" e2e_wait_for 10 has_meta m1 "status=delivered"
e2e_check "object marked processed=true" has_meta m1 "processed=true"
e2e_check "object marked processed_by sesame-ingest" bash -c "\"$AWS_TOOL\" head $BUCKET m1 | grep -q '^processed_by=sesame-ingest@'"
e2e_check "queue empty" e2e_wait_for 10 queue_empty
e2e_moved "$INGEST_HTTP_PORT" "$M=\"delivered\"}" 1 "metrics: the message counted as delivered"
e2e_moved "$INGEST_HTTP_PORT" "$R=\"delivered\"}" 1 "metrics: its recipient counted as delivered"

# --- 2. two recipients, one refused by Postfix
e2e_mark "$INGEST_HTTP_PORT" "$R=\"refused\"}"

# --- 2. two recipients, one refused by Postfix
mail m2 alice@friend.example "bob@example.com, nobody@example.com" "ingest case 2"
put m2 && announce m2 alice@friend.example bob@example.com,nobody@example.com
d=$(e2e_wait_dump local "Subject: ingest case 2")
e2e_check "delivered to the valid recipient" grep -q "X-Rcpt-Args: <bob@example.com>" $d
e2e_check "invalid_inboxes names the refused one" e2e_wait_for 10 has_meta m2 "invalid_inboxes=nobody@example.com"
e2e_check "status=delivered" has_meta m2 "status=delivered"
e2e_check "queue message deleted" e2e_wait_for 10 queue_empty
e2e_moved "$INGEST_HTTP_PORT" "$R=\"refused\"}" 1 "metrics: the refused recipient counted"

# --- 3. every recipient blocked: marked, deleted, nothing delivered
"$SESAME" block add @example.com '*@spam.example' >/dev/null
sleep 1
e2e_mark "$INGEST_HTTP_PORT" "$M=\"blocked\"}" 'sesame_recipients_blocked_total{path="ingest"}'
mail m3 promo@spam.example bob@example.com "ingest case 3"
put m3 && announce m3 promo@spam.example bob@example.com
e2e_check "blocked mail's object deleted" e2e_wait_for 10 bash -c "\"$AWS_TOOL\" head $BUCKET m3 | grep -qx missing"
e2e_check "queue empty after a blocked message" e2e_wait_for 10 queue_empty
e2e_check "nothing delivered for blocked mail" test "$(dumps_with local 'ingest case 3')" -eq 0
e2e_check "the log names the block" grep -q "to=<bob@example.com> verdict=reject" "$E2E/ingest.log"
e2e_moved "$INGEST_HTTP_PORT" "$M=\"blocked\"}" 1 "metrics: the message counted as blocked"
e2e_moved "$INGEST_HTTP_PORT" 'sesame_recipients_blocked_total{path="ingest"}' 1 "metrics: its recipient counted as blocked"

# --- 4. Postfix stopped: the message waits in the queue, then arrives once
e2e_mark "$INGEST_HTTP_PORT" "$M=\"deferred\"}" 'sesame_reinjection_failures_total{path="ingest"}'
script -qec "postfix -c $E2E_POSTFIX_CONF stop" /dev/null >/dev/null
mail m4 alice@friend.example bob@example.com "ingest case 4"
put m4 && announce m4 alice@friend.example bob@example.com
e2e_check "Postfix down: the daemon says so" e2e_wait_for 15 grep -q "ses=m4: temporary failure" "$E2E/ingest.log"
e2e_check "Postfix down: the message stays queued" test "$("$AWS_TOOL" count "$QUEUE")" = 1
e2e_check "Postfix down: the object is not marked" bash -c "! \"$AWS_TOOL\" head $BUCKET m4 | grep -q status="
script -qec "postfix -c $E2E_POSTFIX_CONF start" /dev/null >/dev/null
e2e_wait_port "$REINJECT_PORT"
e2e_check "Postfix back: delivered" e2e_wait_for 30 bash -c "[ \$(grep -lF 'Subject: ingest case 4' $E2E/local/* 2>/dev/null | wc -l) -ge 1 ]"
e2e_check "Postfix back: queue empty" e2e_wait_for 20 queue_empty
sleep 2
e2e_check "Postfix back: delivered exactly once" test "$(dumps_with local 'Subject: ingest case 4')" -eq 1
# went_up SERIES: the last scrape shows SERIES above its e2e_mark value.
went_up() { [ "$(e2e_metric "$1")" -gt "${E2E_MARK[$1]}" ]; }
e2e_scrape "$INGEST_HTTP_PORT"
e2e_check "metrics: the deferral counted" went_up "$M=\"deferred\"}"
e2e_check "metrics: the failed hand-over to Postfix counted" went_up 'sesame_reinjection_failures_total{path="ingest"}'

# --- 5. killed after delivering, before deleting: no duplicate after restart
stop_ingest
SESAME_INGEST_FAULT=exit-after-delivery start_ingest
mail m5 alice@friend.example bob@example.com "ingest case 5"
put m5 && announce m5 alice@friend.example bob@example.com
# (Our child: until wait reaps it, it is a zombie that kill -0 still finds.)
exited() { [ ! -e /proc/$1 ] || [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" = Z ]; }
e2e_check "the daemon died after the delivery (fault injected)" e2e_wait_for 30 exited "$INGEST_PID"
wait "$INGEST_PID" 2>/dev/null
e2e_check "the queue message was not deleted" test "$("$AWS_TOOL" count "$QUEUE")" = 1
start_ingest
e2e_check "after the restart the queue empties" e2e_wait_for 30 queue_empty
e2e_check "after the restart the object is marked" e2e_wait_for 10 has_meta m5 "status=delivered"
sleep 2
e2e_check "delivered once, not twice" test "$(dumps_with local 'Subject: ingest case 5')" -eq 1

# --- 6. the same notification twice: one delivery
e2e_mark "$INGEST_HTTP_PORT" "$M=\"duplicate\"}"
mail m6 alice@friend.example bob@example.com "ingest case 6"
put m6 && announce m6 alice@friend.example bob@example.com
e2e_wait_dump local "Subject: ingest case 6" >/dev/null
"$AWS_TOOL" send "$QUEUE" "$E2E/m6.json" >/dev/null
e2e_check "the repeated notification is consumed" e2e_wait_for 20 queue_empty
sleep 2
e2e_check "one delivery for two notifications" test "$(dumps_with local 'Subject: ingest case 6')" -eq 1
e2e_moved "$INGEST_HTTP_PORT" "$M=\"duplicate\"}" 1 "metrics: the repeated notification counted as a duplicate"

# --- 7. NoSuchKey first, the object a moment later: delivered
mail m7 alice@friend.example bob@example.com "ingest case 7"
announce m7 alice@friend.example bob@example.com
sleep 0.5
put m7
e2e_check "delivered once the object shows up" got_dump local "Subject: ingest case 7"

# --- 8. a malformed notification next to good ones
e2e_mark "$INGEST_HTTP_PORT" "$M=\"malformed\"}"
echo '{"Type": "Notification", "Message": "{not json"}' >"$E2E/bad.json"
"$AWS_TOOL" send "$QUEUE" "$E2E/bad.json" >/dev/null
mail m8 alice@friend.example bob@example.com "ingest case 8"
put m8 && announce m8 alice@friend.example bob@example.com
e2e_check "the good one is delivered" got_dump local "Subject: ingest case 8"
e2e_check "the bad one is logged as malformed" e2e_wait_for 10 grep -q "malformed notification" "$E2E/ingest.log"
e2e_check "the bad one stays for the dead-letter queue" test "$("$AWS_TOOL" count "$QUEUE")" = 1
e2e_check "the daemon keeps running" kill -0 "$INGEST_PID"
e2e_scrape "$INGEST_HTTP_PORT"
e2e_check "metrics: the malformed notification counted" went_up "$M=\"malformed\"}"
stop_ingest
# Empty the queue of the bad message for the next cases: a new queue.
QUEUE=$("$AWS_TOOL" create-queue example-com-inbound-2 10)
write_config "$E2E/ingest.conf" "$AWS_ENDPOINT_URL"

# --- 9. out-of-office through SES, its message id recorded, its bounce rewritten
"$SESAME" ooo set frank@example.com --subject "Away" --text "Back on Monday." >/dev/null
start_ingest
mail m9 gina@friend.example frank@example.com "ingest case 9"
put m9 && announce m9 gina@friend.example frank@example.com
e2e_wait_dump local "Subject: ingest case 9" >/dev/null
# outbound_column COLUMN WHERE-COLUMN VALUE: a column of the outbound table
# (read from the store as another program would, not through Sesame).
outbound_column() {
    if [ "$STORE" = dynamodb ]; then
        local attr=$1
        [ "$attr" = bounced_recipients ] && attr=bouncedRecipients
        dynalite_call Scan '{"TableName":"ses-outbound-messages"}' | python3 -c '
import json, sys
def text(v): return v.get("S") or " ".join(x.get("S", "") for x in v.get("L", []))
for i in json.load(sys.stdin)["Items"]:
    if text(i.get(sys.argv[2], {})) == sys.argv[3]: print(text(i.get(sys.argv[1], {})))' "$attr" "$2" "$3"
    else
        sqlite3 "$E2E/policy.db" "SELECT $1 FROM outbound_messages WHERE $2 = '$3'"
    fi
}
ses_id() { outbound_column message_id original_source frank@example.com; }
has_ses_id() { [ -n "$(ses_id)" ]; }
e2e_check "the reply's SES message id is recorded" e2e_wait_for 10 has_ses_id
e2e_check "the reply went out through SES" bash -c "curl -s http://127.0.0.1:$SES_PORT/store | grep -q 'gina@friend.example'"
id=$(ses_id)
cat >"$E2E/m9b.eml" <<EML
From: MAILER-DAEMON@amazonses.com
To: frank@example.com
Subject: Delivery Status Notification (Failure)
Message-ID: <bounce-m9b@email.amazonses.com>
Date: Sun, 22 Nov 2026 10:05:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

An error occurred while trying to deliver the mail to the following recipients:
gina@friend.example

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; a1-2.smtp-out.amazonses.com

Final-Recipient: rfc822; gina@friend.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b1
Content-Type: text/rfc822-headers

From: frank@example.com
To: gina@friend.example
Subject: Away
Message-ID: <$id@email.amazonses.com>

--b1--
EML
put m9b && announce m9b MAILER-DAEMON@amazonses.com frank@example.com
d=$(e2e_wait_dump local "Subject: Delivery Status Notification")
e2e_check "the SES bounce reaches frank" test -n "$d"
e2e_check "the bounce is rewritten: Reply-To the failed address" grep -qi "^Reply-To:.*gina@friend.example" $d
e2e_check "the bounce is rewritten: for whom" grep -qi "^X-Sesame-Bounce-For:.*frank@example.com" $d
bounced() { outbound_column bounced_recipients message_id "$id" | grep -q gina@friend.example; }
e2e_check "the bounced recipient is recorded" e2e_wait_for 5 bounced
stop_ingest

# --- 10. S3 answers AccessDenied: a credentials error, not retried in a loop,
# nothing deleted. A stand-in proxy in front of fauxqs gives that answer for
# one key (the emulators accept every request and cannot be made to refuse).
PROXY_PORT=$(e2e_free_port)
echo "deny denied-m10" >"$E2E/proxy.control"
python3 "$HERE/aws_fault_proxy.py" "$PROXY_PORT" "$FAUXQS_PORT" "$E2E/proxy.control" "$E2E/proxy.log" &
E2E_PIDS+=($!)
e2e_wait_port "$PROXY_PORT"
write_config "$E2E/ingest-proxy.conf" "http://127.0.0.1:$PROXY_PORT"
start_ingest "$E2E/ingest-proxy.conf"
mail denied-m10 alice@friend.example bob@example.com "ingest case 10"
put denied-m10 && announce denied-m10 alice@friend.example bob@example.com
e2e_check "reported as a credentials error" e2e_wait_for 30 grep -q "credentials error" "$E2E/ingest.log"
sleep 3
e2e_check "not retried in a loop (one S3 request in 3 s)" test "$(grep -c 'deny GET s3 /inbound-mail/denied-m10' "$E2E/proxy.log")" -eq 1
e2e_check "the queue message is kept" test "$("$AWS_TOOL" count "$QUEUE")" = 1
kept_unmarked() { local out; out=$("$AWS_TOOL" head $BUCKET "$1") && [ "$out" != missing ] && ! grep -q status= <<<"$out"; }
e2e_check "the object is kept, unmarked" kept_unmarked denied-m10
e2e_check "nothing delivered" test "$(dumps_with local 'Subject: ingest case 10')" -eq 0

# --- 11. SIGTERM: stops, exit status 0
stop_ingest_status() { kill -TERM "$INGEST_PID"; wait "$INGEST_PID"; }
e2e_check "SIGTERM stops the daemon cleanly" stop_ingest_status
e2e_check "the AWS secret key appears in no log line" bash -c "! grep -qF '$AWS_SECRET' '$E2E/ingest.log'"
INGEST_PID=

if [ "$E2E_FAILURES" -gt 0 ]; then e2e_tail "$E2E/ingest.log" 60; fi
e2e_finish
