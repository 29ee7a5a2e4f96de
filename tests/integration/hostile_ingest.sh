#!/usr/bin/env bash
# hostile_ingest.sh SESAME SESAME_INGEST AWS_TOOL - hostile input through
# the SES door: sesame-ingest between a real fauxqs (SQS and S3, npm, pinned
# in package.json; started as ingest_e2e.sh does) and a real throwaway
# Postfix (tests/integration/lib.sh).
#
# Every case has one defined outcome, asserted precisely:
#   * a notification Sesame cannot act on (a field it reads missing or of
#     the wrong JSON type, nesting too deep) is left in the queue, with one
#     log line naming the SQS message and the field, nothing delivered and
#     the S3 object untouched; the queue's redrive policy (maxReceiveCount 1
#     here) then moves it, unchanged, to the dead-letter queue;
#   * a valid notification, however large (256 KiB; 1 MiB, SQS's maximum),
#     or whatever its S3 key holds (every reserved character), is delivered
#     and its S3 object marked, under exactly that key.
# After each case the daemon is shown to keep serving: the next ordinary
# message is delivered, and its PID is the one started at the top.
SESAME=$1  # (lib.sh's e2e_setup runs `sesame db init`)
SESAME_INGEST=$2
AWS_TOOL=$3
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/../../scripts/emulators.sh"
e2e_setup hostile-ingest
e2e_start_fauxqs || exit 1

