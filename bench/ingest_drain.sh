#!/usr/bin/env bash
# ingest_drain.sh - end-to-end throughput of sesame-ingest: SES inbound queue
# (fauxqs: SQS + S3) -> sesame-ingest -> a real throwaway Postfix -> smtp-sink.
#
# Usage: bench/ingest_drain.sh                       (as root; about 10 minutes on 2 cores)
#        bench/ingest_drain.sh --count 2000 --rounds 1  (a quick look)
#        options: --count N (10000) --rounds R (3) --concurrency C (8)
#                 --queues Q (100) --rss-count M (count / 5); HOLD=S (25) in the environment
#        bench/ingest_drain.sh --from-json FILE      (only redraw the PNG and rewrite the
#                                                     figures block of the doc)
#
# One run measures, against the same Postfix, the same smtp-sink and the same
# emulator, each with the same message set (COUNT raw mails of 4 KB to 1 MB,
# sizes below), ROUNDS rounds of the first four phases (the order rotated
# each round; each round drains queues of its own, filled before the first),
# after a warm-up of 200 small messages through Postfix:
#
#   emulator   the emulator's own ceiling: a Python client (stdlib, CONCURRENCY
#              threads, keep-alive connections) doing what sesame-ingest asks
#              of it: ReceiveMessage (10), then per message GetObject and the
#              metadata CopyObject, and one DeleteMessageBatch per 10; fauxqs
#              alone, no Postfix
#   ingest     sesame-ingest ([ingest] concurrency = CONCURRENCY, one
#              [[ingest.queue]] for example.com) draining COUNT queued SES
#              "Received" notifications (SNS envelope) whose raw mail is in S3,
#              into Postfix's milter-less smtpd; timed from the daemon's start
#              (the queue is full: its first poll is its first receive) until
#              the sink holds every message and the queue is empty
#   source     the Postfix ceiling: smtp-source pushing the same number of
#              messages of the same sizes straight into the same smtpd port,
#              timed until the sink holds them all. smtp-source sends one size
#              per run, so CONCURRENCY threads each run one `smtp-source -s 1
#              -m N -l SIZE` after another over the 33 sizes, largest jobs
#              first: CONCURRENCY sessions at all times, as -s would. Once with one
#              connection per message (smtp-source's default) and once with
#              connections reused (-d), as sesame-ingest's SMTP pool does
#   queues     after the rounds, a short run: sesame-ingest with QUEUES configured
#              queues, QUEUES-1 of them idle (long polling, 20 s) and one
#              with RSS_COUNT messages; its peak RSS (VmHWM) and its CPU while
#              all QUEUES polls sit idle for HOLD seconds
#
# Figures are medians over the rounds. sesame-ingest's CPU is utime + stime
# from /proc/PID/stat (all its threads) divided by the messages; its peak RSS
# is VmHWM from /proc/PID/status, read before it is stopped. Message sizes: 4 KB x 2^(k/4), k = 0..32 (33 sizes,
# 4,096 B to 1,048,576 B); 90 % of the messages draw k uniformly from 0..16
# (4-64 KB, log-uniform), 10 % from 17..32 (77 KB-1 MB); fixed seed. Mails
# up to 16 KB are text/plain, larger ones multipart/mixed with a base64
# attachment; each raw mail is exactly its size.
#
# Uses the binaries already built in $BUILD (default build/): it never
# configures or builds. Writes $OUT (default $BUILD/ingest_drain)/results.json
# (the command in results.json.cmd), docs/ingest-throughput.png (gnuplot, when
# installed) and the block between the "ingest-drain" markers of
# docs/benchmarks.md. Not a test: nothing registers it with CTest. Needs root
# (a throwaway Postfix, smtp-sink -u postfix). Everything listens on
# 127.0.0.1 on ports picked at run time; everything it starts is stopped by
# PID or `postfix stop` on exit.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
BUILD=${BUILD:-build}
COUNT=10000
ROUNDS=3
CONCURRENCY=8
QUEUES=100
RSS_COUNT=
HOLD=${HOLD:-25}
FROM_JSON=
while [ $# -gt 0 ]; do
    case $1 in
        --count) COUNT=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --concurrency) CONCURRENCY=$2; shift 2 ;;
        --queues) QUEUES=$2; shift 2 ;;
        --rss-count) RSS_COUNT=$2; shift 2 ;;
        --from-json) FROM_JSON=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "ingest_drain: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$RSS_COUNT" ] || RSS_COUNT=$((COUNT / 5 < 200 ? 200 : COUNT / 5))
OUT=${OUT:-$BUILD/ingest_drain}
json=$OUT/results.json
doc=docs/benchmarks.md
png=docs/ingest-throughput.png
RECIPIENT=alex.morgan@example.com
BUCKET=bench-inbound

die() {
    echo "ingest_drain: $*" >&2
    exit 1
}

# --- the Python half: message set, fill, the phases, report
read -r -d '' PY <<'PY'
import base64, http.client, json, os, random, re, resource, signal, statistics, subprocess, sys, threading, time

def env(name): return os.environ[name]

# ---------------------------------------------------------------- message set
def sizes(n):
    r = random.Random(20261122)
    out = []
    for _ in range(n):
        k = r.randint(0, 16) if r.random() < 0.9 else r.randint(17, 32)
        out.append(round(4096 * 2 ** (k / 4)))
    return out

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at which but have an they "
         "you were her she there been one all we their has would when if so no will what up out about who get them me "
         "invoice meeting schedule report quarter budget project review customer order shipment delivery").split()

