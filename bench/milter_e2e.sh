#!/usr/bin/env bash
# milter_e2e.sh - end-to-end throughput of the milter inside a real Postfix.
#
# Usage: bench/milter_e2e.sh                  (as root; about 6 minutes on 2 cores,
#                                              1 to 2 more the first time: the store)
#        ROUNDS=7 MESSAGES=6000 bench/milter_e2e.sh
#        bench/milter_e2e.sh --from-json FILE (only redraw the PNG and rewrite
#                                              the figures block of the doc)
#
# smtp-source -> Postfix -> smtp-sink on loopback, one throwaway Postfix
# (tests/integration/lib.sh) with one smtpd listener per configuration:
#
#   none      no milter (the listener lib.sh makes for reinjection)
#   minimal   bench/minimal_milter.c: sesame-milter's callbacks, accepts all
#   opendkim  OpenDKIM from Debian, verify mode
#   sesame    sesame-milter, store of PATTERNS block patterns and RULES
#             forward and out-of-office rules, log level info on stderr
#   sesame-notice  the same milter and store at log level notice (no line
#             per message), to price the per-message log line
#   sesame-alt     only when SESAME_MILTER_ALT names another sesame-milter
#             binary (a patched build to compare in the same run): that
#             binary, same store, log level info; add it to CONFIGS
#
# All milters run for the whole run on unix sockets; only the port that
# smtp-source talks to changes. Each round sends MESSAGES messages
# (smtp-source -s SESSIONS -m MESSAGES -l SIZE, one connection per message)
# and is timed from smtp-source's start to the moment smtp-sink (-c
# counters) has received them all. A warm-up round of WARMUP messages per
# configuration is not counted; then ROUNDS rounds, round-robin, the order
# rotated each round. Latency: one session (a Python SMTP client), LATENCY
# messages per configuration interleaved one by one, each timed from
# connect to the 250 after the final dot.
#
# Writes $BUILD/milter_e2e/results.json (the command in results.json.cmd),
# docs/milter-throughput.png (gnuplot) and the block between the
# "milter-e2e" markers of docs/benchmarks.md. Not a test: nothing registers
# it with CTest. Needs root (a throwaway Postfix, smtp-sink -u postfix);
# installs gnuplot-nox and opendkim when missing (bench-only dependencies).
# Everything it starts is stopped by PID or `postfix stop` on exit.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
BUILD=${BUILD:-build-bench-e2e}
ROUNDS=${ROUNDS:-7}
MESSAGES=${MESSAGES:-3000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-2048}
WARMUP=${WARMUP:-500}
LATENCY=${LATENCY:-400}
PATTERNS=${PATTERNS:-100000}
RULES=${RULES:-10000}
CONFIGS=${CONFIGS:-none minimal opendkim sesame sesame-notice}
SENDER=${SENDER:-newsletter@news.bench-sender.com}
RECIPIENT=${RECIPIENT:-alex.morgan@example.com}
out=$BUILD/milter_e2e
json=$out/results.json
doc=docs/benchmarks.md
png=docs/milter-throughput.png

die() {
    echo "milter_e2e: $*" >&2
    exit 1
}

# --- the Python half: store generator, round driver, latency client, report
read -r -d '' PY <<'PY'
import json, os, random, re, signal, smtplib, statistics, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

def env(name):
    return os.environ[name]

# ---------------------------------------------------------------- store
# The blocklist mix of bench/patterns.hpp (same shapes and key classes, its
# own PRNG): 40 % exact, 30 % *@domain, 15 % *@*.domain, 15 % prefix*@domain;
# half under "*", 35 % under "@example.com", 15 % under ~30-row mailboxes,
# the benchmark's recipient among them.
FREEMAIL = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "mail.ru", "qq.com", "gmx.de", "aol.com",
            "yandex.ru", "icloud.com"]
ROLES = ["info", "sales", "news", "newsletter", "promo", "offers", "deals", "support", "billing", "market",
         "marketing", "noreply", "mailer", "bounce", "notify", "updates", "admin", "contact", "hello", "team"]
TLDS = ["com", "com", "com", "com", "com", "net", "org", "info", "biz", "ru", "cn", "de", "xyz", "co.uk"]

