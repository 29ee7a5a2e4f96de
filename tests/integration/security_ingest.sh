#!/usr/bin/env bash
# security_ingest.sh SESAME SESAME_INGEST AWS_TOOL - what a notification on
# the SES path can make sesame-ingest deliver, through the real daemon, the
# fauxqs emulator (SQS, S3; from npm) and a real throwaway Postfix whose
# mydestination holds the queue's domain (tests/integration/lib.sh).
#
# The notification below is written straight into the queue, as anyone
# allowed sqs:SendMessage could: SNS signatures are not checked, so the
# queue's access policy is what decides who may write (docs/security.md).
# It names, next to bob@example.com, recipients the sender chose to turn
# the reinjection service (which relays for loopback) into an open relay:
# user%host@, host!user@ and user@host@ (Postfix rewrites each to user@host
# when the domain is in mydestination), and one outside the queue's domain.
# Only bob may get the mail; nothing may reach the outside world (smtp-sink
# on $REMOTE_PORT); each dropped recipient is logged and marked on the S3
# object; the AWS secret key appears in no log line. Needs root.
SESAME=$1
SESAME_INGEST=$2
AWS_TOOL=$3
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/../../scripts/emulators.sh"
e2e_setup security-ingest
AWS_SECRET=security-secret-$RANDOM$RANDOM-never-logged
e2e_start_fauxqs "$AWS_SECRET" || exit 1
QUEUE=$("$AWS_TOOL" create-queue example-com-inbound 10) || exit 1

e2e_start_postfix || exit 1
# The queue's domain is local to Postfix: the percent hack, bang paths and
# user@host@domain are rewritten to user@host (trivial-rewrite).
postconf -c "$E2E_POSTFIX_CONF" -e "mydestination = example.com" "relay_domains = example.net" \
    "local_transport = relay:[127.0.0.1]:$LOCAL_PORT"
script -qec "postfix -c $E2E_POSTFIX_CONF reload" /dev/null >/dev/null

e2e_ingest_config "$E2E/ingest.conf" "$AWS_ENDPOINT_URL" '[outbound]' "route = \"smtp:127.0.0.1:$REINJECT_PORT\""
"$SESAME_INGEST" --config "$E2E/ingest.conf" 2>>"$E2E/ingest.log" &
E2E_PIDS+=($!)
e2e_check "/readyz: the queue and Postfix answer" e2e_readyz "$INGEST_HTTP_PORT" "queue example.com: ok"

# The reinjection service itself relays those addresses (what the stop is for).
swaks --server 127.0.0.1 --port "$REINJECT_PORT" --from a@friend.example --to 'probe%evil.example@example.com' \
    --header "Subject: security probe" --timeout 10 >"$E2E/swaks.last" 2>&1
e2e_check "control: Postfix relays user%host@example.com from loopback to host" \
    e2e_wait_dump remote "Subject: security probe"

printf 'From: alice@friend.example\r\nTo: bob@example.com\r\nSubject: security relay\r\nMessage-ID: <m1@friend.example>\r\n\r\nHello.\r\n' \
    >"$E2E/m1.eml"
"$AWS_TOOL" put $BUCKET m1 "$E2E/m1.eml" || exit 1
rcpts='victim%evil.example@example.com,evil.example!victim@example.com,victim@evil.example@example.com,victim@evil.example,bob@example.com'
python3 "$HERE/ses_notification.py" m1 alice@friend.example "$rcpts" "$BUCKET" >"$E2E/m1.json"
"$AWS_TOOL" send "$QUEUE" "$E2E/m1.json" >/dev/null || exit 1

d=$(e2e_wait_dump local "Subject: security relay")
e2e_check "bob@example.com gets the mail" grep -q "^X-Rcpt-Args: <bob@example.com>" $d
e2e_check "bob alone: one recipient on the delivered copy" test "$(grep -c '^X-Rcpt-Args:' $d)" -eq 1
queue_empty() { [ "$("$AWS_TOOL" count "$QUEUE")" = 0 ]; }
e2e_check "the queue message is done" e2e_wait_for 10 queue_empty
sleep 2 # Postfix's queue runs every second here: time to relay, if it were asked to
e2e_check "nothing reached the outside world" test "$(grep -l 'Subject: security relay' "$E2E"/remote/* 2>/dev/null | wc -l)" -eq 0
e2e_check "three recipients dropped for routing characters" \
    test "$(grep -c "dropped: routing character ('%', '!' or '@') in the local part" "$E2E/ingest.log")" -eq 3
e2e_check "one dropped for its domain" grep -q "to=<victim@evil.example> dropped: not in the queue's domain example.com" "$E2E/ingest.log"
has_invalid() { [ "$("$AWS_TOOL" head $BUCKET m1 | grep '^invalid_inboxes=' | tr ',' '\n' | grep -c victim)" = 4 ]; }
e2e_check "the S3 object names the four as invalid_inboxes" e2e_wait_for 10 has_invalid
e2e_check "the AWS secret key appears in no log line" bash -c "! grep -qF '$AWS_SECRET' '$E2E/ingest.log'"

if [ "$E2E_FAILURES" -gt 0 ]; then e2e_tail "$E2E/ingest.log" 40; fi
e2e_finish
