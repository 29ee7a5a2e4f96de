#!/usr/bin/env python3
"""soak.py - the driver of bench/soak.sh (run that, not this).

Sends MILTER_COUNT messages through Postfix + sesame-milter and announces
INGEST_COUNT through S3/SQS to sesame-ingest, each with a unique Message-ID,
while a fault injector breaks things at random moments; then reads what
smtp-sink received and compares it with what was sent. Everything it needs
comes from the environment bench/soak.sh sets (ports, paths, binaries).

Senders (SENDERS threads) behave as a sending MTA: a message is done when
Postfix answers 250 after the final dot (accepted), or 5xx (refused); a 4xx,
a refused connection or a dropped one means "try again later". A reply lost
after the final dot is "ambiguous": the message may have been accepted, and
it is sent again (SMTP's known duplicate, RFC 1047); it is remembered so
that a duplicate it causes is explained, not hidden.

The ingest feeder keeps SQS announcements in step with the milter senders'
progress, straight into the emulator (not through the fault proxy): the
notifications arrive over the whole run, as SES's would.

Faults (one at a time, every FAULT_MIN..FAULT_MAX seconds; every kind once
per round, the order drawn at random; HOLD = HOLD_MIN..HOLD_MAX seconds,
drawn each time): milter-kill (SIGKILL, restarted HOLD/3 later),
ingest-kill (the same), postfix-restart (`postfix stop`, `postfix start`
HOLD/3 later), emulator-stop (SIGSTOP fauxqs for HOLD, then SIGCONT: state
kept, every request hangs), throttle and 5xx (for HOLD the proxy answers
half of the requests with AWS's throttling or server errors). The daemon
kills stop once the milter senders are half done, so that the last process
of each daemon serves the second half of the run: its resident memory after
warm-up and at the end is the leak check.

Expected arrivals, from the policy bench/soak.sh sets:
  user<k>@example.com    delivered (local sink)
  guarded@example.com    blocks *@spam.example: envelope senders refused at
                         RCPT (550), From-header ones removed at end of
                         message (or the message refused when alone)
  team@example.com       forward to member@example.net (internal: an added
                         recipient) keeping a copy
  ext@example.com        forward to someone@remote.example (external: a copy
                         reinjected with an SRS sender, at least once by
                         design, docs/milter.md) keeping a copy
Ingest recipients are user<k> and guarded (blocked when the SES source is
spam). Exit status 0 only if nothing accepted is lost, nothing blocked
arrived, every duplicate is explained, and the last milter's and ingest's
RSS at the end is within 10 % of where it settled after warm-up.
"""
import email.parser
import http.client
import json
import os
import random
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

E = os.environ
WORK = E["SOAK_WORK"]
MILTER_COUNT, INGEST_COUNT = int(E["MILTER_COUNT"]), int(E["INGEST_COUNT"])
SENDERS = int(E.get("SENDERS", "8"))
FAULT_MIN, FAULT_MAX = float(E["FAULT_MIN"]), float(E["FAULT_MAX"])
HOLD_MIN, HOLD_MAX = float(E.get("HOLD_MIN", "2")), float(E.get("HOLD_MAX", "6"))
RATE = float(E.get("RATE", "0"))  # milter messages per second started, 0: as fast as Postfix takes them
DEADLINE = float(E.get("DEADLINE", "3600"))
SEED = int(E.get("SEED", "20261123"))
SPAM_EVERY = 20  # one message in 20 from spam.example (half envelope, half From header)

rng = random.Random(SEED)
t_start = time.time()
stop_all = threading.Event()
lock = threading.Lock()