def make_store(sesame, work, n, rules, recipient, sender):
    r = random.Random(20261122)
    def word(lo, hi):
        w = "".join(r.choice("bcdfghjklmnprstvz") + r.choice("aeiou") for _ in range(r.randint(lo, hi)))
        return w + (r.choice("bcdfghjklmnprstvz") if r.random() < 0.3 else "")
    def local_part():
        s = r.randrange(100)
        if s < 35: return word(2, 3) + "." + word(2, 3)
        if s < 55: return word(2, 3) + word(1, 1)[0] + str(r.randrange(100))
        if s < 75: return word(2, 4) + str(r.randrange(10000))
        if s < 90: return r.choice(ROLES) + (str(r.randrange(100)) if r.random() < 0.5 else "")
        return word(3, 4)
    def domain():
        d = word(2, 4)
        if r.random() < 0.3: d += "-" + word(2, 3)
        return d + "." + r.choice(TLDS)
    def shuffled(counts):
        v = []
        for value, count in counts: v += [value] * min(count, n - len(v))
        r.shuffle(v)
        return v
    kinds = shuffled([(0, n * 40 // 100), (1, n * 30 // 100), (2, n * 15 // 100), (3, n)])
    classes = shuffled([(0, n // 2), (1, n * 35 // 100), (2, n)])
    users = [recipient]
    while len(users) < max(1, min(n // 200, 5000)):
        u = word(2, 3) + "." + word(2, 3) + "@example.com"
        if u not in users: users.append(u)
    by_key, seen = {}, set()
    for i in range(n):
        key = "*" if classes[i] == 0 else "@example.com" if classes[i] == 1 else r.choice(users)
        while True:
            k = kinds[i]
            if k == 0: p = local_part() + "@" + (r.choice(FREEMAIL) if r.random() < 0.3 else domain())
            elif k == 1: p = "*@" + domain()
            elif k == 2: p = "*@*." + domain()
            else: p = (r.choice(ROLES) if r.random() < 0.5 else word(2, 3)) + "*@" + \
                      (r.choice(FREEMAIL) if r.random() < 0.2 else domain())
            if (key, p) not in seen:
                seen.add((key, p))
                by_key.setdefault(key, []).append(p)
                break
    os.makedirs(f"{work}/patterns", exist_ok=True)
    jobs = []
    for j, (key, pats) in enumerate(sorted(by_key.items())):
        path = f"{work}/patterns/{j}.txt"
        with open(path, "w") as f: f.write("\n".join(pats) + "\n")
        jobs.append([sesame, "block", "import", key, path])
    # Rules on other mailboxes of the recipient's domain: half forwards
    # (internal and external redirects, some resends), half out of office.
    mailboxes, taken = [], set(users)
    while len(mailboxes) < rules:
        m = word(2, 3) + "." + word(2, 4) + str(r.randrange(100)) + "@example.com"
        if m not in taken:
            taken.add(m)
            mailboxes.append(m)
    for i, m in enumerate(mailboxes):
        if i % 2 == 0:
            c = r.randrange(10)
            target = (word(2, 3) + "@example.com") if c < 5 else (local_part() + "@" + domain())
            cmd = [sesame, "forward", "set", m, target]
            if c == 9: cmd += ["--mode", "resend"]
            elif c == 8: cmd += ["--no-keep-copy"]
        else:
            cmd = [sesame, "ooo", "set", m, "--subject", "Away", "--text", "I am away until Monday.",
                   "--until", "2099-01-01"]
        jobs.append(cmd)
    def run(cmd):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0: raise SystemExit(f"{' '.join(cmd)}: {p.stderr.strip()}")
    with ThreadPoolExecutor(4) as pool: list(pool.map(run, jobs))
    print(f"store: {n:,} patterns under {len(by_key)} keys ({len(by_key.get(recipient, []))} on the recipient's "
          f"own key), {rules:,} rules", file=sys.stderr)

# ---------------------------------------------------------------- rounds
class Sink:
    def __init__(self, path): self.path = path
    def count(self):
        with open(self.path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 120))
            m = re.findall(rb"mesg=(\d+)", f.read())
        return int(m[-1]) if m else 0

child = None
def on_term(*_):
    if child and child.poll() is None: child.kill()
    raise SystemExit(143)

def one_round(sink, port, n, sessions, size, timeout=300.0):
    """Messages per second, from smtp-source's start to the sink's n-th message."""
    global child
    base = sink.count()
    t0 = time.monotonic()
    child = subprocess.Popen(["/usr/sbin/smtp-source", "-s", str(sessions), "-m", str(n), "-l", str(size),
                              "-M", "client.bench.test", "-f", env("SENDER"), "-t", env("RECIPIENT"),
                              f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client_done = None
    while True:
        got = sink.count() - base
        if client_done is None and child.poll() is not None:
            client_done = time.monotonic()
            if child.returncode != 0:
                raise SystemExit(f"smtp-source failed on port {port}: {child.stderr.read().decode().strip()}")
        if got >= n: break
        if time.monotonic() - t0 > timeout: raise SystemExit(f"port {port}: only {got} of {n} messages in {timeout} s")
        time.sleep(0.01)
    t1 = time.monotonic()
    child.wait()
    if client_done is None: client_done = time.monotonic()
    return n / (t1 - t0), n / (client_done - t0)

def message(i):
    body = "".join(f"line {k:03d} of the benchmark message, the same for every configuration........\r\n"
                   for k in range(int(env("SIZE")) // 80 + 1))[:int(env("SIZE"))]
    return (f"From: <{env('SENDER')}>\r\nTo: <{env('RECIPIENT')}>\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
            f"Message-Id: <lat{i}.{time.time_ns()}@client.bench.test>\r\nSubject: latency {i}\r\n\r\n{body}").encode()

def one_message(port, i):
    """Milliseconds from connect to the 250 after the final dot."""
    t0 = time.perf_counter()
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.bench.test", timeout=60)
    s.ehlo()
    s.mail(env("SENDER"))
    code, _ = s.rcpt(env("RECIPIENT"))
    if code != 250: raise SystemExit(f"port {port}: RCPT answered {code}")
    code, reply = s.data(message(i))
    t1 = time.perf_counter()
    if code != 250: raise SystemExit(f"port {port}: DATA answered {code} {reply}")
    s.quit()
    return (t1 - t0) * 1000.0

def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)

TICK = os.sysconf("SC_CLK_TCK")

def cpu_seconds(pid):
    """utime + stime of process PID (all its threads); 0 without a process."""
    if not pid: return 0.0
    with open(f"/proc/{pid}/stat") as f: fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK

def drive(result_path):
    signal.signal(signal.SIGTERM, on_term)
    triples = json.loads(env("CONFIG_PORTS"))  # [[name, port, milter pid or 0], ...]
    configs = [(c, port) for c, port, _ in triples]
    pid = {c: p for c, _, p in triples}
    sink = Sink(env("SINK_COUNTS"))
    rounds, n = int(env("ROUNDS")), int(env("MESSAGES"))
    sessions, size = int(env("SESSIONS")), int(env("SIZE"))
    res = {"configs": [c for c, _ in configs], "rates": {c: [] for c, _ in configs},
           "client_rates": {c: [] for c, _ in configs}, "order": [], "latency_ms": {c: [] for c, _ in configs},
           "milter_cpu_ms": {c: [] for c, _ in configs}}
    load0 = open("/proc/loadavg").read().split()[:3]
    for name, port in configs:
        r, _ = one_round(sink, port, int(env("WARMUP")), sessions, size)
        print(f"warm-up {name:14} {r:7.1f} msg/s", file=sys.stderr)
    for k in range(rounds):
        order = configs[k % len(configs):] + configs[:k % len(configs)]
        res["order"].append([c for c, _ in order])
        for name, port in order:
            time.sleep(0.5)  # let the previous round's processes go idle
            cpu0 = cpu_seconds(pid[name])
            r, rc = one_round(sink, port, n, sessions, size)
            cpu = (cpu_seconds(pid[name]) - cpu0) * 1000.0 / n  # ms of milter CPU per message
            res["rates"][name].append(r)
            res["client_rates"][name].append(rc)
            res["milter_cpu_ms"][name].append(cpu)
            print(f"round {k + 1}/{rounds} {name:14} {r:7.1f} msg/s (client done at {rc:7.1f} msg/s), "
                  f"milter CPU {cpu:.3f} ms/msg", file=sys.stderr)
    time.sleep(1.0)
    m = int(env("LATENCY"))
    for name, port in configs: one_message(port, -1)  # a connection each, not counted
    for i in range(m):
        for name, port in configs[i % len(configs):] + configs[:i % len(configs)]:
            res["latency_ms"][name].append(one_message(port, i))
    for name, _ in configs:
        v = res["latency_ms"][name]
        print(f"latency {name:14} median {statistics.median(v):6.2f} ms  p99 {pct(v, 99):6.2f} ms", file=sys.stderr)
    res["meta"] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rounds": rounds, "messages": n, "sessions": sessions,
        "size": size, "warmup": int(env("WARMUP")), "latency_messages": m, "patterns": int(env("PATTERNS")),
        "rules": int(env("RULES")), "sender": env("SENDER"), "recipient": env("RECIPIENT"),
        "load_before": load0, "load_after": open("/proc/loadavg").read().split()[:3],
        "nproc": os.cpu_count(), "kernel": os.uname().release, "cpu": env("CPU"),
        "postfix": env("POSTFIX_VERSION"), "opendkim": env("OPENDKIM_VERSION"), "libmilter": env("LIBMILTER_VERSION"),
        "commit": env("COMMIT"), "tree": env("TREE")}
    with open(result_path, "w") as f: json.dump(res, f, indent=1)

# ---------------------------------------------------------------- report
LABELS = {"none": "no milter", "minimal": "minimal C milter", "opendkim": "OpenDKIM (verify)",
          "sesame": "sesame-milter", "sesame-notice": "sesame-milter, log level notice",
          "sesame-alt": "sesame-milter, alternative build"}
SHORT = {"none": "no milter", "minimal": "minimal", "opendkim": "OpenDKIM", "sesame": "sesame",
         "sesame-notice": "sesame (notice)", "sesame-alt": "sesame (alt. build)"}

def report(result_path, doc_path, png_path, gp_path, data_dir):
    res = json.load(open(result_path))
    meta, configs = res["meta"], res["configs"]
    med = {c: statistics.median(res["rates"][c]) for c in configs}
    cpu_ms = res.get("milter_cpu_ms", {})
    cmed = {c: statistics.median(v) for c, v in cpu_ms.items() if v}
    lat = {c: (statistics.median(res["latency_ms"][c]), pct(res["latency_ms"][c], 99)) for c in configs}
    def ratio(c, ref): return med[c] / med[ref] if ref in med else None
    def fr(x): return "—" if x is None else f"{100 * x:.1f} %"
    out = []
    w = out.append
    w(f"Run of {meta['date']}: {meta['rounds']} rounds of {meta['messages']:,} messages per configuration "
      f"(`smtp-source -s {meta['sessions']} -m {meta['messages']} -l {meta['size']}`), after a warm-up round of "
      f"{meta['warmup']} each; store of {meta['patterns']:,} block patterns and {meta['rules']:,} rules.")
    w("")
    w("| configuration | msg/s, median (min–max) | rounds, in order | ÷ minimal milter | ÷ no milter "
      "| milter CPU per message, median (min–max) |")
    w("|---|---:|---|---:|---:|---:|")
    for c in configs:
        v = res["rates"][c]
        cv = cpu_ms.get(c) or []
        cpu = f"{statistics.median(cv):.2f} ms ({min(cv):.2f}–{max(cv):.2f})" if cv and c != "none" else "—"
        w(f"| {LABELS.get(c, c)} | **{med[c]:.0f}** ({min(v):.0f}–{max(v):.0f}) | {', '.join(f'{x:.0f}' for x in v)} "
          f"| {fr(ratio(c, 'minimal'))} | {fr(ratio(c, 'none'))} | {cpu} |")
    w("")
    w(f"Latency, one session, {meta['latency_messages']} messages per configuration interleaved one by one, "
      "from connect to the `250` after the final dot:")
    w("")
    w("| configuration | median | p99 | added over no milter, median | added, p99 |")
    w("|---|---:|---:|---:|---:|")
    for c in configs:
        m, p = lat[c]
        am = f"{m - lat['none'][0]:+.2f} ms" if "none" in lat and c != "none" else "—"
        ap = f"{p - lat['none'][1]:+.2f} ms" if "none" in lat and c != "none" else "—"
        w(f"| {LABELS.get(c, c)} | {m:.2f} ms | {p:.2f} ms | {am} | {ap} |")
    w("")
    if all(c in med for c in ("sesame", "minimal", "opendkim")):
        t1 = med["sesame"] >= 0.95 * med["minimal"]
        t2 = med["sesame"] > med["opendkim"]
        v = lambda ok: "**met**" if ok else "**NOT met**"
        w("| target (same run, medians) | measured | |")
        w("|---|---|---|")
        w(f"| sesame-milter ≥ 95 % of the minimal milter | {fr(ratio('sesame', 'minimal'))} "
          f"({med['sesame']:.0f} vs {med['minimal']:.0f} msg/s) | {v(t1)} |")
        w(f"| sesame-milter ahead of OpenDKIM | {med['sesame']:.0f} vs {med['opendkim']:.0f} msg/s "
          f"({fr(ratio('sesame', 'opendkim'))}) | {v(t2)} |")
        if all(c in cmed for c in ("sesame", "minimal", "opendkim")):
            w(f"| (not a target: milter CPU per message, medians) | sesame-milter {cmed['sesame']:.2f} ms, "
              f"minimal {cmed['minimal']:.2f} ms ({cmed['sesame'] - cmed['minimal']:+.2f}), OpenDKIM "
              f"{cmed['opendkim']:.2f} ms ({cmed['sesame'] - cmed['opendkim']:+.2f}) | |")
        w("")
    w(f"![Throughput and latency per configuration]({os.path.relpath(png_path, os.path.dirname(doc_path))})")
    w("")
    w(f"* Command: `{open(result_path + '.cmd').read().strip() if os.path.exists(result_path + '.cmd') else 'bench/milter_e2e.sh'}`")
    w(f"* Machine: {meta['nproc']} CPUs, {meta['cpu']}, Linux {meta['kernel']}; load average "
      f"{', '.join(meta['load_before'])} before the run, {', '.join(meta['load_after'])} after")
    w(f"* Postfix {meta['postfix']}, libmilter {meta['libmilter']}, {meta['opendkim']}; "
      f"sesame-milter Release build, commit {meta['commit']}"
      + (f" with uncommitted changes to {meta['tree']}" if meta.get("tree") else " (no uncommitted change to milter/ or policy/)"))
    block = "\n".join(out) + "\n"

    # gnuplot: throughput medians with min-max bars and every round, latency.
    os.makedirs(data_dir, exist_ok=True)
    with open(f"{data_dir}/throughput.dat", "w") as f:
        for i, c in enumerate(configs):
            v = res["rates"][c]
            f.write(f'{i} "{SHORT.get(c, c)}" {med[c]:.1f} {min(v):.1f} {max(v):.1f}\n')
    with open(f"{data_dir}/rounds.dat", "w") as f:
        for i, c in enumerate(configs):
            for x in res["rates"][c]: f.write(f"{i} {x:.1f}\n")
    with open(f"{data_dir}/latency.dat", "w") as f:
        for i, c in enumerate(configs):
            f.write(f'{i} "{SHORT.get(c, c)}" {lat[c][0]:.3f} {lat[c][1]:.3f}\n')
    subprocess.run(["gnuplot", "-e", f"datadir='{data_dir}'; out='{png_path}'; "
                    f"subtitle='{meta['date'][:10]}, {meta['rounds']} rounds x {meta['messages']} msgs, "
                    f"{meta['nproc']} cores'", gp_path], check=True)

    begin, end = "<!-- milter-e2e -->", "<!-- /milter-e2e -->"
    text = open(doc_path).read() if os.path.exists(doc_path) else ""
    if begin in text and end in text:
        text = text[:text.index(begin) + len(begin)] + "\n" + block + text[text.index(end):]
        open(doc_path, "w").write(text)
        print(f"wrote the figures block of {doc_path} and {png_path}", file=sys.stderr)
    else:
        print(block)
        print(f"{doc_path} has no {begin} block: figures printed above; wrote {png_path}", file=sys.stderr)

if __name__ == "__main__":
    what = sys.argv[1]
    if what == "store": make_store(*sys.argv[2:4], int(sys.argv[4]), int(sys.argv[5]), *sys.argv[6:8])
    elif what == "drive": drive(sys.argv[2])
    elif what == "report": report(*sys.argv[2:7])
PY
py() { python3 -c "$PY" "$@"; }

report() {
    command -v gnuplot >/dev/null || install_bench_packages
    py report "$1" "$doc" "$png" bench/milter_e2e.gnuplot "$out/plot"
}

install_bench_packages() {
    # Bench-only dependencies, installed like scripts/lib.sh installs the
    # project's: only what is missing, no recommends.
    local p missing=()
    for p in gnuplot-nox opendkim; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "milter_e2e: installing ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "cannot install ${missing[*]}"
}

if [[ ${1:-} == --from-json ]]; then
    mkdir -p "$out"
    report "${2:?--from-json needs a file}"
    exit
fi

[ "$(id -u)" -eq 0 ] || die "needs root (a throwaway Postfix, smtp-sink -u postfix)"
install_bench_packages
for tool in /usr/sbin/smtp-source /usr/sbin/smtp-sink /usr/sbin/postfix; do
    [ -x "$tool" ] || die "$tool is missing: run scripts/setup.sh (it installs Postfix)"
done

# --- build
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSESAME_TESTS=OFF >/dev/null || die "cmake failed"
fi
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Uncommitted changes to what the milters are built from, as built.
TREE=$(git status --porcelain -- milter policy bench/minimal_milter.c 2>/dev/null | awk '{print $2}' | paste -sd' ')
export COMMIT TREE
cmake --build "$BUILD" --target minimal_milter sesame-milter sesame >/dev/null || die "build failed"
SESAME=$root/$BUILD/policy/cli/sesame
SESAME_MILTER=$root/$BUILD/milter/sesame-milter
MINIMAL=$root/$BUILD/bench/minimal_milter
mkdir -p "$out"
echo "ROUNDS=$ROUNDS MESSAGES=$MESSAGES SESSIONS=$SESSIONS SIZE=$SIZE WARMUP=$WARMUP LATENCY=$LATENCY" \
    "PATTERNS=$PATTERNS RULES=$RULES CONFIGS=\"$CONFIGS\"${SESAME_MILTER_ALT:+ SESAME_MILTER_ALT=$SESAME_MILTER_ALT}" \
    "bench/milter_e2e.sh" >"$json.cmd"

# --- the scratch folder, ports, sink; lib.sh's cleanup stops what is listed
source tests/integration/lib.sh
E2E=$(mktemp -d "${TMPDIR:-/tmp}/sesame-bench-e2e.XXXXXX")
chmod 755 "$E2E"
DRIVER_PID=
cleanup() {
    [ -n "$DRIVER_PID" ] && kill "$DRIVER_PID" 2>/dev/null && wait "$DRIVER_PID" 2>/dev/null
    e2e_stop_postfix
    e2e_cleanup  # sesame-milter, the PIDs in E2E_PIDS (sinks, milters), rm -rf $E2E
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SMTP_PORT=$(e2e_free_port)     # sesame-milter
REINJECT_PORT=$(e2e_free_port) # no milter
LOCAL_PORT=$(e2e_free_port)    # smtp-sink, counting
REMOTE_PORT=$(e2e_free_port)   # smtp-sink for anything else (nothing expected)
MINIMAL_PORT=$(e2e_free_port)
DKIM_PORT=$(e2e_free_port)
NOTICE_PORT=$(e2e_free_port)
ALT_PORT=$(e2e_free_port)
# shellcheck disable=SC2034 # read by lib.sh's e2e_start_postfix (a listener with an inet milter, unused here)
INET_SMTP_PORT=$(e2e_free_port) MILTER_INET_PORT=$(e2e_free_port)
MILTER_SOCKET=$E2E/milter/milter.sock
MINIMAL_SOCKET=$E2E/milter/minimal.sock
NOTICE_SOCKET=$E2E/milter/notice.sock
ALT_SOCKET=$E2E/milter/alt.sock
DKIM_SOCKET=$E2E/opendkim/opendkim.sock
mkdir -p "$E2E/milter" "$E2E/opendkim"
chgrp postfix "$E2E/milter" && chmod 750 "$E2E/milter"
chown postfix:postfix "$E2E/opendkim" && chmod 750 "$E2E/opendkim"
/usr/sbin/smtp-sink -u postfix -c "127.0.0.1:$LOCAL_PORT" 256 >"$E2E/sink.counts" 2>"$E2E/sink.err" &
E2E_PIDS+=($!)
/usr/sbin/smtp-sink -u postfix "127.0.0.1:$REMOTE_PORT" 256 >/dev/null 2>&1 &
E2E_PIDS+=($!)

# --- the store and sesame-milter's configuration (as lib.sh writes it, but
# log level info, the default: one line per recipient decision)
sesame_conf() { # FILE SOCKET LEVEL
    cat >"$1" <<CONF
[store]
sqlite = "$E2E/policy.db"
[policy]
domains = ["example.com", "example.net"]
[milter]
socket = "unix:$2"
reinject = "smtp:127.0.0.1:$REINJECT_PORT"
[srs]
domain = "example.com"
secret_file = "$E2E/srs.secret"
[daemon]
user = "root"
[log]
target = "stderr"
level = "$3"
CONF
}
sesame_conf "$E2E/sesame.conf" "$MILTER_SOCKET" info
sesame_conf "$E2E/sesame-notice.conf" "$NOTICE_SOCKET" notice
sesame_conf "$E2E/sesame-alt.conf" "$ALT_SOCKET" info
head -c 24 /dev/urandom | base64 >"$E2E/srs.secret"
chmod 600 "$E2E/srs.secret"  # the daemons refuse a secret others can read
chmod 600 "$E2E/srs.secret"
export SESAME_CONFIG=$E2E/sesame.conf
# Building the store takes about a minute (10,000 `sesame forward|ooo set`
# runs): it is kept in $out and copied for the next run with the same
# parameters (FRESH_STORE=1 builds it again; `db init` upgrades a copy made
# by an older schema).
cached=$out/store-$PATTERNS-$RULES-$(echo "$RECIPIENT $SENDER v1" | md5sum | cut -c1-8).db
if [[ -f $cached && ${FRESH_STORE:-0} != 1 ]]; then
    cp "$cached" "$E2E/policy.db"
    "$SESAME" db init >/dev/null || die "sesame db init failed on the cached store"
    echo "store: the copy kept in $cached" >&2
else
    "$SESAME" db init >/dev/null || die "sesame db init failed"
    start=$(date +%s)
    py store "$SESAME" "$E2E" "$PATTERNS" "$RULES" "$RECIPIENT" "$SENDER" || die "building the store failed"
    echo "store built in $(($(date +%s) - start)) s" >&2
    sqlite3 "$E2E/policy.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null 2>&1
    cp "$E2E/policy.db" "$cached.tmp" && mv "$cached.tmp" "$cached"
fi
counts=$(sqlite3 "$E2E/policy.db" "SELECT (SELECT count(*) FROM blocks), (SELECT count(*) FROM forwards) + (SELECT count(*) FROM ooo)")
[ "$counts" = "$PATTERNS|$RULES" ] || die "the store holds $counts patterns|rules, not $PATTERNS|$RULES"
verdict=$("$SESAME" policy test --from "$SENDER" --to "$RECIPIENT" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["recipients"][0]["verdict"], len(d["recipients"][0]["actions"]))')
[ "$verdict" = "deliver 0" ] || die "the benchmark's mail must be plain accepted mail, policy test says: $verdict"

# --- Postfix: lib.sh's instance, plus a listener per milter
e2e_start_postfix || die "postfix did not start"
cat >>"$E2E/postfix/conf/master.cf" <<CF
127.0.0.1:$MINIMAL_PORT inet n - n - - smtpd -o smtpd_milters=unix:$MINIMAL_SOCKET
127.0.0.1:$DKIM_PORT inet n - n - - smtpd -o smtpd_milters=unix:$DKIM_SOCKET
127.0.0.1:$NOTICE_PORT inet n - n - - smtpd -o smtpd_milters=unix:$NOTICE_SOCKET
127.0.0.1:$ALT_PORT inet n - n - - smtpd -o smtpd_milters=unix:$ALT_SOCKET
CF
script -qec "postfix -c $E2E_POSTFIX_CONF reload" /dev/null >/dev/null || die "postfix reload failed"
for p in $MINIMAL_PORT $DKIM_PORT $NOTICE_PORT $ALT_PORT; do e2e_wait_port "$p" || die "port $p"; done

# --- the milters
wait_socket() { # PATH PID NAME
    local _
    for _ in $(seq 1 200); do
        [ -S "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || die "$3 died: $(tail -5 "$E2E/$3.log")"
        sleep 0.05
    done
    die "$3 did not create $1"
}
e2e_start_milter || die "sesame-milter did not start"
"$SESAME_MILTER" --config "$E2E/sesame-notice.conf" 2>>"$E2E/sesame-notice.log" &
NOTICE_PID=$!
E2E_PIDS+=("$NOTICE_PID")
wait_socket "$NOTICE_SOCKET" "$NOTICE_PID" sesame-notice
ALT_PID=
if [ -n "${SESAME_MILTER_ALT:-}" ]; then
    "$SESAME_MILTER_ALT" --config "$E2E/sesame-alt.conf" 2>>"$E2E/sesame-alt.log" &
    ALT_PID=$!
    E2E_PIDS+=("$ALT_PID")
    wait_socket "$ALT_SOCKET" "$ALT_PID" sesame-alt
fi
"$MINIMAL" "unix:$MINIMAL_SOCKET" 2>>"$E2E/minimal.log" &
MINIMAL_PID=$!
E2E_PIDS+=("$MINIMAL_PID")
wait_socket "$MINIMAL_SOCKET" "$MINIMAL_PID" minimal
# OpenDKIM, verify only. InternalHosts is set away from 127.0.0.1 (its
# default), or mail from smtp-source would count as internal (to be signed)
# rather than verified. No syslog on this machine: Syslog no. Unsigned mail
# needs no DNS lookup.
cat >"$E2E/opendkim.conf" <<CONF
Mode                    v
Socket                  local:$DKIM_SOCKET
UserID                  postfix:postfix
UMask                   007
Background              no
Syslog                  no
InternalHosts           192.0.2.1
Canonicalization        relaxed/simple
DNSTimeout              5
CONF
/usr/sbin/opendkim -f -x "$E2E/opendkim.conf" 2>>"$E2E/opendkim.log" &
DKIM_PID=$!
E2E_PIDS+=("$DKIM_PID")
wait_socket "$DKIM_SOCKET" "$DKIM_PID" opendkim

declare -A PORT=([none]=$REINJECT_PORT [minimal]=$MINIMAL_PORT [opendkim]=$DKIM_PORT [sesame]=$SMTP_PORT
    [sesame-notice]=$NOTICE_PORT)
declare -A PID=([minimal]=$MINIMAL_PID [opendkim]=$DKIM_PID [sesame]=$E2E_MILTER_PID [sesame-notice]=$NOTICE_PID)
if [ -n "$ALT_PID" ]; then PORT[sesame-alt]=$ALT_PORT; PID[sesame-alt]=$ALT_PID; fi
ports=()
for c in $CONFIGS; do
    [ -n "${PORT[$c]:-}" ] || die "unknown configuration $c (none minimal opendkim sesame sesame-notice; sesame-alt with SESAME_MILTER_ALT)"
    ports+=("[\"$c\", ${PORT[$c]}, ${PID[$c]:-0}]")
done
CONFIG_PORTS="[$(IFS=,; echo "${ports[*]}")]"

# One message through each, and sesame-milter must have seen it.
for c in $CONFIGS; do
    /usr/sbin/smtp-source -m 1 -l 100 -M client.bench.test -f "$SENDER" -t "$RECIPIENT" "127.0.0.1:${PORT[$c]}" ||
        die "$c: smtp-source failed"
done
if [[ " $CONFIGS " == *" sesame "* ]]; then
    for _ in $(seq 1 100); do
        grep -q "verdict=deliver" "$E2E/milter.log" && break
        sleep 0.1
    done
    grep -q "verdict=deliver" "$E2E/milter.log" || die "sesame-milter logged no decision: $(tail -5 "$E2E/milter.log")"
fi

# --- the rounds and the latency
export SENDER RECIPIENT ROUNDS MESSAGES SESSIONS SIZE WARMUP LATENCY PATTERNS RULES CONFIG_PORTS
export SINK_COUNTS=$E2E/sink.counts
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
POSTFIX_VERSION=$(postconf -d -h mail_version 2>/dev/null)
OPENDKIM_VERSION=$(/usr/sbin/opendkim -V 2>/dev/null | head -1 | sed 's/^opendkim: //')
LIBMILTER_VERSION=$(pkg-config --modversion milter 2>/dev/null)
export CPU POSTFIX_VERSION OPENDKIM_VERSION LIBMILTER_VERSION
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
py drive "$json" &
DRIVER_PID=$!
wait "$DRIVER_PID" || die "the run failed"
DRIVER_PID=
[ -s "$E2E/sink.err" ] && echo "smtp-sink said: $(tail -3 "$E2E/sink.err")" >&2
cp "$E2E/milter.log" "$out/sesame-milter.log" 2>/dev/null
report "$json"