# sqs ACTION JSON: one SQS call (JSON protocol) straight to fauxqs, which
# checks no signature: the tests' own view of the queues, not Sesame's.
sqs() {
    curl -sf -X POST "$AWS_ENDPOINT_URL/" -H "X-Amz-Target: AmazonSQS.$1" \
        -H 'Content-Type: application/x-amz-json-1.0' --data-binary "$2"
}
json_get() { python3 -c 'import json, sys; d = json.load(sys.stdin)
for k in sys.argv[1:]: d = d[k]
print(d)' "$@"; }
# The dead-letter queue, and the inbound queue redriving into it after one
# receive: what Sesame leaves is moved there on the next receive, so each
# case's leftovers are visible as such. Visibility 10 s: far longer than a
# good message takes, even under TSan (a good one must never be received
# twice, or it too would land in the dead-letter queue).
DLQ=$(sqs CreateQueue '{"QueueName":"hostile-dlq"}' | json_get QueueUrl) || exit 1
DLQ_ARN=$(sqs GetQueueAttributes "{\"QueueUrl\":\"$DLQ\",\"AttributeNames\":[\"QueueArn\"]}" | json_get Attributes QueueArn) || exit 1
redrive=$(python3 -c 'import json, sys; print(json.dumps(json.dumps({"deadLetterTargetArn": sys.argv[1], "maxReceiveCount": 1})))' "$DLQ_ARN")
QUEUE=$(sqs CreateQueue "{\"QueueName\":\"hostile-inbound\",\"Attributes\":{\"VisibilityTimeout\":\"10\",\"RedrivePolicy\":$redrive}}" |
    json_get QueueUrl) || exit 1

e2e_start_postfix || exit 1
e2e_ingest_config "$E2E/ingest.conf" "$AWS_ENDPOINT_URL" '[outbound]' "route = \"smtp:127.0.0.1:$REINJECT_PORT\""
LOG=$E2E/ingest.log
"$SESAME_INGEST" --config "$E2E/ingest.conf" 2>>"$LOG" &
INGEST_PID=$!
E2E_PIDS+=("$INGEST_PID")
e2e_check "/readyz: the queue and Postfix answer" e2e_readyz "$INGEST_HTTP_PORT" "queue example.com: ok"

# --- helpers
count() { "$AWS_TOOL" count "$1"; }
# mail NAME SUBJECT: a raw message in $E2E/NAME.eml.
mail() {
    printf 'From: alice@friend.example\r\nTo: bob@example.com\r\nSubject: %s\r\nMessage-ID: <%s@friend.example>\r\n\r\nHello.\r\n' \
        "$2" "$1" >"$E2E/$1.eml"
}
# put KEY FILE: the object, written by Sesame's own S3 client (aws_tool).
put() { "$AWS_TOOL" put $BUCKET "$1" "$2"; }
# send FILE: the SQS message; prints its SQS MessageId.
send() { "$AWS_TOOL" send "$QUEUE" "$1"; }
# notification KEY [RCPT]: the SNS-wrapped SES notification for s3://$BUCKET/KEY.
notification() { python3 "$HERE/ses_notification.py" "$1" alice@friend.example "${2:-bob@example.com}" "$BUCKET"; }
got_dump() { e2e_wait_dump "$@" >/dev/null; }
dumps_with() { grep -lF -- "$2" "$E2E/$1"/* 2>/dev/null | wc -l; }
log_count() { grep -cF -- "$1" "$LOG"; }
ingest_unchanged() {
    [ "$(awk '{print $3}' "/proc/$INGEST_PID/stat" 2>/dev/null)" != Z ] &&
        [ "$(readlink "/proc/$INGEST_PID/exe")" = "$(readlink -f "$SESAME_INGEST")" ]
}
# Nothing a crash, a sanitizer or the processor's catch-all ("...: error:
# <what()>; message retry") would write: no case here is Sesame's trouble.
ingest_log_clean() {
    if grep -nE "Sanitizer|runtime error|terminate called|Segmentation fault|Aborted|: error: " "$LOG"; then
        return 1
    fi
}
START_PID=$INGEST_PID
SERVED=0
still_serving() {
    SERVED=$((SERVED + 1))
    local key=ordinary-$SERVED
    mail "$key" "ordinary $SERVED after $1"
    put "$key" "$E2E/$key.eml" && notification "$key" >"$E2E/$key.json" && send "$E2E/$key.json" >/dev/null
    e2e_check "$1: then an ordinary message is delivered" got_dump local "Subject: ordinary $SERVED after $1"
    e2e_check "$1: sesame-ingest still runs as PID $START_PID" ingest_unchanged
    e2e_check "$1: no crash, sanitizer report or exception in the log" ingest_log_clean
}
start_case() { echo "--- $1"; CASE_START=$(date +%s%N); }
end_case() { echo "    ($1: $((($(date +%s%N) - CASE_START) / 1000000)) ms)"; }

# --- the malformed notifications: made from a good one, one fault each.
# Each line of $E2E/bad.list: NAME, then the reason Sesame must log.
mail good-for-bad "must never be delivered"
put good-for-bad "$E2E/good-for-bad.eml" || exit 1
notification good-for-bad >"$E2E/good.json"
python3 - "$E2E" <<'PY' || exit 1
import copy, json, os, sys
d = sys.argv[1]
sns = json.load(open(os.path.join(d, "good.json")))
ses = json.loads(sns["Message"])
cases = []
def case(name, reason, outer=None, inner=None, raw=None):
    cases.append((name, reason))
    if raw is None:
        o, i = copy.deepcopy(sns), copy.deepcopy(ses)
        if inner: inner(i)
        o["Message"] = json.dumps(i)
        if outer: outer(o)
        raw = json.dumps(o)
    open(os.path.join(d, "bad-%s.json" % name), "w").write(raw)
def drop(*path):
    def f(obj):
        for k in path[:-1]: obj = obj[k]
        del obj[path[-1]]
    return f
def set_(value, *path):
    def f(obj):
        for k in path[:-1]: obj = obj[k]
        obj[path[-1]] = value
    return f
# Missing fields.
case("no-Message", "Message missing", outer=drop("Message"))
case("no-MessageId", "MessageId missing", outer=drop("MessageId"))
case("no-notificationType", "notificationType missing", inner=drop("notificationType"))
case("no-mail", "mail missing", inner=drop("mail"))
case("no-receipt", "receipt missing", inner=drop("receipt"))
case("no-action", "receipt.action missing", inner=drop("receipt", "action"))
case("no-bucketName", "receipt.action.bucketName missing", inner=drop("receipt", "action", "bucketName"))
case("no-objectKey", "receipt.action.objectKey missing", inner=drop("receipt", "action", "objectKey"))
case("no-messageId", "mail.messageId missing", inner=drop("mail", "messageId"))
case("no-source", "mail.source missing", inner=drop("mail", "source"))
case("no-recipients", "receipt.recipients missing", inner=drop("receipt", "recipients"))
# Wrong JSON types.
case("Message-object", "Message is not a string", outer=lambda o: o.__setitem__("Message", ses))
case("Message-array", "Message is not a JSON object", outer=set_("[1, 2]", "Message"))
case("Type-number", "Type is not a string", outer=set_(1, "Type"))
case("MessageId-number", "MessageId is not a string", outer=set_(7, "MessageId"))
case("notificationType-bool", "notificationType is not a string", inner=set_(True, "notificationType"))
case("mail-array", "mail is not an object", inner=set_([ses["mail"]], "mail"))
case("receipt-string", "receipt is not an object", inner=set_("S3", "receipt"))
case("action-array", "receipt.action is not an object", inner=set_([], "receipt", "action"))
case("bucketName-number", "receipt.action.bucketName is not a string", inner=set_(42, "receipt", "action", "bucketName"))
case("objectKey-array", "receipt.action.objectKey is not a string",
     inner=set_(["good-for-bad"], "receipt", "action", "objectKey"))
case("source-number", "mail.source is not a string", inner=set_(0, "mail", "source"))
case("timestamp-number", "mail.timestamp is not a string", inner=set_(1763805600, "mail", "timestamp"))
case("recipients-string", "receipt.recipients is not an array", inner=set_("bob@example.com", "receipt", "recipients"))
case("recipient-number", "receipt.recipients[0] is not a string", inner=set_([42], "receipt", "recipients"))
case("recipient-object", "receipt.recipients[1] is not a string",
     inner=set_(["bob@example.com", {"address": "carol@example.com"}], "receipt", "recipients"))
case("subject-object", "mail.commonHeaders.subject is not a string", inner=set_({"a": 1}, "mail", "commonHeaders", "subject"))
case("spamVerdict-string", "receipt.spamVerdict is not an object", inner=set_("PASS", "receipt", "spamVerdict"))
case("body-array", "body is not a JSON object", raw="[" + json.dumps(sns) + "]")
# 256 KiB of nesting: an SQS body of the old maximum size that no parser
# should recurse into.
deep = '{"a":' * 40000
case("deep-256k", "body nests deeper than 32 levels", raw=deep + " " * (262144 - len(deep)))
with open(os.path.join(d, "bad.list"), "w") as f:
    for name, reason in cases:
        f.write("%s\t%s\n" % (name, reason))
PY

# --- 1 and 2. Missing fields and wrong JSON types: left for the dead-letter queue.
start_case "missing fields, wrong types"
e2e_mark "$INGEST_HTTP_PORT" 'sesame_messages_total{path="ingest",verdict="malformed"}'
declare -A SQS_ID
bad=0
while IFS=$'\t' read -r name reason; do
    SQS_ID[$name]=$(send "$E2E/bad-$name.json") || e2e_fail "$name: SendMessage failed"
    bad=$((bad + 1))
done <"$E2E/bad.list"
echo "    $bad malformed notifications sent"
logged() { [ "$(log_count "malformed notification (")" -ge "$bad" ]; }
e2e_wait_for 30 logged
while IFS=$'\t' read -r name reason; do
    line="sqs=${SQS_ID[$name]} queue=example.com: malformed notification ($reason), left for the dead-letter queue (received 1 times); message left"
    e2e_check "$name: one log line: $reason" test "$(log_count "$line")" -eq 1
    e2e_check "$name: no other line names its SQS message" test "$(log_count "sqs=${SQS_ID[$name]} ")" -eq 1
done <"$E2E/bad.list"
e2e_moved "$INGEST_HTTP_PORT" 'sesame_messages_total{path="ingest",verdict="malformed"}' "$bad" "metrics: each counted as malformed"
e2e_check "nothing delivered for any of them" test "$(dumps_with local 'must never be delivered')" -eq 0
e2e_check "their S3 object is left unmarked" bash -c "! \"$AWS_TOOL\" head $BUCKET good-for-bad | grep -q ."
end_case "missing fields, wrong types"
sleep 11  # past the visibility timeout: the next receive redrives them
still_serving "missing fields, wrong types"
dlq_full() { [ "$(count "$DLQ")" -eq "$bad" ]; }
e2e_check "all $bad are in the dead-letter queue" e2e_wait_for 30 dlq_full
e2e_check "and no longer in the inbound queue" test "$(count "$QUEUE")" -eq 0
# dlq_bodies: the bodies in the dead-letter queue, one sha256 a line, sorted.
dlq_bodies() {
    local _
    for _ in $(seq 1 $(((bad + 9) / 10 + 2))); do
        sqs ReceiveMessage "{\"QueueUrl\":\"$DLQ\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":0,\"VisibilityTimeout\":60}"
        echo
    done | python3 -c 'import hashlib, json, sys
for line in sys.stdin:
    if line.strip():
        for m in json.loads(line).get("Messages", []): print(hashlib.sha256(m["Body"].encode()).hexdigest())' | sort
}
e2e_check "the dead-letter queue holds them unchanged" \
    cmp <(dlq_bodies) <(cut -f1 "$E2E/bad.list" | while read -r n; do sha256sum <"$E2E/bad-$n.json" | cut -d' ' -f1; done | sort)

# --- 3. Large bodies: a valid notification padded to 256 KiB (the SQS limit
# until 2025) with the header list SES includes, and one of 1 MiB (SQS's
# maximum now, and Sesame's), each with a 20,000-byte commonHeaders.subject
# (informational: Sesame cuts it for its logs). Delivered.
start_case "256 KiB and 1 MiB bodies"
for size in 262144 1048576; do
    key=big-$size
    mail "$key" "hostile body of $size bytes"
    put "$key" "$E2E/$key.eml" || e2e_fail "put $key"
    notification "$key" | python3 -c '
import json, sys
size = int(sys.argv[1])
sns = json.load(sys.stdin)
ses = json.loads(sns["Message"])
ses["mail"]["commonHeaders"]["subject"] = "S" * 20000
ses["mail"]["headers"] = []
def body():
    sns["Message"] = json.dumps(ses)
    return json.dumps(sns)
while len(body()) + 1200 < size:
    ses["mail"]["headers"].append({"name": "X-Filler-%d" % len(ses["mail"]["headers"]), "value": "v" * 900})
ses["mail"]["headers"].append({"name": "X-Last", "value": ""})
ses["mail"]["headers"][-1]["value"] = "v" * (size - len(body()))
b = body()
assert len(b) == size, len(b)
sys.stdout.write(b)' "$size" >"$E2E/$key.json"
    e2e_check "the $key notification is $size bytes" test "$(wc -c <"$E2E/$key.json")" -eq $size
    id=$(send "$E2E/$key.json")
    e2e_check "$size-byte notification: delivered" got_dump local "Subject: hostile body of $size bytes"
    has_status() { "$AWS_TOOL" head $BUCKET "$1" | grep -qx status=delivered; }
    e2e_check "$size-byte notification: object marked delivered" e2e_wait_for 10 has_status "$key"
    e2e_check "$size-byte notification: one line, the delivery" \
        e2e_wait_for 10 bash -c "[ \$(grep -cF 'sqs=$id queue=example.com: ses=$key: status=delivered delivered=bob@example.com; message deleted' '$LOG') = 1 ]"
    still_serving "$size-byte body"
done
end_case "256 KiB and 1 MiB bodies"

# --- 4. An S3 key with every reserved character (RFC 3986's gen-delims and
# sub-delims, the rest of ASCII punctuation, a space, "%" before hex and
# not, UTF-8, an empty path segment). The object is written and listed by
# the test's own client (Python, percent-encoding every byte but unreserved
# and "/"), not by Sesame's: Sesame must fetch and mark that exact object.
start_case "S3 key with every reserved character"
RESERVED_KEY='hostile/:?#[]@!$&'"'"'()*+,;= "%<>\^`{|}~%2F%41%zz ünï€//end'
mail reserved "hostile reserved key"
s3_py() {  # s3_py put|head|list KEY [FILE]: the test's own S3 client
    python3 - "$FAUXQS_PORT" "$BUCKET" "$@" <<'PY'
import http.client, sys, urllib.parse, xml.etree.ElementTree as ET
port, bucket, op, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
# ("." too: a dot segment must reach the server as the key's characters.)
path = "/" + bucket + "/" + urllib.parse.quote(key, safe="/").replace(".", "%2E")
if op == "put":
    c.request("PUT", path, body=open(sys.argv[5], "rb").read(), headers={"Content-Type": "message/rfc822"})
    r = c.getresponse(); r.read(); sys.exit(0 if r.status == 200 else 1)
if op == "head":
    c.request("HEAD", path)
    r = c.getresponse(); r.read()
    print(r.status)
    for k, v in sorted(r.getheaders()):
        if k.lower().startswith("x-amz-meta-"): print(k.lower()[11:] + "=" + v)
    sys.exit(0)
c.request("GET", "/" + bucket + "?list-type=2&prefix=" + urllib.parse.quote(key, safe=""))
r = c.getresponse(); x = ET.fromstring(r.read())
for e in x.iter():
    if e.tag.endswith("}Key") or e.tag == "Key": print(e.text)
PY
}
e2e_check "the object is written under the reserved key (test's client)" s3_py put "$RESERVED_KEY" "$E2E/reserved.eml"
e2e_check "the bucket lists exactly that key" test "$(s3_py list hostile/)" = "$RESERVED_KEY"
python3 "$HERE/ses_notification.py" "$RESERVED_KEY" alice@friend.example bob@example.com $BUCKET >"$E2E/reserved.json"
id=$(send "$E2E/reserved.json")
e2e_check "reserved key: delivered" got_dump local "Subject: hostile reserved key"
marked() { s3_py head "$RESERVED_KEY" | grep -qx status=delivered; }
e2e_check "reserved key: that object marked status=delivered" e2e_wait_for 10 marked
e2e_check "reserved key: no other object appeared" test "$(s3_py list hostile/)" = "$RESERVED_KEY"
e2e_check "reserved key: one line, the delivery" e2e_wait_for 10 bash -c "grep -qF 'sqs=$id queue=example.com: ses=' '$LOG'"
end_case "S3 key with every reserved character"
still_serving "reserved S3 key"

# --- 5. Dot segments in a key are characters, not a path: "a/./b/../c" is
# its own object, and an object at "c" (the decoy a normalising HTTP client
# would fetch instead) is left alone.
start_case "dot segments in the S3 key"
mail dots "hostile dot segments"
mail decoy "hostile decoy: the wrong object"
DOT_KEY=hostile-dots/./inner/../mail
e2e_check "the object is written under the dotted key (test's client)" s3_py put "$DOT_KEY" "$E2E/dots.eml"
e2e_check "the decoy is written at the normalised key" s3_py put hostile-dots/mail "$E2E/decoy.eml"
e2e_check "the bucket lists both keys" test "$(s3_py list hostile-dots/ | sort | tr '\n' ' ')" = "$DOT_KEY hostile-dots/mail "
python3 "$HERE/ses_notification.py" "$DOT_KEY" alice@friend.example bob@example.com $BUCKET >"$E2E/dots.json"
send "$E2E/dots.json" >/dev/null
e2e_check "dotted key: its own object delivered" got_dump local "Subject: hostile dot segments"
e2e_check "dotted key: the decoy not delivered" test "$(dumps_with local 'hostile decoy')" -eq 0
dot_marked() { s3_py head "$DOT_KEY" | grep -qx status=delivered; }
e2e_check "dotted key: that object marked" e2e_wait_for 10 dot_marked
decoy_unmarked() { ! s3_py head hostile-dots/mail | grep -q '^status='; }
e2e_check "dotted key: the decoy left unmarked" decoy_unmarked
end_case "dot segments in the S3 key"
still_serving "dot segments"

e2e_check "the inbound queue is empty" test "$(count "$QUEUE")" -eq 0
e2e_check "no good message reached the dead-letter queue" test "$(count "$DLQ")" -eq "$bad"
if [ "$E2E_FAILURES" -gt 0 ]; then e2e_tail "$LOG" 60; fi
e2e_finish