def log(msg):
    print(f"[{time.time() - t_start:7.1f}s] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ daemons
class Daemon:
    """A daemon the driver starts, SIGKILLs and restarts; PIDs in $SOAK_WORK/pids."""

    def __init__(self, name, argv, logfile, ready):
        self.name, self.argv, self.logfile, self.ready = name, argv, logfile, ready
        self.proc, self.incarnations, self.lock = None, [], threading.Lock()

    def start(self):
        with self.lock:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=open(self.logfile, "ab"))
            self.incarnations.append({"pid": self.proc.pid, "started": time.time()})
            with open(f"{WORK}/pids", "a") as f:
                f.write(f"{self.proc.pid}\n")
        self.ready()

    def kill(self):
        with self.lock:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        with self.lock:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            return self.proc.returncode

    def pid(self):
        with self.lock:
            return self.proc.pid if self.proc else None


def wait_http(port, path="/healthz", timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"nothing answers http://127.0.0.1:{port}{path}")


milter = Daemon("milter", [E["SESAME_MILTER"], "--config", E["SESAME_CONFIG"]], f"{WORK}/milter.log",
                lambda: wait_http(int(E["HTTP_PORT"])))
ingest = Daemon("ingest", [E["SESAME_INGEST"], "--config", E["INGEST_CONFIG"]], f"{WORK}/ingest.log",
                lambda: wait_http(int(E["INGEST_HTTP_PORT"])))


postfix_failures = []


def postfix(verb):
    """`postfix stop|start`; a start that fails is retried and, if it never works, recorded."""
    for attempt in range(5):
        done = subprocess.run(["script", "-qec", f"postfix -c {E['POSTFIX_CONF']} {verb}", "/dev/null"],
                              capture_output=True, text=True)
        if done.returncode == 0 or verb != "start":
            return
        log(f"postfix start failed: {done.stdout.strip()[-300:]}")
        time.sleep(1)
    postfix_failures.append(time.time())


# ------------------------------------------------------------------ milter senders
def milter_message(i):
    """(envelope sender, From header, recipients) of message i, fixed by the seed."""
    r = random.Random(SEED * 1000003 + i)
    sender = f"s{i % 500}@friend.example"
    header_from = sender
    if i % SPAM_EVERY == 0:
        sender = header_from = f"bulk{i % 7}@spam.example"
    elif i % SPAM_EVERY == 10:
        header_from = f"bulk{i % 7}@spam.example"  # innocent envelope, blocked From header
    rcpts = {f"user{r.randrange(50)}@example.com"}
    for extra in ("guarded@example.com", "team@example.com", "ext@example.com"):
        if r.random() < 0.3:
            rcpts.add(extra)
    if i % SPAM_EVERY in (0, 10):
        rcpts.add("guarded@example.com")
    return sender, header_from, sorted(rcpts)


def body_of(i, sender, header_from, rcpts, kind):
    filler = "".join(f"line {n} of message {i}, some text to make it a plausible size\r\n" for n in range(20))
    return (f"From: {header_from}\r\nTo: {', '.join(rcpts)}\r\nSubject: soak {kind} {i}\r\n"
            f"Message-ID: <soak-{kind}-{i}@soak.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
            f"\r\n{filler}").encode()


class MilterState:
    def __init__(self):
        self.next = 0
        self.retry = []  # (not before, i, pending recipients)
        self.done = 0
        self.accepted = {}  # i -> recipients accepted with the message
        self.refused = defaultdict(list)  # i -> [(rcpt, code)] permanent refusals
        self.attempts = Counter()
        self.failed_data = set()  # i with a 4xx / lost reply after DATA (the milter may have forwarded)
        self.ambiguous = set()  # i whose reply after the final dot was lost
        self.pending = {}
        self.tempfails = 0
        self.conn_errors = 0
        self.accept_times = []


ms = MilterState()


def next_job():
    with lock:
        now = time.time()
        for k, (when, i, pend) in enumerate(ms.retry):
            if when <= now:
                ms.retry.pop(k)
                return i, pend
        if ms.next < MILTER_COUNT and (RATE <= 0 or ms.next < RATE * (now - t_start)):
            i = ms.next
            ms.next += 1
            _, _, rcpts = milter_message(i)
            return i, list(rcpts)
        if ms.done >= MILTER_COUNT:
            return None, None
    return -1, None


