#!/usr/bin/env bash
# security_milter.sh SESAME SESAME_MILTER - the stops of docs/security.md
# through the real sesame-milter, driven by miltertest (no Postfix). What
# the milter hands on (forwards, auto-replies) lands in smtp-sink, standing
# for Postfix's reinjection service, and is read back from its dump files.
#
# The rules are set the way an outsider cannot but an operator (or a
# DynamoDB item) can: an out-of-office subject and text with CR LF and an
# SMTP command in them (`sesame ooo set`), forward targets with CR LF and
# angle brackets written straight into the sqlite store. Then hostile mail
# (security_milter.lua): forged, expired and case-changed SRS addresses;
# forged senders with Reply-To and an RFC 2047-encoded line break in the
# Subject; list and bulk mail; a Delivered-To naming the forward target; an
# outsider's loop marker. What must come out: SRS forgeries refused at RCPT,
# a genuine SRS bounce reversed; one reply per sender, to the envelope
# sender, from <>, with no header the rule or the message tried to add;
# forwards to the rule's valid targets only; every log line one line; the
# SRS secret in none. Needs root (smtp-sink -u postfix); skipped otherwise.
SESAME=$1
SESAME_MILTER=$2
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh" # e2e_setup, e2e_start_milter, e2e_check, e2e_finish
e2e_setup security-milter || exit 1
# No Postfix: what the milter hands on goes straight to the "remote" sink,
# standing for the reinjection service.
sed -i "s|^reinject = .*|reinject = \"smtp:127.0.0.1:$REMOTE_PORT\"|" "$E2E/sesame.conf"
export MILTER_SOCKET

# Rule data an outsider cannot set, but a careless tool can.
"$SESAME" ooo set away@example.com --subject $'Away\r\nBcc: victim@victim.example' \
    --text $'I am away.\r\n.\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@victim.example>' >/dev/null || exit 1
"$SESAME" ooo set auto@example.com --text "Away too." >/dev/null || exit 1
"$SESAME" forward set fwd@example.com out@other.example >/dev/null || exit 1
sqlite3 "$E2E/policy.db" "INSERT INTO forwards (key, targets, mode, keep_copy) VALUES ('dirty@example.com',
    'good@other.example' || char(10) || 'bad@other.example' || char(13) || char(10) ||
    'RCPT TO:<evil@attacker.example>' || char(10) || 'evil@attacker.example> NOTIFY=SUCCESS' || char(10) ||
    'evil' || char(13) || '@attacker.example', 'redirect', 1)" || exit 1

# SRS addresses for alice@friend.example, made as postsrsd (and Sesame) make
# them: HMAC-SHA1 of the lower-cased stamp, host and user, keyed by the first
# line of the secret file, 4 base64 characters.
mapfile -t srs < <(python3 - "$E2E/srs.secret" <<'PY'
import base64, hashlib, hmac, sys, time
secret = open(sys.argv[1], "rb").read().split(b"\n")[0].rstrip(b"\r")
b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
def srs0(user, host, when):
    day = int(when) // 86400
    stamp = b32[(day >> 5) & 31] + b32[day & 31]
    mac = hmac.new(secret, (stamp + host + user).lower().encode(), hashlib.sha1).digest()
    return "SRS0=%s=%s=%s=%s@example.com" % (base64.b64encode(mac[:3]).decode()[:4], stamp, host, user)
now = time.time()
good = srs0("alice", "friend.example", now)
print(good.replace(good[5:9], good[5:9].swapcase(), 1))  # the hash's case changed: still ours
print(srs0("alice", "friend.example", now - 30 * 86400))  # 30 days old: expired
forged = "AAAA" if good[5:9].upper() != "AAAA" else "BBBB"
print(good.replace(good[5:9], forged, 1))                 # a guessed hash
PY
)
export SRS_VALID=${srs[0]} SRS_EXPIRED=${srs[1]} SRS_FORGED=${srs[2]}
[ -n "$SRS_FORGED" ] || { echo "cannot compute SRS addresses"; exit 1; }

