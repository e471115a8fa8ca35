#!/usr/bin/env bash
# Soak: mixed traffic through a real TUN device with 1 % loss each way, for SECS seconds.
#   tools/soak.sh [SECS]          default 600 (make soak); tests/soak_short.rs runs 45 s
# Env: TUNSTACK_BIN (default target/release/tunstack), SOAK_LOSS (default 1%).
# Runs in its own network namespace ts-soak-<pid> (deleted on exit, also on failure or Ctrl-C);
# needs root, python3, curl and socat. Traffic, all at once from the kernel side:
#   bulk      curl: POST /sink of 1-4 MB random bodies (the server's sha256 must match) and
#             GET /bytes/N (every download must hash the same as the first)
#   echo      socat: 256 KB random files through the echo service, sha256 both ends
#   churn     python: short connections (connect, 100 bytes echoed, close), back to back
#   udp       python: UDP echo datagrams; every reply must equal its request (losses counted)
# Samples tunstack's VmRSS and open fds every 2 s. Fails (exit 1) on any corrupted byte, on
# resident memory growth after warm-up (the first third) beyond 50 % + 16 MiB, on any fd
# growth, when a kind of traffic made no progress, or when more than 5 % of operations failed.
set -euo pipefail
secs=${1:-600}
cd "$(dirname "$0")/.."
bin=${TUNSTACK_BIN:-target/release/tunstack}
loss=${SOAK_LOSS:-1%}
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: soak: needs root for a network namespace and a TUN device" >&2
    exit 0
fi
for t in ip python3 curl socat; do
    command -v "$t" >/dev/null || { echo "SKIPPED: soak: needs $t" >&2; exit 0; }
done
[ -x "$bin" ] || { echo "soak: no binary $bin (cargo build --release)" >&2; exit 1; }
ns="ts-soak-$$"
tmp=$(mktemp -d)
tspid=""
cleanup() {
    if [ -n "$tspid" ] && kill -0 "$tspid" 2>/dev/null; then
        kill -TERM "$tspid" 2>/dev/null || true
        sleep 1
        kill -KILL "$tspid" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" "$bin" up --seed 1 --serve all --loss "$loss" >"$tmp/ts.err" 2>&1 &
tspid=$!
for _ in $(seq 1 100); do
    grep -q "tunstack: ready" "$tmp/ts.err" && break
    kill -0 "$tspid" 2>/dev/null || { cat "$tmp/ts.err"; exit 1; }
    sleep 0.1
done
grep -q "tunstack: ready" "$tmp/ts.err" || { echo "soak: tunstack not ready"; cat "$tmp/ts.err"; exit 1; }
echo "soak: tunstack pid $tspid in $ns, loss $loss each way, $secs s"

rc=0
ip netns exec "$ns" python3 - "$secs" "$tspid" "$tmp" <<'PY' || rc=$?
import hashlib, os, random, socket, subprocess, sys, threading, time
secs, pid, tmp = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
HOST = "198.18.0.2"
end = time.time() + secs
lock = threading.Lock()
stats = {}
def count(kind, what, n=1):
    with lock:
        stats.setdefault(kind, {}).setdefault(what, 0)
        stats[kind][what] += n

def sha(b):
    return hashlib.sha256(b).hexdigest()

def bulk():
    rng = random.Random(1)
    first = None
    k = 0
    while time.time() < end:
        k += 1
        if k % 2:
            body = rng.randbytes(rng.randint(1, 4) << 20)
            path = os.path.join(tmp, "bulk.bin")
            with open(path, "wb") as f:
                f.write(body)
            r = subprocess.run(["curl", "-sS", "--max-time", "60", "--data-binary", "@" + path,
                                "-H", "Content-Type: application/octet-stream",
                                "http://%s/sink" % HOST], capture_output=True)
            out = r.stdout.decode(errors="replace")
            if r.returncode != 0:
                count("bulk", "errors")
            elif ("sha256=" + sha(body)) in out:
                count("bulk", "ok"); count("bulk", "bytes", len(body))
            else:
                count("bulk", "corrupt"); print("bulk: upload sha mismatch:", out[:200], flush=True)
        else:
            r = subprocess.run(["curl", "-sS", "--max-time", "60",
                                "http://%s/bytes/2000000" % HOST], capture_output=True)
            if r.returncode != 0 or len(r.stdout) != 2000000:
                count("bulk", "errors")
                continue
            h = sha(r.stdout)
            first = first or h
            if h == first:
                count("bulk", "ok"); count("bulk", "bytes", len(r.stdout))
            else:
                count("bulk", "corrupt"); print("bulk: download differs", flush=True)

def echo():
    rng = random.Random(2)
    path = os.path.join(tmp, "echo.bin")
    while time.time() < end:
        data = rng.randbytes(256 * 1024)
        with open(path, "wb") as f:
            f.write(data)
        try:
            r = subprocess.run(["socat", "-t", "30", "-T", "60", "-",
                                "TCP:%s:7" % HOST], stdin=open(path, "rb"),
                               capture_output=True, timeout=90)
        except subprocess.TimeoutExpired:
            count("echo", "errors"); continue
        if r.returncode != 0:
            count("echo", "errors")
        elif sha(r.stdout) == sha(data):
            count("echo", "ok"); count("echo", "bytes", 2 * len(data))
        elif data.startswith(r.stdout):
            count("echo", "errors"); print("echo: short (%d of %d)" % (len(r.stdout), len(data)), flush=True)
        else:
            count("echo", "corrupt"); print("echo: sha mismatch", flush=True)

def churn():
    rng = random.Random(3)
    while time.time() < end:
        msg = rng.randbytes(100)
        try:
            s = socket.create_connection((HOST, 7), timeout=20)
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = s.recv(4096)
                if not d:
                    break
                got += d
            s.close()
            if got == msg:
                count("churn", "ok")
            elif msg.startswith(got):
                count("churn", "errors")
            else:
                count("churn", "corrupt")
        except OSError:
            count("churn", "errors")

def udp():
    rng = random.Random(4)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    seq = 0
    while time.time() < end:
        seq += 1
        msg = seq.to_bytes(8, "big") + rng.randbytes(rng.randint(1, 1400))
        s.sendto(msg, (HOST, 7))
        try:
            while True:
                got, _ = s.recvfrom(65535)
                if got[:8] == msg[:8]:
                    break
                if int.from_bytes(got[:8], "big") > seq:
                    raise socket.timeout()
        except socket.timeout:
            count("udp", "lost"); continue
        if got == msg:
            count("udp", "ok")
        else:
            count("udp", "corrupt")
        time.sleep(0.002)

def sample():
    status = open("/proc/%d/status" % pid).read()
    rss = int([l for l in status.splitlines() if l.startswith("VmRSS:")][0].split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))

