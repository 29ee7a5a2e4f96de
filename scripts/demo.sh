#!/usr/bin/env bash
# demo.sh - Sesame's main job on this machine: set up and build; create a
# scratch policy store with example rules; ask `sesame policy test` what
# happens to a few sample mails, and why; then, as root, start a throwaway
# Postfix on loopback wired to sesame-milter and send mail through it with
# swaks, so the same rules act on real SMTP; and finally run the SES way in:
# AWS emulators from npm (fauxqs for S3 and SQS, aws-ses-v2-local for SES),
# two sample mails put into S3 and announced in SQS as SES and SNS do, and
# sesame-ingest applying the same rules and handing the mail to that Postfix
# (its milter-less reinjection port), marking the S3 objects, deleting the
# blocked one, forwarding out through SES.
#
# The scratch store lives in .demo/ (recreated on every run); Postfix, the
# milter, the emulators, sesame-ingest and the smtp-sink "mailboxes" live in
# a temporary folder and are stopped by PID when the demo ends. On a
# terminal it then waits (Ctrl-C to end), printing how to send your own mail,
# by SMTP to the milter or as SES would (aws_tool put + send). Sesame itself
# is installed nowhere: it runs from build/, the emulators from node_modules/.
# Read along in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_packages
install_emulators
build build

sesame=$PWD/build/policy/cli/sesame
demo=$PWD/.demo
rm -rf "$demo"
mkdir -p "$demo"
cat >"$demo/sesame.conf" <<CONF
# The demo's configuration: everything else keeps its built-in default.
[store]
sqlite = "$demo/policy.db"

[policy]
domains = ["example.com"]

# The demo runs as root on a machine that may have no `sesame` user; a
# packaged daemon drops to that user.
[daemon]
user = "root"
CONF
export SESAME_CONFIG=$demo/sesame.conf

# say CMD...: print a command the way a postmaster would type it.
say() {
    local shown=() a
    for a in "$@"; do
        case $a in *[!A-Za-z0-9@._+/:=-]* | '') shown+=("'$a'") ;; *) shown+=("$a") ;; esac
    done
    printf '\n$ %s\n' "${shown[*]}"
}
# run ARGS...: `sesame ARGS...`, shown, then run.
run() {
    say sesame "$@"
    "$sesame" "$@"
}
# show CMD...: CMD shown, then run.
show() {
    say "$@"
    "$@"
}

echo "== A scratch store with example rules ($demo)"
run check-config
run db init
run domain add example.net
run block add @example.com '*@casino.example'
run block add '*' 'promo*@*.example'
run block add bob@example.com '<>'
run forward set sales@example.com sales-team@example.net crm@vendor.example --mode redirect
run ooo set carol@example.com --subject 'Out of office' --text 'I am away until Monday.' --interval 7
run block list

echo
echo "== What happens to these mails?"
run policy test --from promo@casino.example --to bob@example.com --message scripts/demo/newsletter.eml
run policy test --from anna@partner.example --to bob@example.com --to sales@example.com \
    --to carol@example.com --message scripts/demo/colleague.eml
run policy test --from dev-digest@lists.example --to carol@example.com --message scripts/demo/mailing-list.eml
run policy test --from anna@partner.example --to sales@example.com --message scripts/demo/looped.eml
run policy test --from '<>' --to bob@example.com --to friend@elsewhere.example
echo
echo "== The same decision as JSON, for scripts"
run policy test --from promo@casino.example --to bob+news@example.com --json

echo
echo "Try your own: SESAME_CONFIG=$demo/sesame.conf $sesame policy test --from YOU@x.example --to bob@example.com"

echo
echo "== The same rules inside Postfix: sesame-milter on a throwaway instance"
if [ "$(id -u)" -ne 0 ]; then
    echo "(skipped: a throwaway Postfix needs root)"
    exit 0