def send_one(conn, i, pend):
    """One attempt; returns the recipients still to try (4xx), or [] when done."""
    sender, header_from, rcpts = milter_message(i)
    data = body_of(i, sender, header_from, rcpts, "milter")
    with lock:
        ms.attempts[i] += 1
    code, _ = conn.mail(sender)
    if code != 250:
        if 500 <= code < 600:
            with lock:
                ms.refused[i] += [(r, code) for r in pend]
            return []
        return pend
    ok, later = [], []
    for r in pend:
        code, _ = conn.rcpt(r)
        if code == 250:
            ok.append(r)
        elif 500 <= code < 600:
            with lock:
                ms.refused[i].append((r, code))
        else:
            later.append(r)
    if not ok:
        conn.rset()
        return later
    try:
        code, _ = conn.data(data)
    except smtplib.SMTPServerDisconnected:
        with lock:
            ms.ambiguous.add(i)
            ms.failed_data.add(i)
        raise
    if code == 250:
        with lock:
            ms.accepted.setdefault(i, []).extend(ok)
            ms.accept_times.append(time.time())
        return later
    with lock:
        ms.failed_data.add(i)
    if 500 <= code < 600:
        with lock:
            ms.refused[i] += [(r, code) for r in ok]
        return later
    return ok + later


def milter_sender():
    conn = None
    while not stop_all.is_set():
        i, pend = next_job()
        if i is None:
            break
        if i < 0:
            time.sleep(0.05)
            continue
        try:
            if conn is None:
                conn = smtplib.SMTP("127.0.0.1", int(E["SMTP_PORT"]), "client.soak.test", timeout=60)
            left = send_one(conn, i, pend)
        except (smtplib.SMTPException, OSError):
            left = pend
            with lock:
                ms.conn_errors += 1
            try:
                conn.close()
            except Exception:
                pass
            conn = None
        with lock:
            if left:
                ms.tempfails += 1
                ms.retry.append((time.time() + 1 + rng.random(), i, left))
            else:
                ms.done += 1
    if conn is not None:
        try:
            conn.quit()
        except Exception:
            pass


# ------------------------------------------------------------------ ingest feeder
AUTH = "AWS4-HMAC-SHA256 Credential=test/20261123/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=x"