class Pool:
    """Text and base64 material, built once, sliced per message."""
    def __init__(self):
        r = random.Random(7)
        lines, n = [], 0
        while n < 40000:
            line = " ".join(r.choice(WORDS) for _ in range(r.randint(8, 13)))[:74].capitalize()
            lines.append(line)
            n += len(line) + 2
        self.text = "\r\n".join(lines) + "\r\n"
        b = base64.b64encode(random.Random(11).randbytes(800000)).decode()
        self.b64 = "".join(b[i:i + 76] + "\r\n" for i in range(0, len(b), 76))

    def mail(self, i, size, sender):
        h = (f"Return-Path: <{sender}>\r\nFrom: Sender {i % 97} <{sender}>\r\nTo: Alex Morgan <{env('RECIPIENT')}>\r\n"
             f"Subject: Benchmark message {i} ({size} bytes)\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
             f"Message-ID: <bench-{i:06d}@friend.example>\r\nMIME-Version: 1.0\r\n")
        if size <= 16384:
            h += "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            need = size - len(h)
            body = (self.text * (need // len(self.text) + 1))[:need]
            if body.endswith("\r"): body = body[:-1] + "."
            return (h + body).encode()
        h += 'Content-Type: multipart/mixed; boundary="b-bench"\r\n\r\n'
        part1 = ("--b-bench\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + self.text[:2000] + "\r\n"
                 "--b-bench\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
                 "Content-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
        tail = "\r\n--b-bench--\r\n"
        need = size - len(h) - len(part1) - len(tail)
        off = (i * 7919) % 78 * 1000  # a line boundary, different per message
        b = self.b64[off:]
        b = (b * (need // len(b) + 1))[:need]
        # end on a whole line; pad the last line with '=' free base64 letters
        cut = b.rfind("\r\n") + 2
        b = b[:cut] + "A" * (need - cut)
        return (h + part1 + b + tail).encode()

# ---------------------------------------------------------------- AWS over http.client
AUTH = "AWS4-HMAC-SHA256 Credential=test/20261122/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=x"

class Aws:
    """One keep-alive connection to fauxqs (no SigV4: fauxqs checks the header's shape only)."""
    def __init__(self):
        self.port, self.c = int(env("FAUXQS_PORT")), None

    def req(self, method, path, body, headers):
        for attempt in range(3):
            try:
                if self.c is None: self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.c.request(method, path, body, headers)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                if self.c: self.c.close()
                self.c = None
                if attempt == 2: raise

    def sqs(self, op, body):
        st, d = self.req("POST", "/", json.dumps(body),
                         {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS." + op,
                          "X-Amz-Date": "20261122T000000Z", "Authorization": AUTH.format("sqs")})
        if st != 200: raise SystemExit(f"SQS {op}: HTTP {st}: {d[:300]!r}")
        return json.loads(d) if d else {}

    def s3(self, method, path, body=b"", headers=None):
        h = {"X-Amz-Date": "20261122T000000Z", "Authorization": AUTH.format("s3"),
             "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-Type": "message/rfc822"}
        h.update(headers or {})
        st, d = self.req(method, path, body, h)
        if st != 200: raise SystemExit(f"S3 {method} {path}: HTTP {st}: {d[:300]!r}")
        return d

    def count(self, url):
        a = self.sqs("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": [
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

def notification(ses_id, key, source):
    rcpts = [env("RECIPIENT")]
    ses = {"notificationType": "Received",
           "mail": {"timestamp": "2026-11-22T10:00:00.000Z", "source": source, "messageId": ses_id,
                    "destination": rcpts, "headersTruncated": False,
                    "commonHeaders": {"from": [source], "to": rcpts, "subject": key}},
           "receipt": {"timestamp": "2026-11-22T10:00:00.000Z", "processingTimeMillis": 10, "recipients": rcpts,
                       "spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "PASS"},
                       "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
                       "action": {"type": "S3", "topicArn": "arn:aws:sns:us-east-1:123456789012:inbound",
                                  "bucketName": env("BUCKET"), "objectKey": key}}}
    return json.dumps({"Type": "Notification", "MessageId": f"sns-{ses_id}",
                       "TopicArn": "arn:aws:sns:us-east-1:123456789012:inbound",
                       "Subject": "Amazon SES Email Receipt Notification", "Message": json.dumps(ses),
                       "Timestamp": "2026-11-22T10:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
                       "SigningCertURL": "https://sns.us-east-1.amazonaws.com/x.pem", "UnsubscribeURL": "https://x"})

def sender(i): return f"sender{i % 97}@friend.example"
def key(i): return f"inbound/{i:06d}"

def parallel(jobs, threads, fn):
    """fn(aws, job) over jobs with THREADS threads, each with its own connection."""
    it, lock, err = iter(jobs), threading.Lock(), []
    def run():
        a = Aws()
        while not err:
            with lock: job = next(it, None)
            if job is None: return
            try: fn(a, job)
            except BaseException as e: err.append(e)
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    if err: raise err[0]

def fill(state_path):
    """Bucket, queues, objects and notifications; writes the queue URLs to STATE_PATH."""
    n, q, m, rounds = int(env("COUNT")), int(env("QUEUES")), int(env("RSS_COUNT")), int(env("ROUNDS"))
    a = Aws()
    a.s3("PUT", "/" + env("BUCKET"), b"")
    def create(name):
        return a.sqs("CreateQueue", {"QueueName": name, "Attributes": {"VisibilityTimeout": "300"}})["QueueUrl"]
    urls = {"emulator": [create(f"bench-emulator-{r}") for r in range(rounds)],
            "ingest": [create(f"bench-ingest-{r}") for r in range(rounds)], "busy": create("bench-busy"),
            "idle": [create(f"bench-idle-{j:02d}") for j in range(q - 1)]}
    sz = sizes(max(n, m))
    pool = Pool()
    t0 = time.monotonic()
    parallel(range(len(sz)), 3, lambda aws, i: aws.s3("PUT", f"/{env('BUCKET')}/{key(i)}", pool.mail(i, sz[i], sender(i))))
    t1 = time.monotonic()
    def send(aws, job):
        url, prefix, lo, hi = job
        aws.sqs("SendMessageBatch", {"QueueUrl": url, "Entries": [
            {"Id": str(i - lo), "MessageBody": notification(f"{prefix}-{i:06d}", key(i), sender(i))} for i in range(lo, hi)]})
    jobs = []
    for r in range(rounds):
        jobs += [(urls["emulator"][r], f"emulator{r}", lo, min(lo + 10, n)) for lo in range(0, n, 10)]
        jobs += [(urls["ingest"][r], f"ingest{r}", lo, min(lo + 10, n)) for lo in range(0, n, 10)]
    jobs += [(urls["busy"], "busy", lo, min(lo + 10, m)) for lo in range(0, m, 10)]
    parallel(jobs, 3, send)
    t2 = time.monotonic()
    total = sum(sz[:n])
    print(f"fill: {len(sz):,} objects ({sum(sz) / 1e6:,.0f} MB) in {t1 - t0:.1f} s; "
          f"{2 * rounds * n + m:,} notifications in {t2 - t1:.1f} s", file=sys.stderr)
    json.dump({"urls": urls, "bytes": total, "fill_s3_s": t1 - t0, "fill_sqs_s": t2 - t1}, open(state_path, "w"))

# ---------------------------------------------------------------- measuring
TICK = os.sysconf("SC_CLK_TCK")

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f: fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK

def status_kb(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"): return int(line.split()[1])
    return 0

def machine():
    """(busy, total) jiffies of all CPUs; busy excludes idle and iowait."""
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v), v[4]

class Usage:
    """CPU used by the machine, fauxqs and the driver itself between start() and stop()."""
    def __init__(self): self.start()
    def start(self):
        self.m0, self.f0, self.s0, self.t0 = machine(), cpu_seconds(env("FAUXQS_PID")), sum(os.times()[:2]), time.monotonic()
    def stop(self):
        m1, wall = machine(), time.monotonic() - self.t0
        busy, total, iow = m1[0] - self.m0[0], m1[1] - self.m0[1], m1[2] - self.m0[2]
        ncpu = os.cpu_count()
        return {"wall": wall, "machine_busy_cores": ncpu * busy / max(total, 1), "iowait_cores": ncpu * iow / max(total, 1),
                "fauxqs_cores": (cpu_seconds(env("FAUXQS_PID")) - self.f0) / wall,
                "driver_cores": (sum(os.times()[:2]) - self.s0) / wall}

class Sink:
    def __init__(self, path): self.path = path
    def count(self):
        with open(self.path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 120))
            m = re.findall(rb"mesg=(\d+)", f.read())
        return int(m[-1]) if m else 0

children = []
def on_term(*_):
    for p in children:
        if p.poll() is None: p.kill()
    raise SystemExit(143)

def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    children.append(p)
    with open(env("PIDS_FILE"), "a") as f: f.write(f"{p.pid}\n")
    return p

def stop(p, name):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try: p.wait(30)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within 30 s of SIGTERM: killed", file=sys.stderr)
            p.kill(); p.wait()
    return p.returncode

def emulator_phase(url, n, threads):
    """The emulator alone: receive(10), per message GET + metadata CopyObject, DeleteMessageBatch per 10."""
    done, lock, err, prog = [0], threading.Lock(), [], []
    def run():
        a = Aws()
        try:
            while True:
                ms = a.sqs("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0,
                                              "MessageSystemAttributeNames": ["ApproximateReceiveCount"]}).get("Messages", [])
                if not ms:
                    if a.count(url) == 0: return
                    time.sleep(0.05)
                    continue
                for m in ms:
                    act = json.loads(json.loads(m["Body"])["Message"])["receipt"]["action"]
                    path = f"/{act['bucketName']}/{act['objectKey']}"
                    body = a.s3("GET", path)
                    if not body: raise SystemExit(f"empty object {path}")
                    a.s3("PUT", path, b"", {"x-amz-copy-source": path, "x-amz-metadata-directive": "REPLACE",
                                            "x-amz-meta-processed": "true", "x-amz-meta-status": "delivered"})
                r = a.sqs("DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                    {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(ms)]})
                if r.get("Failed"): raise SystemExit(f"DeleteMessageBatch failed: {r['Failed'][:1]}")
                with lock: done[0] += len(ms)
        except BaseException as e:
            err.append(e)
    u = Usage()
    t0 = time.monotonic()
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts: t.start()
    while any(t.is_alive() for t in ts):
        prog.append((time.monotonic() - t0, done[0]))
        time.sleep(0.1)
    for t in ts: t.join()
    t1 = time.monotonic()
    if err: raise err[0]
    if done[0] != n: raise SystemExit(f"emulator phase: {done[0]} messages processed, expected {n}")
    prog.append((t1 - t0, done[0]))
    res = {"rate": n / (t1 - t0), "seconds": t1 - t0, "progress": prog, "usage": u.stop()}
    res["fauxqs_cpu_us_per_msg"] = 1e6 * res["usage"]["fauxqs_cores"] * res["seconds"] / n
    return res

def source_phase(sink, n, sz, sessions, reuse, timeout):
    """smtp-source, timed to the sink's n-th message. smtp-source sends one size per run: the sizes are worked
    by SESSIONS threads, each running one `smtp-source -s 1 -m COUNT -l SIZE` at a time, the largest jobs
    (count x size) first, so that SESSIONS sessions stay busy until the last few messages."""
    groups = {}
    for s in sz[:n]: groups[s] = groups.get(s, 0) + 1
    jobs = sorted(groups.items(), key=lambda g: -g[0] * g[1])
    lock, err = threading.Lock(), []
    def run():
        while not err:
            with lock:
                if not jobs: return
                size, count = jobs.pop(0)
            cmd = ["/usr/sbin/smtp-source", "-s", "1", "-m", str(count), "-l", str(size),
                   "-M", "client.bench.test", "-f", "sender0@friend.example", "-t", env("RECIPIENT")]
            if reuse: cmd.append("-d")
            p = spawn(cmd + [f"127.0.0.1:{env('REINJECT_PORT')}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, e = p.communicate()
            if p.returncode != 0: err.append(f"smtp-source -l {size} failed: {e.decode().strip()}")
            children.remove(p)
    base = sink.count()
    u = Usage()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # smtp-source runs are reaped by communicate()
    t0 = time.monotonic()
    prog = []
    ts = [threading.Thread(target=run) for _ in range(sessions)]
    for t in ts: t.start()
    while (got := sink.count() - base) < n:
        if err: break
        if time.monotonic() - t0 > timeout: err.append(f"smtp-source phase: only {got} of {n} in {timeout} s")
        prog.append((time.monotonic() - t0, got))
        time.sleep(0.02)
    t1 = time.monotonic()
    for t in ts: t.join()
    if err: raise SystemExit(err[0])
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    prog.append((t1 - t0, n))
    client = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return {"rate": n / (t1 - t0), "seconds": t1 - t0, "runs": len(groups), "progress": prog[::5] + [prog[-1]],
            "usage": u.stop(), "cpu_us_per_msg": 1e6 * client / n}

def smtpd_connections():
    """SMTP sessions Postfix's smtpd has accepted so far (its log's "connect from" lines)."""
    try:
        with open(env("POSTFIX_LOG"), errors="replace") as f: return sum(" connect from " in line for line in f)
    except OSError: return 0

def ingest_phase(sink, conf, log, url, n, timeout, hold=0):
    """sesame-ingest from start until the sink has n more messages and URL is empty; then HOLD seconds idle."""
    a = Aws()
    conn0 = smtpd_connections()
    base = sink.count()
    u = Usage()
    t0 = time.monotonic()
    p = spawn([env("SESAME_INGEST"), "--config", conf], stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
    pid, prog, rss, empty_at, next_q, got = p.pid, [], [], None, 0.0, 0
    try:
        while True:
            now = time.monotonic() - t0
            if p.poll() is not None: raise SystemExit(f"sesame-ingest exited ({p.returncode}): see {log}")
            got = sink.count() - base
            if now >= next_q or got >= n:
                left = a.count(url)
                next_q = now + 0.25
                if left == 0 and empty_at is None: empty_at = now
                if left != 0: empty_at = None
                prog.append((now, got))
                rss.append((now, status_kb(pid, "VmRSS")))
            if got >= n and empty_at is not None: break
            if now > timeout: raise SystemExit(f"sesame-ingest: only {got} of {n} delivered in {timeout} s; see {log}")
            time.sleep(0.01)
        t1 = time.monotonic()
        usage = u.stop()
        cpu = cpu_seconds(pid)
        res = {"rate": n / (t1 - t0), "seconds": t1 - t0, "queue_empty_at": empty_at, "cpu_seconds": cpu,
               "cpu_us_per_msg": 1e6 * cpu / n, "vmhwm_kb": status_kb(pid, "VmHWM"), "vmrss_kb": status_kb(pid, "VmRSS"),
               "threads": status_kb(pid, "Threads"), "progress": prog, "rss": rss, "usage": usage}
        res["sesame_cores"] = cpu / res["seconds"]
        time.sleep(0.2)  # postlogd writes asynchronously
        res["smtp_connections"] = smtpd_connections() - conn0
        res["fauxqs_cpu_us_per_msg"] = 1e6 * usage["fauxqs_cores"] * res["seconds"] / n
        if hold:
            c0, f0, h0 = cpu_seconds(pid), cpu_seconds(env("FAUXQS_PID")), time.monotonic()
            while time.monotonic() - h0 < hold:
                time.sleep(0.5)
                rss.append((time.monotonic() - t0, status_kb(pid, "VmRSS")))
                if p.poll() is not None: raise SystemExit(f"sesame-ingest exited while idle: see {log}")
            hs = time.monotonic() - h0
            res["idle"] = {"seconds": hs, "cpu_ms_per_s": 1000 * (cpu_seconds(pid) - c0) / hs,
                           "fauxqs_cpu_ms_per_s": 1000 * (cpu_seconds(env("FAUXQS_PID")) - f0) / hs,
                           "vmhwm_kb": status_kb(pid, "VmHWM"), "vmrss_kb": status_kb(pid, "VmRSS"),
                           "threads": status_kb(pid, "Threads")}
    finally:
        rc = stop(p, "sesame-ingest")
        children.remove(p)
    text = open(log, errors="replace").read()
    res["exit_status"] = rc
    res["retries"] = len(re.findall(r"; message retry", text))
    res["errors"] = len(re.findall(r"\b(error|warning)\b", text))
    return res

def drive(result_path, state_path):
    signal.signal(signal.SIGTERM, on_term)
    st = json.load(open(state_path))
    urls = st["urls"]
    n, c, m, hold = int(env("COUNT")), int(env("CONCURRENCY")), int(env("RSS_COUNT")), int(env("HOLD"))
    sz = sizes(max(n, m))
    sink = Sink(env("SINK_COUNTS"))
    res = {"meta": {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "count": n, "concurrency": c, "queues": int(env("QUEUES")),
                    "rss_count": m, "hold": hold, "bytes": st["bytes"], "mean_size": st["bytes"] / n,
                    "median_size": statistics.median(sz[:n]), "over_64k": sum(s > 65536 for s in sz[:n]),
                    "over_512k": sum(s > 524288 for s in sz[:n]), "max_size": max(sz[:n]),
                    "fill_s3_s": st["fill_s3_s"], "fill_sqs_s": st["fill_sqs_s"],
                    "load_before": open("/proc/loadavg").read().split()[:3], "nproc": os.cpu_count(),
                    "kernel": os.uname().release, "cpu": env("CPU"), "postfix": env("POSTFIX_VERSION"),
                    "fauxqs": env("FAUXQS_VERSION"), "commit": env("COMMIT"), "binary": env("BINARY_INFO")}}
    timeout = max(300, n * 0.2)
    rounds = int(env("ROUNDS"))
    res["meta"]["rounds"] = rounds
    # Warm-up: smtpd processes spawned, caches warm (not counted).
    source_phase(sink, 200, sz[:200], c, False, timeout)
    phases = ["ingest", "source", "source_reuse", "emulator"]
    for name in phases: res[name] = []
    res["order"] = []
    for k in range(rounds):
        order = phases[k % len(phases):] + phases[:k % len(phases)]
        res["order"].append(order)
        for name in order:
            time.sleep(1)  # let the previous phase's processes go idle
            if name == "emulator":
                r = emulator_phase(urls["emulator"][k], n, c)
                note = ""
            elif name == "ingest":
                r = ingest_phase(sink, env("CONF_ONE") % k, env("LOG_ONE") % k, urls["ingest"][k], n, timeout)
                note = (f", {r['cpu_us_per_msg']:.0f} us CPU/msg, VmHWM {r['vmhwm_kb'] / 1024:.1f} MiB, "
                        f"{r['retries']} retries")
            else:
                r = source_phase(sink, n, sz, c, name == "source_reuse", timeout)
                note = ""
            res[name].append(r)
            print(f"round {k + 1}/{rounds} {name:12} {r['rate']:6.0f} msg/s{note}", file=sys.stderr)
    print(f"{env('QUEUES')} queues ({m:,} messages on one, the others idle), then {hold} s idle", file=sys.stderr)
    res["queues"] = ingest_phase(sink, env("CONF_MANY"), env("LOG_MANY"), urls["busy"], m, timeout, hold)
    r = res["queues"]
    print(f"  {r['rate']:.0f} msg/s, VmHWM {r['idle']['vmhwm_kb'] / 1024:.1f} MiB, idle CPU "
          f"{r['idle']['cpu_ms_per_s']:.1f} ms/s", file=sys.stderr)
    res["meta"]["load_after"] = open("/proc/loadavg").read().split()[:3]
    with open(result_path, "w") as f: json.dump(res, f, indent=1)

# ---------------------------------------------------------------- report
def report(result_path, doc_path, png_path, gp_path, data_dir):
    res = json.load(open(result_path))
    meta, many = res["meta"], res["queues"]
    n, ncpu = meta["count"], meta["nproc"]
    med = statistics.median
    MiB = lambda kb: kb / 1024.0
    rate = {p: med([r["rate"] for r in res[p]]) for p in ("ingest", "source", "source_reuse", "emulator")}
    ceil_name = max(("source", "source_reuse"), key=lambda p: rate[p])
    ceil = rate[ceil_name]
    ing = res["ingest"]
    cpu = [r["cpu_us_per_msg"] for r in ing]
    hwm = max(r["vmhwm_kb"] for r in ing)
    # per round: sesame-ingest against the better smtp-source of the same round
    per_round = [100 * ing[k]["rate"] / max(res["source"][k]["rate"], res["source_reuse"][k]["rate"])
                 for k in range(meta["rounds"])]
    def machine_us(r): return 1e6 * r["usage"]["machine_busy_cores"] * r["seconds"] / n
    def fauxqs_us(r): return 1e6 * r["usage"]["fauxqs_cores"] * r["seconds"] / n
    def driver_us(r): return 1e6 * r["usage"]["driver_cores"] * r["seconds"] / n
    v = lambda ok: "**met**" if ok else "**NOT met**"
    rng = lambda xs, f="{:,.0f}": f"{f.format(min(xs))}–{f.format(max(xs))}"
    out = []
    w = out.append
    w(f"Run of {meta['date']}: {meta['rounds']} rounds of {n:,} messages per phase, phases rotated each round; "
      f"the message set is {meta['bytes'] / 1e6:,.0f} MB (mean {meta['mean_size'] / 1024:.0f} KiB, median "
      f"{meta['median_size'] / 1024:.0f} KiB, {meta['over_64k']:,} over 64 KiB, {meta['over_512k']:,} over 512 KiB, "
      f"largest {meta['max_size'] / 1024:.0f} KiB); concurrency {meta['concurrency']} everywhere.")
    w("")
    w("| phase (same messages, same Postfix port) | msg/s, median (min–max) | rounds, in order | MB/s | "
      "÷ best smtp-source | machine CPU per message | of which the client (sesame-ingest, smtp-source) | fauxqs | the rest (Postfix, sink) |")
    w("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    labels = {"ingest": "**sesame-ingest**: SQS + S3 → Postfix → sink",
              "source": "smtp-source → Postfix → sink, a connection per message",
              "source_reuse": "smtp-source -d → Postfix → sink, connections reused",
              "emulator": "emulator alone (Python client: receive 10, GET + copy each, delete-batch 10)"}
    for p in ("ingest", "source", "source_reuse", "emulator"):
        rs = res[p]
        mach = med([machine_us(r) for r in rs])
        fx = med([fauxqs_us(r) for r in rs])
        ses = med([r.get("cpu_us_per_msg", 0.0) for r in rs])
        rest = med([machine_us(r) - fauxqs_us(r) - driver_us(r) - (r.get("cpu_us_per_msg", 0.0)) for r in rs])
        if p == "emulator": rest = med([driver_us(r) for r in rs])  # the Python client itself
        each = ", ".join(f"{r['rate']:,.0f}" for r in rs)
        w(f"| {labels[p]} | **{rate[p]:,.0f}** ({rng([r['rate'] for r in rs])}) | {each} | {rate[p] * meta['mean_size'] / 1e6:,.1f} | "
          f"{100 * rate[p] / ceil:.1f} % | {mach:,.0f} µs | {f'{ses:,.0f} µs' if p != 'emulator' else '—'} | "
          f"{fx:,.0f} µs | {rest:,.0f} µs{' (the client)' if p == 'emulator' else ''} |")
    w("")
    w("| sesame-ingest | measured |")
    w("|---|---:|")
    w(f"| CPU per message (utime + stime, all threads), median (min–max) | **{med(cpu):,.0f} µs** ({rng(cpu)}) |")
    w(f"| CPU while draining | {med([r['sesame_cores'] for r in ing]):.2f} of {ncpu} cores |")
    if all("smtp_connections" in r for r in ing):
        w(f"| SMTP connections it opened to Postfix, median | {med([r['smtp_connections'] for r in ing]):,.0f} "
          f"for {n:,} messages |")
    w(f"| peak RSS (VmHWM), 1 queue, {n:,} messages (highest of the rounds) | **{MiB(hwm):.1f} MiB** |")
    w(f"| peak RSS (VmHWM), {meta['queues']} queues: {meta['rss_count']:,} messages on one, {meta['queues'] - 1} idle "
      f"long polls, then {many['idle']['seconds']:.0f} s with all {meta['queues']} idle | "
      f"**{MiB(many['idle']['vmhwm_kb']):.1f} MiB** (VmRSS at the end {MiB(many['idle']['vmrss_kb']):.1f} MiB, "
      f"{many['idle']['threads']} threads) |")
    w(f"| {meta['queues']} queues: drain rate, CPU per message | {many['rate']:,.0f} msg/s, {many['cpu_us_per_msg']:,.0f} µs |")
    w(f"| {meta['queues']} queues all idle: CPU of sesame-ingest, of fauxqs | {many['idle']['cpu_ms_per_s']:.1f} ms/s, "
      f"{many['idle']['fauxqs_cpu_ms_per_s']:.1f} ms/s |")
    w(f"| messages retried (temporary failures), all runs | {sum(r['retries'] for r in ing) + many['retries']} |")
    w("")
    t1 = rate["ingest"] >= 0.7 * ceil
    t2 = med(cpu) < 150
    t3 = many["idle"]["vmhwm_kb"] * 1024 < 64e6  # 64 MB = 61.0 MiB
    other = "source" if ceil_name == "source_reuse" else "source_reuse"
    w("| target (medians) | measured | |")
    w("|---|---|---|")
    w(f"| drain rate ≥ 70 % of the smtp-source ceiling | {100 * rate['ingest'] / ceil:.1f} % ({rate['ingest']:,.0f} vs "
      f"{ceil:,.0f} msg/s{', smtp-source -d' if ceil_name == 'source_reuse' else ''}); per round "
      f"{', '.join(f'{x:.0f} %' for x in per_round)}; {100 * rate['ingest'] / rate[other]:.1f} % of "
      f"{'smtp-source -d' if other == 'source_reuse' else 'smtp-source without -d'} | {v(t1)} |")
    src_cpu = {q: med([r.get("cpu_us_per_msg", 0.0) for r in res[q]]) for q in ("source", "source_reuse")}
    w(f"| sesame-ingest CPU < 150 µs per message | {med(cpu):,.0f} µs (for scale: smtp-source's own CPU for the "
      f"SMTP part alone, {src_cpu['source_reuse']:,.0f} µs with -d, {src_cpu['source']:,.0f} µs without) | {v(t2)} |")
    w(f"| < 64 MB RSS with {meta['queues']} queues | {MiB(many['idle']['vmhwm_kb']):.1f} MiB "
      f"({many['idle']['vmhwm_kb'] * 1024 / 1e6:.1f} MB) peak | {v(t3)} |")
    w("")
    w(f"![Messages delivered against time, each phase]({os.path.relpath(png_path, os.path.dirname(doc_path))})")
    w("")
    cmd = open(result_path + ".cmd").read().strip() if os.path.exists(result_path + ".cmd") else "bench/ingest_drain.sh"
    w(f"* Command: `{cmd}`")
    w(f"* Machine: {ncpu} CPUs, {meta['cpu']}, Linux {meta['kernel']}; load average "
      f"{', '.join(meta['load_before'])} before the run, {', '.join(meta['load_after'])} after")
    w(f"* Postfix {meta['postfix']}, fauxqs {meta['fauxqs']}; sesame-ingest {meta['binary']}, commit {meta['commit']}")
    w(f"* Filling the emulator (before the phases, not timed in them): {meta['fill_s3_s']:.0f} s for the S3 objects, "
      f"{meta['fill_sqs_s']:.0f} s for the notifications")
    block = "\n".join(out) + "\n"

    os.makedirs(data_dir, exist_ok=True)
    def median_round(p):
        rs = sorted(res[p], key=lambda r: r["rate"])
        return rs[(len(rs) - 1) // 2]
    for p in ("ingest", "source", "source_reuse", "emulator"):
        with open(f"{data_dir}/{p}.dat", "w") as f:
            for t, k in median_round(p)["progress"]: f.write(f"{t:.3f} {k}\n")
    with open(f"{data_dir}/rss.dat", "w") as f:
        for t, kb in median_round("ingest")["rss"]: f.write(f"{t:.3f} {kb / 1024:.2f}\n")
    with open(f"{data_dir}/rss_many.dat", "w") as f:
        for t, kb in many["rss"]: f.write(f"{t:.3f} {kb / 1024:.2f}\n")
    try:
        subprocess.run(["gnuplot", "-e", f"datadir='{data_dir}'; out='{png_path}'; "
                        f"subtitle='{meta['date'][:10]}, {n} msgs of 4 KB-1 MB, concurrency {meta['concurrency']}, "
                        f"{ncpu} cores'; queues={meta['queues']}", gp_path], check=True)
        drew = True
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no PNG ({e})", file=sys.stderr)
        drew = False
    begin, end = "<!-- ingest-drain -->", "<!-- /ingest-drain -->"
    text = open(doc_path).read() if os.path.exists(doc_path) else ""
    if begin in text and end in text:
        text = text[:text.index(begin) + len(begin)] + "\n" + block + text[text.index(end):]
        open(doc_path, "w").write(text)
        print(f"wrote the figures block of {doc_path}" + (f" and {png_path}" if drew else ""), file=sys.stderr)
    else:
        print(block)
        print(f"{doc_path} has no {begin} block: figures printed above", file=sys.stderr)

if __name__ == "__main__":
    what = sys.argv[1]
    if what == "fill": fill(sys.argv[2])
    elif what == "drive": drive(sys.argv[2], sys.argv[3])
    elif what == "report": report(*sys.argv[2:7])
PY
py() { python3 -c "$PY" "$@"; }

report() {
    py report "$1" "$doc" "$png" bench/ingest_drain.gnuplot "$OUT/plot"
}

if [ -n "$FROM_JSON" ]; then
    mkdir -p "$OUT"
    report "$FROM_JSON"
    exit
fi

[ "$(id -u)" -eq 0 ] || die "needs root (a throwaway Postfix, smtp-sink -u postfix)"
for tool in /usr/sbin/smtp-source /usr/sbin/smtp-sink /usr/sbin/postfix; do
    [ -x "$tool" ] || die "$tool is missing: run scripts/setup.sh (it installs Postfix)"
done
SESAME=$root/$BUILD/policy/cli/sesame
SESAME_INGEST=$root/$BUILD/aws/ingest/sesame-ingest
AWS_TOOL=$root/$BUILD/tests/aws_tool
for b in "$SESAME" "$SESAME_INGEST" "$AWS_TOOL"; do
    [ -x "$b" ] || die "$b is missing: build first (cmake --build $BUILD); this script never builds"
done
[[ $COUNT =~ ^[0-9]+$ && $COUNT -ge 10 ]] || die "--count must be a number >= 10"
[[ $QUEUES =~ ^[0-9]+$ && $QUEUES -ge 1 ]] || die "--queues must be a number >= 1"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "--rounds must be a number >= 1"
mkdir -p "$OUT"
echo "bench/ingest_drain.sh --count $COUNT --rounds $ROUNDS --concurrency $CONCURRENCY --queues $QUEUES --rss-count $RSS_COUNT" \
    "(HOLD=$HOLD)" >"$json.cmd"

# --- the scratch folder, ports, sinks; lib.sh's e2e_cleanup stops what is listed
source tests/integration/lib.sh
source scripts/emulators.sh
E2E=$(mktemp -d "${TMPDIR:-/tmp}/sesame-bench-ingest.XXXXXX")
chmod 755 "$E2E"
PIDS_FILE=$E2E/driver.pids  # what the Python driver starts (sesame-ingest, smtp-source)
: >"$PIDS_FILE"
DRIVER_PID=
cleanup() {
    local p
    if [ -n "$DRIVER_PID" ]; then kill "$DRIVER_PID" 2>/dev/null; wait "$DRIVER_PID" 2>/dev/null; fi
    # The driver's children, by PID, if the driver could not stop them.
    while read -r p; do
        [ -n "$p" ] && [ -e "/proc/$p" ] && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
            grep -q -e sesame-ingest -e smtp-source && kill -KILL "$p" 2>/dev/null
    done <"$PIDS_FILE"
    e2e_stop_postfix
    stop_emulators
    e2e_cleanup  # the sinks (E2E_PIDS), rm -rf $E2E
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

REINJECT_PORT=$(e2e_free_port) # the milter-less smtpd: where sesame-ingest and smtp-source deliver
LOCAL_PORT=$(e2e_free_port)    # smtp-sink for example.com, counting only (no dumps)
REMOTE_PORT=$(e2e_free_port)   # smtp-sink for anything else (nothing expected)
# shellcheck disable=SC2034 # read by lib.sh's e2e_start_postfix (listeners with milters, unused here)
SMTP_PORT=$(e2e_free_port) INET_SMTP_PORT=$(e2e_free_port) MILTER_INET_PORT=$(e2e_free_port)
MILTER_SOCKET=$E2E/milter/milter.sock
mkdir -p "$E2E/milter"
/usr/sbin/smtp-sink -u postfix -c "127.0.0.1:$LOCAL_PORT" 256 >"$E2E/sink.counts" 2>"$E2E/sink.err" &
E2E_PIDS+=($!)
/usr/sbin/smtp-sink -u postfix "127.0.0.1:$REMOTE_PORT" 256 >/dev/null 2>&1 &
E2E_PIDS+=($!)
e2e_wait_port "$LOCAL_PORT" && e2e_wait_port "$REMOTE_PORT" || die "smtp-sink did not start"

# --- the emulator
install_emulators || die "cannot install the npm emulators"
start_fauxqs "$E2E" || die "fauxqs did not start"
E2E_PIDS+=("$FAUXQS_PID")
FAUXQS_VERSION=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
    node_modules/fauxqs/package.json 2>/dev/null)

# --- the store (empty: every message is plain accepted mail) and the configurations
cat >"$E2E/sesame.conf" <<CONF
[store]
sqlite = "$E2E/policy.db"
[policy]
domains = ["example.com"]
[daemon]
user = "root"
[log]
target = "stderr"
level = "info"
CONF
export SESAME_CONFIG=$E2E/sesame.conf
"$SESAME" db init >/dev/null || die "sesame db init failed"
verdict=$("$SESAME" policy test --from sender1@friend.example --to "$RECIPIENT" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["recipients"][0]["verdict"])')
[ "$verdict" = deliver ] || die "the benchmark's mail must be plain accepted mail, policy test says: $verdict"

export COUNT ROUNDS QUEUES RSS_COUNT CONCURRENCY HOLD RECIPIENT BUCKET FAUXQS_PORT FAUXQS_PID PIDS_FILE
echo "filling fauxqs: $COUNT objects, 2 x $ROUNDS x $COUNT + $RSS_COUNT notifications, $QUEUES + $((2 * ROUNDS)) queues" >&2
py fill "$E2E/state.json" || die "filling the emulator failed"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL=http://127.0.0.1:$FAUXQS_PORT
url() { # url NAME [ROUND]; url idle: one a line
    python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["urls"][sys.argv[2]]
print(u[int(sys.argv[3])] if len(sys.argv) > 3 else u if isinstance(u, str) else "\n".join(u))' "$E2E/state.json" "$@"
}
# Checked with the project's own client, not the filler's.
check_count() { # URL WANT
    local got
    got=$("$AWS_TOOL" count "$1") || die "aws_tool count $1 failed"
    [ "$got" = "$2" ] || die "queue $1 holds $got messages, not $2"
}
for ((r = 0; r < ROUNDS; r++)); do
    check_count "$(url emulator $r)" "$COUNT"
    check_count "$(url ingest $r)" "$COUNT"
done
check_count "$(url busy)" "$RSS_COUNT"
"$AWS_TOOL" head $BUCKET inbound/000000 >/dev/null || die "aws_tool head: no object inbound/000000"
last=$(printf 'inbound/%06d' $(((COUNT > RSS_COUNT ? COUNT : RSS_COUNT) - 1)))
[ "$("$AWS_TOOL" head $BUCKET "$last")" != missing ] || die "no object $last"
echo "aws_tool count: $((2 * ROUNDS)) queues hold $COUNT notifications each, one $RSS_COUNT; objects present" >&2

ingest_conf() { # FILE URL [IDLE URLS...]
    local file=$1 url=$2 j=0 u
    shift 2
    cat "$E2E/sesame.conf" - >"$file" <<CONF
[aws]
endpoint = "$AWS_ENDPOINT_URL"
region = "us-east-1"
[outbound]
route = "smtp:127.0.0.1:$REINJECT_PORT"
[ingest]
concurrency = $CONCURRENCY
deliver_to = "smtp:127.0.0.1:$REINJECT_PORT"
[[ingest.queue]]
domain = "example.com"
url = "$url"
CONF
    for u in "$@"; do
        printf '[[ingest.queue]]\ndomain = "idle%02d.example.org"\nurl = "%s"\n' $j "$u" >>"$file"
        j=$((j + 1))
    done
    "$SESAME_INGEST" --config "$file" --check-config >/dev/null || die "sesame-ingest --check-config $file failed"
}
for ((r = 0; r < ROUNDS; r++)); do ingest_conf "$E2E/ingest-one-$r.conf" "$(url ingest $r)"; done
mapfile -t idle < <(url idle)
ingest_conf "$E2E/ingest-many.conf" "$(url busy)" "${idle[@]}"

# --- Postfix: lib.sh's instance (its milter-less smtpd on REINJECT_PORT)
e2e_start_postfix || die "postfix did not start"

COMMIT=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
BINARY_INFO="$(grep -m1 '^CMAKE_BUILD_TYPE' "$BUILD/CMakeCache.txt" | cut -d= -f2) build"
[ "$BINARY_INFO" = " build" ] && BINARY_INFO="RelWithDebInfo (the default) build"
BINARY_INFO="$BINARY_INFO of $(date -r "$SESAME_INGEST" '+%Y-%m-%d %H:%M')"
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
POSTFIX_VERSION=$(postconf -d -h mail_version 2>/dev/null)
export SESAME_INGEST REINJECT_PORT COMMIT BINARY_INFO CPU POSTFIX_VERSION FAUXQS_VERSION
export SINK_COUNTS=$E2E/sink.counts CONF_ONE=$E2E/ingest-one-%d.conf CONF_MANY=$E2E/ingest-many.conf
export LOG_ONE=$E2E/ingest-one-%d.log LOG_MANY=$E2E/ingest-many.log POSTFIX_LOG=$E2E/postfix/log/postfix.log
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
py drive "$json" "$E2E/state.json" &
DRIVER_PID=$!
wait "$DRIVER_PID"
rc=$?
DRIVER_PID=
for ((r = 0; r < ROUNDS; r++)); do cp "$E2E/ingest-one-$r.log" "$OUT/sesame-ingest-$r.log" 2>/dev/null; done
cp "$LOG_MANY" "$OUT/sesame-ingest-queues.log" 2>/dev/null
[ $rc -eq 0 ] || die "the run failed (logs in $OUT)"
[ -s "$E2E/sink.err" ] && echo "smtp-sink said: $(tail -3 "$E2E/sink.err")" >&2
report "$json"