fi
SESAME=$sesame
SESAME_MILTER=$PWD/build/milter/sesame-milter
source tests/integration/lib.sh
e2e_setup demo
cp "$demo/policy.db" "$E2E/policy.db"  # the rules above
e2e_start_postfix && e2e_start_milter || exit 1
swaks_demo() {
    printf '\n$ swaks --server 127.0.0.1:%s %s\n' "$SMTP_PORT" "$*"
    e2e_send "$@" || true
    grep -E '^(<-  250 2.0.0|<\*\*)' "$E2E/swaks.last" || true
}
swaks_demo --from promo@casino.example --to bob@example.com,carol@example.com
swaks_demo --from anna@partner.example --to sales@example.com --header "Subject: offer"
swaks_demo --from anna@partner.example --to carol@example.com --header "Subject: meeting"
sleep 2
echo
echo "What the milter logged:"
sed 's/^/  /' "$E2E/milter.log"
echo
echo "Delivered to local mailboxes (smtp-sink dumps in $E2E/local):"
grep -h '^X-Rcpt-Args' "$E2E"/local/* 2>/dev/null | sed 's/^/  /'
echo "Sent out to remote hosts (smtp-sink dumps in $E2E/remote):"
grep -h '^X-\(Mail\|Rcpt\)-Args' "$E2E"/remote/* 2>/dev/null | sed 's/^/  /'
echo
echo "== The same rules on the SES way in: sesame-ingest between AWS emulators and Postfix"
echo "(fauxqs stands in for S3 and SQS, aws-ses-v2-local for SES; both from npm, on 127.0.0.1)"
start_fauxqs "$E2E" || exit 1
E2E_PIDS+=("$FAUXQS_PID")
start_ses_local "$E2E" || exit 1
E2E_PIDS+=("$SES_PID")
aws_tool=build/tests/aws_tool
ingest=build/aws/ingest/sesame-ingest
BUCKET=inbound-mail
export AWS_ENDPOINT_URL=http://127.0.0.1:$FAUXQS_PORT AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
aws_env="AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_REGION=$AWS_REGION AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"
printf '\n$ export %s\n' "$aws_env"
show $aws_tool create-bucket $BUCKET
say $aws_tool create-queue example-com-inbound
QUEUE=$($aws_tool create-queue example-com-inbound) || exit 1
echo "$QUEUE"

# sesame-ingest's configuration: the demo's, plus where SES's mail comes from
# and where it goes (the throwaway Postfix's port without the milter).
cp "$E2E/sesame.conf" "$E2E/ingest.conf"
cat >>"$E2E/ingest.conf" <<CONF
[aws]
endpoint = "$AWS_ENDPOINT_URL"
ses_endpoint = "http://127.0.0.1:$SES_PORT"
[outbound]
route = "ses"
[ingest]
deliver_to = "smtp:127.0.0.1:$REINJECT_PORT"
[[ingest.queue]]
domain = "example.com"
url = "$QUEUE"
CONF
echo
echo "sesame-ingest's configuration $E2E/ingest.conf: the store and rules above, plus"
sed -n '/^\[aws\]/,$p' "$E2E/ingest.conf" | sed 's/^/  /'
show $ingest --config "$E2E/ingest.conf" --check-config
printf '\n$ %s --config %s 2>%s &\n' "$ingest" "$E2E/ingest.conf" "$E2E/ingest.log"
$ingest --config "$E2E/ingest.conf" 2>>"$E2E/ingest.log" &
E2E_PIDS+=($!)
for _ in $(seq 1 100); do grep -q 'polling' "$E2E/ingest.log" 2>/dev/null && break; sleep 0.1; done

# ses_notification KEY SOURCE RCPT[,RCPT...]: $E2E/ses/KEY.json, the SES
# "Received" notification for s3://$BUCKET/KEY inside SNS's envelope, as it
# reaches the SQS queue.
mkdir -p "$E2E/ses"
ses_notification() {
    python3 tests/integration/ses_notification.py "$1" "$2" "$3" "$BUCKET" >"$E2E/ses/$1.json"
}
echo
echo "SES receives two mails for example.com. For each it stores the raw mail in S3,"
echo "and SNS puts a \"Received\" notification into the SQS queue (made here by the demo:"
echo "the SNS envelope {\"Type\": \"Notification\", \"Message\": ...} around SES's"
echo "{\"notificationType\": \"Received\", \"mail\": {\"source\": ..., \"destination\": [...]},"
echo " \"receipt\": {\"recipients\": [...], \"action\": {\"type\": \"S3\", \"bucketName\": ..., \"objectKey\": ...}}})."
echo "A customer writes to bob and sales; the casino's newsletter is blocked for bob:"
show $aws_tool put $BUCKET demo-order scripts/demo/ses-order.eml
ses_notification demo-order dora@customer.example bob@example.com,sales@example.com
show $aws_tool send "$QUEUE" "$E2E/ses/demo-order.json"
show $aws_tool put $BUCKET demo-promo scripts/demo/newsletter.eml
ses_notification demo-promo promo@casino.example bob@example.com
show $aws_tool send "$QUEUE" "$E2E/ses/demo-promo.json"

ingest_done() {
    [ "$($aws_tool count "$QUEUE" 2>/dev/null)" = 0 ] &&
        $aws_tool head $BUCKET demo-order 2>/dev/null | grep -q '^status=' &&
        [ "$($aws_tool head $BUCKET demo-promo 2>/dev/null)" = missing ] &&
        grep -qF 'order-4711@customer.example' "$E2E"/local/* 2>/dev/null
}
for _ in $(seq 1 300); do ingest_done && break; sleep 0.1; done
ingest_done || echo "(sesame-ingest has not finished within 30 s: read on, and see $E2E/ingest.log)"
sleep 1  # the forward through SES and the log's last lines

echo
echo "What sesame-ingest logged ($E2E/ingest.log):"
sed 's/^/  /' "$E2E/ingest.log"
echo
echo "The queue is empty, and the S3 objects carry what happened:"
show $aws_tool count "$QUEUE"
show $aws_tool head $BUCKET demo-order
show $aws_tool head $BUCKET demo-promo
echo "(blocked for every recipient: marked status=blocked and blocked_sender, then deleted;"
echo " ingest.delete_blocked = false would keep it)"
echo
echo "Arrived in the mailboxes, handed to Postfix's milter-less port $REINJECT_PORT (smtp-sink dump):"
for f in $(grep -lF 'order-4711@customer.example' "$E2E"/local/* 2>/dev/null); do
    echo "  $f"
    grep -E '^(X-Mail-Args|X-Rcpt-Args|X-Sesame-Processed|From|Subject):' "$f" | tr -d '\r' | sed 's/^/    /'
done
echo "Nothing arrived from the casino: $(grep -lF 'promo-1@casino.example' "$E2E"/local/* 2>/dev/null | wc -l) dumps with its Message-ID."
echo
echo "sales@ is also forwarded to crm@vendor.example (the forward rule above): that copy left through SES."
echo "What aws-ses-v2-local received (it keeps no envelope), and the SES message id sesame-ingest"
echo "recorded for it (an SES bounce quoting that id is rewritten for sales@):"
curl -s "http://127.0.0.1:$SES_PORT/store" | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("emails", []):
    print("  messageId=%s from=%s subject=%s" % (m.get("messageId"), m.get("from"), m.get("subject")))
' || true
show sqlite3 "$E2E/policy.db" 'SELECT message_id, original_source, destination FROM outbound_messages'
echo
echo "What each daemon counts (Prometheus text on its loopback side door) and whether it is ready:"
for d in "sesame-milter $HTTP_PORT" "sesame-ingest $INGEST_HTTP_PORT"; do
    set -- $d
    echo "  $1: curl -s 127.0.0.1:$2/metrics | grep -E '^sesame_(messages|recipients_blocked|forwards)' | grep -v ' 0$'"
    curl -s "127.0.0.1:$2/metrics" | grep -E '^sesame_(messages|recipients_blocked|forwards)_' | grep -v ' 0$' | sed 's/^/    /'
    echo "  $1: curl -s 127.0.0.1:$2/readyz"
    curl -s "127.0.0.1:$2/readyz" | sed 's/^/    /'
done
if [ -t 0 ]; then
    echo
    echo "Postfix with sesame-milter listens on 127.0.0.1:$SMTP_PORT. In another terminal:"
    echo "  swaks --server 127.0.0.1:$SMTP_PORT --from you@casino.example --to bob@example.com"
    echo "  SESAME_CONFIG=$E2E/sesame.conf $sesame block add bob@example.com '*@you.example'"
    echo "Milter log: $E2E/milter.log."
    echo "sesame-ingest polls the SQS queue. To announce your own mail FILE as SES would:"
    echo "  export $aws_env"
    echo "  $PWD/$aws_tool put $BUCKET my-1 FILE"
    echo "  sed 's/demo-order/my-1/g' $E2E/ses/demo-order.json | $PWD/$aws_tool send $QUEUE -"
    echo "(envelope sender and recipients as in demo-order.json: edit them there). Log: $E2E/ingest.log."
    echo "Press Ctrl-C to stop everything."
    while sleep 3600; do :; done
fi