e2e_start_milter || exit 1
miltertest -s "$HERE/security_milter.lua"
e2e_check "miltertest: every protocol-level case" test $? -eq 0

# What reached the reinjection service. dumps_to RCPT: the dump files of
# messages with that recipient.
dumps_to() { grep -l "^X-Rcpt-Args: <$1>" "$E2E"/remote/* 2>/dev/null; }
count_to() { dumps_to "$1" | wc -l; }
e2e_wait_dump remote 'X-Rcpt-Args: ' 4 >/dev/null  # the four below, whole

reply=$(dumps_to forged@victim.example | head -1)
e2e_check "the reply goes to the envelope sender, once (second mail: same sender, other case)" \
    test "$(count_to forged@victim.example)" -eq 1
e2e_check "the reply has the null envelope sender" grep -q "^X-Mail-Args: <>" "$reply"
e2e_check "nothing to the From or Reply-To the mail named" \
    test "$(count_to ceo@victim.example)$(count_to attacker@attacker.example)" = 00
e2e_check "the reply is marked Auto-Submitted and with the loop marker" \
    bash -c "grep -q '^Auto-Submitted: auto-replied' '$reply' && grep -q '^X-Sesame-Processed: auto-replied' '$reply'"
e2e_check "the CR LF in the rule and in the Subject added no Bcc: field to any message" \
    bash -c "! grep -qi '^Bcc:' $E2E/remote/*"
e2e_check "the rule text's SMTP commands stayed text: no mail from evil@, none to victim@" \
    test "$(grep -l '^X-Mail-Args: <evil@attacker.example>' "$E2E"/remote/* | wc -l)$(count_to victim@victim.example)" = 00
e2e_check "an encoded line break in the Subject stays in the Auto: subject" \
    bash -c "[ \"\$(grep -c '^Subject: Auto: ' \$(grep -l '^X-Rcpt-Args: <encoded@victim.example>' $E2E/remote/*))\" = 1 ]"
e2e_check "no reply to list, bulk, null-sender or Bcc mail" \
    test "$(count_to bulk@victim.example)$(count_to list@victim.example)$(count_to bcc@victim.example)" = 000
fwd=$(grep -l '^Subject: case dirty forward' "$E2E"/remote/*)
e2e_check "the dirty rule forwards to its one valid target only" \
    test "$(grep '^X-Rcpt-Args:' $fwd 2>/dev/null)" = "X-Rcpt-Args: <good@other.example>"
e2e_check "the forward leaves with an SRS sender in our domain" grep -qE '^X-Mail-Args: <SRS0[=+-][^>]*@example.com>' $fwd
e2e_check "no forward where Delivered-To names the target, or the outsider added the marker" \
    test "$(grep -l '^Subject: case no forward' "$E2E"/remote/* | wc -l)" -eq 0
e2e_check "four messages in all: two replies, the dirty rule's forward, the clean rule's forward" \
    test "$(grep -l '^X-Rcpt-Args:' "$E2E"/remote/* | wc -l)" -eq 4

e2e_check "forged and expired SRS addresses are logged as refused" \
    bash -c "grep -q 'refused: SRS bad hash' '$E2E/milter.log' && grep -q 'refused: SRS expired' '$E2E/milter.log'"
e2e_check "the rule's bad targets are logged as skipped" grep -q 'skipped: not an address' "$E2E/milter.log"
e2e_check "every log line is one line: no CR, no line the rule data began" \
    bash -c "! grep -q $'\r' '$E2E/milter.log' && ! grep -q '^RCPT TO:' '$E2E/milter.log'"
e2e_check "the SRS secret appears in no log line (level debug)" bash -c "! grep -qF '$(cat "$E2E/srs.secret")' '$E2E/milter.log'"
e2e_finish