class Aws:
    """A keep-alive connection straight to fauxqs (it checks the signature's shape only)."""

    def __init__(self):
        self.c = None

    def req(self, method, path, body, headers):
        while True:
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", int(E["FAUXQS_PORT"]), timeout=120)
                self.c.request(method, path, body, headers)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                if self.c:
                    self.c.close()
                self.c = None
                time.sleep(0.5)

    def sqs(self, op, body):
        st, d = self.req("POST", "/", json.dumps(body),
                         {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS." + op,
                          "X-Amz-Date": "20261123T000000Z", "Authorization": AUTH.format("sqs")})
        if st != 200:
            raise SystemExit(f"SQS {op}: HTTP {st}: {d[:300]!r}")
        return json.loads(d) if d else {}

    def put(self, key, data):
        st, d = self.req("PUT", f"/{E['BUCKET']}/{key}", data,
                         {"X-Amz-Date": "20261123T000000Z", "Authorization": AUTH.format("s3"),
                          "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-Type": "message/rfc822"})
        if st != 200:
            raise SystemExit(f"S3 PUT {key}: HTTP {st}: {d[:300]!r}")

    def depth(self):
        a = self.sqs("GetQueueAttributes", {"QueueUrl": E["QUEUE_URL"], "AttributeNames": [
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def ingest_message(i):
    r = random.Random(SEED * 7919 + i)
    source = f"bulk{i % 7}@spam.example" if i % SPAM_EVERY == 5 else f"s{i % 500}@friend.example"
    rcpts = {f"user{r.randrange(50)}@example.com"}
    if i % SPAM_EVERY == 5 or r.random() < 0.2:
        rcpts.add("guarded@example.com")
    return source, sorted(rcpts)


def notification(i, key, source, rcpts):
    ses = {"notificationType": "Received",
           "mail": {"timestamp": "2026-11-23T10:00:00.000Z", "source": source, "messageId": f"soak-ses-{i}",
                    "destination": rcpts, "headersTruncated": False,
                    "commonHeaders": {"from": [source], "to": rcpts, "subject": key}},
           "receipt": {"timestamp": "2026-11-23T10:00:00.000Z", "processingTimeMillis": 10, "recipients": rcpts,
                       "spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "PASS"},
                       "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
                       "action": {"type": "S3", "topicArn": "arn:aws:sns:us-east-1:123456789012:inbound",
                                  "bucketName": E["BUCKET"], "objectKey": key}}}
    return json.dumps({"Type": "Notification", "MessageId": f"soak-sns-{i}",
                       "TopicArn": "arn:aws:sns:us-east-1:123456789012:inbound",
                       "Subject": "Amazon SES Email Receipt Notification", "Message": json.dumps(ses),
                       "Timestamp": "2026-11-23T10:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
                       "SigningCertURL": "https://sns.us-east-1.amazonaws.com/x.pem", "UnsubscribeURL": "https://x"})


ingest_sent = 0


def ingest_feeder():
    global ingest_sent
    aws = Aws()
    while ingest_sent < INGEST_COUNT and not stop_all.is_set():
        with lock:
            target = INGEST_COUNT if ms.next >= MILTER_COUNT else (INGEST_COUNT * ms.next) // MILTER_COUNT + 10
        target = min(target, INGEST_COUNT)
        if ingest_sent >= target:
            time.sleep(0.2)
            continue
        hi = min(ingest_sent + 10, target)
        entries = []
        for i in range(ingest_sent, hi):
            source, rcpts = ingest_message(i)
            key = f"soak/{i:06d}"
            aws.put(key, body_of(i, source, source, rcpts, "ingest"))
            entries.append({"Id": str(i - ingest_sent), "MessageBody": notification(i, key, source, rcpts)})
        aws.sqs("SendMessageBatch", {"QueueUrl": E["QUEUE_URL"], "Entries": entries})
        ingest_sent = hi


# ------------------------------------------------------------------ faults
faults = []  # (time, kind, seconds)
KINDS = ["milter-kill", "ingest-kill", "postfix-restart", "emulator-stop", "throttle", "5xx"]


def proxy_mode(text):
    tmp = E["PROXY_CONTROL"] + ".tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, E["PROXY_CONTROL"])


def injector():
    """Every kind once per round, in an order drawn at random, at random moments."""
    round_ = []
    while not stop_all.wait(rng.uniform(FAULT_MIN, FAULT_MAX)):
        with lock:
            progress = ms.done / MILTER_COUNT
        if progress >= 1 and ingest_sent >= INGEST_COUNT:
            return
        if not round_:
            round_ = rng.sample(KINDS, len(KINDS))
        kind = round_.pop()
        if progress >= 0.5 and kind in ("milter-kill", "ingest-kill"):
            continue  # the last processes serve the second half (the memory check)
        t0 = time.time()
        hold = rng.uniform(HOLD_MIN, HOLD_MAX)
        if kind in ("milter-kill", "ingest-kill"):
            d = milter if kind == "milter-kill" else ingest
            d.kill()
            time.sleep(hold / 3)
            d.start()
        elif kind == "postfix-restart":
            postfix("stop")
            time.sleep(hold / 3)
            postfix("start")
        elif kind == "emulator-stop":
            pid = int(E["FAUXQS_PID"])
            os.kill(pid, signal.SIGSTOP)
            time.sleep(hold)
            os.kill(pid, signal.SIGCONT)
        else:
            proxy_mode(f"{kind} 0.5")
            time.sleep(hold)
            proxy_mode("ok")
        faults.append((t0, kind, time.time() - t0))
        log(f"fault {kind} ({time.time() - t0:.1f} s); milter {ms.done}/{MILTER_COUNT}, "
            f"ingest announced {ingest_sent}/{INGEST_COUNT}")


# ------------------------------------------------------------------ resident memory
rss = []  # (time, daemon, pid, kB, milter messages accepted so far, ingest announced so far)


def rss_of(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None


def sampler():
    while not stop_all.wait(1):
        for d in (milter, ingest):
            pid = d.pid()
            kb = rss_of(pid) if pid else None
            if kb:
                with lock:
                    rss.append((time.time(), d.name, pid, kb, len(ms.accept_times), ingest_sent))


# ------------------------------------------------------------------ the end: what arrived
def queue_empty():
    out = subprocess.run(["postqueue", "-c", E["POSTFIX_CONF"], "-j"], capture_output=True, text=True).stdout
    return out.strip() == ""


def read_dumps():
    """(Message-ID, recipient) -> [arrival times] over both sinks."""
    got = defaultdict(list)
    parser = email.parser.BytesHeaderParser()
    for sink in ("local", "remote"):
        d = f"{E['SINK_DIR']}/{sink}"
        for name in os.listdir(d):
            path = f"{d}/{name}"
            with open(path, "rb") as f:
                head = f.read(16384).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
            h = parser.parsebytes(head)
            mid = (h.get("Message-ID") or "").strip()
            when = os.stat(path).st_mtime
            for r in h.get_all("X-Rcpt-Args") or []:
                got[(mid, r.strip().split()[0].strip("<>").lower())].append(when)
    return got


def near(t, kinds, before, after):
    return any(k in kinds and f0 - before <= t <= f0 + d + after for f0, k, d in faults)


def nearest_fault(t):
    """The fault whose start is nearest to t, and how far, for the report."""
    if not faults:
        return "no fault"
    f0, k, d = min(faults, key=lambda f: abs(t - f[0]))
    return f"nearest fault: {k} lasting {d:.1f} s; the first copy arrived {t - f0:+.2f} s from its start"


def main():
    milter.start()
    ingest.start()
    threads = [threading.Thread(target=f, daemon=True) for f in (injector, sampler, ingest_feeder)]
    senders = [threading.Thread(target=milter_sender, daemon=True) for _ in range(SENDERS)]
    for t in threads + senders:
        t.start()
    last = 0
    while any(t.is_alive() for t in senders):
        time.sleep(1)
        if time.time() - t_start > DEADLINE:
            log("deadline reached: stopping the senders")
            stop_all.set()
            break
        if time.time() - last > 15:
            last = time.time()
            log(f"milter accepted-or-refused {ms.done}/{MILTER_COUNT}, ingest announced {ingest_sent}/{INGEST_COUNT}")
    t_milter_done = time.time()
    # The ingest side: every announcement read and the queue empty.
    aws = Aws()
    while ingest_sent < INGEST_COUNT and time.time() - t_start < DEADLINE:
        time.sleep(0.5)
    stop_all.set()  # no more faults
    for t in threads:
        t.join(60)
    proxy_mode("ok")
    end = time.time() + 600
    while time.time() < end and aws.depth() > 0:
        time.sleep(1)
    depth = aws.depth()
    t_ingest_done = time.time()
    # Postfix's queue drained, and nothing new at the sinks for 3 s.
    while time.time() < end and not queue_empty():
        time.sleep(1)
    time.sleep(3)
    final_rss = {d.name: rss_of(d.pid()) for d in (milter, ingest)}
    codes = {d.name: d.stop() for d in (milter, ingest)}
    got = read_dumps()

    # --- compare
    expected = {}  # (mid, rcpt) -> path
    blocked = set()
    for i in range(MILTER_COUNT):
        sender, header_from, rcpts = milter_message(i)
        mid = f"<soak-milter-{i}@soak.test>"
        spam = header_from.endswith("@spam.example") or sender.endswith("@spam.example")
        if spam:
            blocked.add((mid, "guarded@example.com"))
        for r in ms.accepted.get(i, []):
            if r == "guarded@example.com" and spam:
                continue
            expected[(mid, r)] = "milter"
            if r == "team@example.com":
                expected[(mid, "member@example.net")] = "milter forward (internal)"
            if r == "ext@example.com":
                expected[(mid, "someone@remote.example")] = "milter forward (external)"
    for i in range(INGEST_COUNT):
        source, rcpts = ingest_message(i)
        mid = f"<soak-ingest-{i}@soak.test>"
        for r in rcpts:
            if r == "guarded@example.com" and source.endswith("@spam.example"):
                blocked.add((mid, r))
            else:
                expected[(mid, r)] = "ingest"
    lost = [k for k in expected if not got.get(k)]
    blocked_arrived = [k for k in blocked if got.get(k)]
    unexpected = [k for k in got if k not in expected and k not in blocked]
    dup_explained, dup_unexplained, dup_seen = Counter(), [], []
    for k, times in got.items():
        extra = len(times) - 1 if k in expected else len(times)
        if extra <= 0 or k in blocked:
            continue
        mid, rcpt = k
        path = expected.get(k, "unexpected")
        i = int(mid.split("-")[2].split("@")[0])
        first = min(times)
        if path.startswith("milter") and i in ms.ambiguous:
            why = "the reply after the final dot was lost (the client sent it again)"
        elif path == "milter forward (external)" and i in ms.failed_data:
            why = "external forward handed on, then the message tempfailed (at least once, docs/milter.md)"
        elif path == "ingest" and near(first, ("ingest-kill",), 2, 5):
            # Postfix hands the copy on while sesame-ingest records the
            # delivery: the sink may have it a moment before the SIGKILL.
            why = "sesame-ingest SIGKILLed between Postfix's 250 and recording the delivery"
        elif near(first, ("postfix-restart",), 2, 5):
            why = "Postfix stopped while delivering to the sink (Postfix's own at-least-once)"
        else:
            dup_unexplained.append((k, path, times))
            continue
        dup_explained[(path, why)] += extra
        dup_seen.append([mid, rcpt, why, nearest_fault(first)])
    not_accepted = [i for i in range(MILTER_COUNT) if i not in ms.accepted and not ms.refused.get(i)]
    wrongly_refused = [(i, r, c) for i, lst in ms.refused.items() for r, c in lst
                       if not (r == "guarded@example.com" and milter_message(i)[0].endswith("@spam.example"))
                       and not (r == "guarded@example.com" and milter_message(i)[2] == ["guarded@example.com"])]

    # --- memory: the last process of each daemon, settled after warm-up vs at the end
    memory = {}
    for d in (milter, ingest):
        last = d.incarnations[-1]
        samples = [s for s in rss if s[1] == d.name and s[2] == last["pid"]]
        peak = max((s[3] for s in rss if s[1] == d.name), default=0)
        if not samples:
            memory[d.name] = {"peak_kb": peak}
            continue
        idx = 4 if d.name == "milter" else 5
        start_count = samples[0][idx]
        total = MILTER_COUNT if d.name == "milter" else INGEST_COUNT
        warm = start_count + max(200, (total - start_count) // 5)  # a fifth of what it serves
        settled = next((s[3] for s in samples if s[idx] >= warm), samples[-1][3])
        end_kb = final_rss[d.name] or samples[-1][3]
        memory[d.name] = {"restarts": len(d.incarnations) - 1, "settled_kb": settled, "end_kb": end_kb,
                          "growth": (end_kb - settled) / settled, "peak_kb": peak,
                          "served_by_last": total - start_count}
    proxy_faults = Counter()
    try:
        for line in open(E["PROXY_LOG"]):
            w = line.split()
            proxy_faults[f"{w[1]} {w[3]}"] += 1
    except OSError:
        pass
    accepted_n = len(ms.accepted)
    span = max(ms.accept_times) - min(ms.accept_times) if len(ms.accept_times) > 1 else 0
    result = {
        "milter": {"messages": MILTER_COUNT, "accepted": accepted_n,
                   "refused_recipients": sum(len(v) for v in ms.refused.values()),
                   "not_accepted": len(not_accepted), "attempts": sum(ms.attempts.values()),
                   "tempfails": ms.tempfails, "connection_errors": ms.conn_errors,
                   "ambiguous": len(ms.ambiguous), "wrongly_refused": len(wrongly_refused),
                   "msg_per_s": accepted_n / span if span else 0, "seconds": t_milter_done - t_start},
        "ingest": {"messages": INGEST_COUNT, "announced": ingest_sent, "queue_left": depth,
                   "msg_per_s": INGEST_COUNT / (t_ingest_done - t_start)},
        "expected_deliveries": len(expected), "arrived": sum(len(v) for v in got.values()),
        "lost": len(lost), "blocked_arrived": len(blocked_arrived), "unexpected": len(unexpected),
        "duplicates_explained": [{"path": p, "why": w, "count": n} for (p, w), n in sorted(dup_explained.items())],
        "duplicates_unexplained": len(dup_unexplained),
        "faults": dict(Counter(k for _, k, _ in faults)), "proxy_answers": dict(proxy_faults),
        "memory": memory, "exit_codes": codes, "seconds": time.time() - t_start,
        "examples": {"lost": [list(k) + [expected[k]] for k in lost[:10]],
                     "blocked_arrived": [list(k) for k in blocked_arrived[:10]],
                     "unexpected": [list(k) for k in unexpected[:10]],
                     "duplicates_unexplained": [[k[0], k[1], p, len(t), nearest_fault(min(t))]
                                                for k, p, t in dup_unexplained[:10]],
                     "wrongly_refused": wrongly_refused[:10], "not_accepted": not_accepted[:10],
                     "duplicates_explained": dup_seen[:10]},
    }
    json.dump(result, open(E["RESULT"], "w"), indent=1)
    problems = []
    if lost: problems.append(f"{len(lost)} accepted deliveries lost")
    if blocked_arrived: problems.append(f"{len(blocked_arrived)} blocked deliveries arrived")
    if dup_unexplained: problems.append(f"{len(dup_unexplained)} unexplained duplicates")
    if unexpected and not all(k[1] == "someone@remote.example" and
                              int(k[0].split("-")[2].split("@")[0]) in ms.failed_data for k in unexpected):
        problems.append(f"{len(unexpected)} unexpected deliveries")
    if not_accepted: problems.append(f"{len(not_accepted)} milter messages never accepted before the deadline")
    if wrongly_refused: problems.append(f"{len(wrongly_refused)} recipients refused that policy allows")
    if postfix_failures: problems.append(f"Postfix did not start again {len(postfix_failures)} time(s)")
    if depth: problems.append(f"{depth} notifications left in the queue")
    for name, m in memory.items():
        if E.get("RSS_CHECK", "1") == "1" and "growth" in m and abs(m["growth"]) > 0.10:
            problems.append(f"{name} RSS moved {100 * m['growth']:+.1f} % after warm-up")
    for name, code in codes.items():
        if code not in (0, -15):
            problems.append(f"{name} exited with {code} on SIGTERM")
    result["problems"] = problems
    json.dump(result, open(E["RESULT"], "w"), indent=1)
    print(json.dumps(result, indent=1))
    for p in problems:
        log("PROBLEM: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