workers = [threading.Thread(target=f, daemon=True) for f in (bulk, echo, churn, udp)]
for w in workers:
    w.start()
samples = []
while time.time() < end:
    samples.append(sample())
    time.sleep(2)
for w in workers:
    w.join(timeout=120)
samples.append(sample())
time.sleep(1)
after = sample()
warm = max(1, len(samples) // 3)
base_rss = max(r for r, _ in samples[:warm])
late_rss = max(r for r, _ in samples[warm:])
base_fd = max(f for _, f in samples[:warm])
late_fd = max(f for _, f in samples[warm:] + [after])
print("soak: traffic", stats, flush=True)
print("soak: VmRSS KiB min %d, after warm-up max %d (warm-up max %d), at end %d; fds %d -> %d" %
      (min(r for r, _ in samples), late_rss, base_rss, after[0], base_fd, late_fd), flush=True)
print("soak: rss samples", [r for r, _ in samples], flush=True)
fail = []
corrupt = sum(v.get("corrupt", 0) for v in stats.values())
if corrupt:
    fail.append("%d corrupted transfers" % corrupt)
for kind in ("bulk", "echo", "churn", "udp"):
    st = stats.get(kind, {})
    ok, errs = st.get("ok", 0), st.get("errors", 0)
    if ok == 0:
        fail.append("%s made no progress" % kind)
    elif errs > 0.05 * (ok + errs):
        fail.append("%s: %d of %d operations failed" % (kind, errs, ok + errs))
if late_rss > base_rss * 1.5 + 16 * 1024:
    fail.append("resident memory grew from %d to %d KiB" % (base_rss, late_rss))
if late_fd > base_fd:
    fail.append("fd count grew from %d to %d" % (base_fd, late_fd))
if fail:
    print("soak: FAILED:", "; ".join(fail), flush=True)
    sys.exit(1)
print("soak: ok (zero corrupted bytes, memory flat, no fd growth)", flush=True)
PY
kill -TERM "$tspid" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$tspid" 2>/dev/null || break; sleep 0.1; done
echo "soak: tunstack's exit report:"
grep -E "^(connections|link|stack|tcp):" "$tmp/ts.err" || true
exit $rc
