#!/usr/bin/env python3
"""Real-TUN comparison with the Linux kernel (issue #4, "Measurements", second bullet).

Each cell: one emulated path (our emulator in `tunstack up`: --delay RTT/2 --rate R
--queue max(BDP, 30 packets) --loss P, each direction) and one sender:
  ours-cubic, ours-newreno, smoltcp: our (smoltcp's) chargen (TCP 19) -> a Linux client reads;
  linux-cubic, linux-reno, linux-bbr: a Linux client writes -> our discard (TCP 9).
Goodput is measured at the receiver: RCV.NXT advance (in-order bytes) over SECS seconds from
the moment the first data byte can reach the receiver (Linux receiver: tcpi_bytes_received from
TCP_INFO, from its first recv(); our receiver: bytes_received of `tunstack ss`, from the Linux
client's connect() + RTT/2, the emulator's one-way delay).

The data direction's emulator is seeded alike for all senders of a path and run, so the
same packet numbers are lost for each sender (until their sequences diverge).

Every worker creates its own namespace ts-tuncmp-<pid>-<n> (deleted on exit, also on SIGINT or
SIGTERM) and a fresh `tunstack up` per flow. Needs root. Results: DIR/results.jsonl (one
line per flow, with the senders' counters) and DIR/<cell>.log (each `tunstack up`'s output).
Method and results: docs/loss-recovery.md, "Real TUN".

  tools/bench-loss/tun.py [--secs 10] [--runs 3] [--jobs 3] [--paths 100,200,0.01;...]
                          [--senders ours-cubic,linux-cubic] [--out DIR] [--ab BIN]
  tools/bench-loss/tun.py --from-results DIR1/results.jsonl,DIR2/results.jsonl
"""

import argparse
import json
import os
import random
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = "198.18.0.2"
SENDERS = ["ours-cubic", "linux-cubic", "ours-newreno", "linux-reno", "linux-bbr", "smoltcp"]
RATES = [10, 100]
RTTS = [10, 50, 200]
LOSSES = [0.0, 0.001, 0.01, 0.03]
BUFFER = "8mb"  # our --tcp-buffer: > 2 BDP at 100 Mbit/s x 200 ms (2.5 MB)
KERNEL_MEM = "4096 131072 33554432"  # tcp_rmem / tcp_wmem in each namespace
# struct tcp_info offsets (linux/tcp.h): tcpi_total_retrans u32 @100, tcpi_bytes_acked u64 @120,
# tcpi_bytes_received u64 @128; tcpi_snd_cwnd u32 @80.
TCP_INFO_LEN = 232


def tcp_info(s):
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN)
    (cwnd,) = struct.unpack_from("I", raw, 80)
    (retrans,) = struct.unpack_from("I", raw, 100)
    acked, received = struct.unpack_from("QQ", raw, 120)
    return {"cwnd": cwnd, "retrans": retrans, "acked": acked, "received": received}


def ss_path(tun):
    base = os.environ.get("XDG_RUNTIME_DIR")
    d = os.path.join(base, "tunstack") if base else "/run/tunstack"
    return os.path.join(d, tun + ".sock")


# ---- flow clients (run inside the namespace) ------------------------------------------------


def ss_query(tun):
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.settimeout(5)
    ctl.connect(ss_path(tun))
    ctl.sendall(b"ss\n")
    reply = b""
    while True:
        d = ctl.recv(65536)
        if not d:
            return reply.decode(errors="replace")
        reply += d


def flow_recv(secs, tun):
    """Our sender: read chargen; count RCV.NXT advance from the first byte for `secs`."""
    s = socket.create_connection((STACK, 19), timeout=10)
    s.settimeout(10)
    buf = bytearray(1 << 20)
    if s.recv_into(buf) == 0:
        raise SystemExit("chargen closed at once")
    t0 = time.monotonic()
    b0 = tcp_info(s)["received"]
    end = t0 + secs
    s.settimeout(0.02)
    while True:
        now = time.monotonic()
        if now >= end:
            break
        try:
            if s.recv_into(buf) == 0:
                break
        except socket.timeout:
            pass
    info = tcp_info(s)
    t1 = time.monotonic()
    ours = ""
    if tun != "-":  # our sender's counters, for the log (smoltcp has no `tunstack ss`)
        ours = " | ".join(x.strip() for x in ss_query(tun).splitlines()[1:])
    s.close()
    return {"bytes": info["received"] - b0, "secs": t1 - t0, "linux": info, "ours": ours}


def flow_send(secs, rtt_ms, tun, cc):
    """Linux sender: write to our discard; read our receiver's bytes_received at the end."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Per socket (needs CAP_NET_ADMIN for an algorithm outside tcp_allowed_congestion_control).
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    got_cc = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
    if got_cc != cc:
        raise SystemExit("TCP_CONGESTION is %s, not %s" % (got_cc, cc))
    s.settimeout(10)
    s.connect((STACK, 9))
    t0 = time.monotonic() + rtt_ms / 2000.0
    lport = s.getsockname()[1]
    s.setblocking(False)
    chunk = b"x" * (256 * 1024)
    end = t0 + secs
    ctl = None
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if ctl is None and now >= end - 0.4:
            # Connected early: the ss thread accepts within 50 ms and then waits for our line.
            ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ctl.connect(ss_path(tun))
        _, w, _ = select.select([], [s], [], max(0.0, min(0.05, end - now)))
        if w:
            try:
                s.send(chunk)
            except BlockingIOError:
                pass
    ctl.sendall(b"ss\n")
    t1 = time.monotonic()
    reply = b""
    while True:
        d = ctl.recv(65536)
        if not d:
            break
        reply += d
    info = tcp_info(s)
    s.close()
    text = reply.decode(errors="replace")
    got, ours = None, ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.split()[2:3] == ["198.18.0.1:%d" % lport] and i + 1 < len(lines):
            ours = lines[i + 1].strip()
            for f in ours.split():
                if f.startswith("bytes_received:"):
                    got = int(f.split(":")[1])
    if got is None:
        raise SystemExit("no connection from port %d in tunstack ss:\n%s" % (lport, text))
    return {"bytes": got, "secs": t1 - t0, "linux": info, "ours": ours, "cc": got_cc}


# ---- the grid (root namespace side: only namespace management and process control) ----------

CLEANUP = []
CLEANUP_LOCK = threading.Lock()
STOP = threading.Event()


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def cleanup():
    with CLEANUP_LOCK:
        while CLEANUP:
            kind, x = CLEANUP.pop()
            try:
                if kind == "proc" and x.poll() is None:
                    x.send_signal(signal.SIGTERM)
                    try:
                        x.wait(5)
                    except subprocess.TimeoutExpired:
                        x.kill()
                        x.wait()
                elif kind == "ns":
                    sh("ip", "netns", "delete", x, check=False)
            except Exception as e:  # keep cleaning up the rest
                print("cleanup %s: %s" % (x, e), file=sys.stderr)


def path_args(mbit, rtt, loss):
    bdp = mbit * 1_000_000 // 8 * rtt // 1000
    q = max(bdp, 30 * 1500)
    a = ["--delay", "%gms" % (rtt / 2), "--rate", "%dmbit" % mbit, "--queue", "%db" % q]
    if loss > 0:
        a += ["--loss", "%g" % loss]
    return a


class Worker:
    def __init__(self, n, args):
        self.ns = "ts-tuncmp-%d-%d" % (os.getpid(), n)
        self.tun = "tcmp%dw%d" % (os.getpid() % 100000, n)
        self.args = args
        with CLEANUP_LOCK:
            CLEANUP.insert(0, ("ns", self.ns))
        sh("ip", "netns", "add", self.ns)
        self.nsx("ip", "link", "set", "lo", "up")
        for k, v in [
            ("net.ipv4.tcp_rmem", KERNEL_MEM),
            ("net.ipv4.tcp_wmem", KERNEL_MEM),
            # Every flow starts afresh: no cached ssthresh/RTT from the previous one.
            ("net.ipv4.tcp_no_metrics_save", "1"),
            # The Linux receiver (of our senders) ACKs like ours: one duplicate ACK per
            # out-of-order segment (RFC 5681 §4.2), unless --linux-sack-compress on. Linux
            # otherwise sends one SACK for up to 44 of them (tcp_comp_sack_*, 1 ms), and a
            # lost compressed SACK costs our sender an RTO where Linux's sender, facing our
            # receiver, loses one of several dupACKs (docs/loss-recovery.md, "SACK compression").
        ] + ([("net.ipv4.tcp_comp_sack_nr", "0")] if args.linux_sack_compress == "off" else []):
            self.nsx("sysctl", "-qw", "%s=%s" % (k, v))

    def nsx(self, *a, check=True):
        return sh("ip", "netns", "exec", self.ns, *a, check=check)

    def run(self, job):
        mbit, rtt, loss, sender, run = job
        a = self.args
        binary = a.bin
        if sender.endswith("/B"):  # --ab: the same sender with the other binary
            binary, sender = a.ab, sender[:-2]
        seed = 1000 * run + 17 * RTTS.index(rtt) + 5 * LOSSES.index(loss) + mbit
        if not sender.startswith("linux-"):
            # The emulator seeds inbound with SEED and outbound with SEED ^ 1: so the data
            # direction draws the same losses for every sender of a path and run (paired runs).
            seed ^= 1
        cmd = [binary, "up", "--tun", self.tun, "--serve", "discard,chargen", "--seed", str(seed)]
        cmd += path_args(mbit, rtt, loss) + ["--tcp-buffer", BUFFER]
        if sender.startswith("ours-"):
            cmd += ["--cc", sender[5:]]
        elif sender == "smoltcp":
            cmd += ["--stack", "smoltcp", "--cc", a.smol_cc]
        else:
            # The namespace default where the kernel permits it (a non-init namespace may only
            # pick from the global tcp_allowed_congestion_control); the client sets it per socket.
            self.nsx("sysctl", "-qw", "net.ipv4.tcp_congestion_control=" + sender[6:], check=False)
        tag = "%s-%dmbit-%dms-%g-%d" % (job[3].replace("/", "-"), mbit, rtt, loss, run)
        log = open(os.path.join(a.out, tag + ".log"), "w+")
        env = dict(os.environ)
        env.pop("TUNSTACK_OFFLOAD", None)  # one packet = one segment through the emulator
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.ns] + cmd, stdout=log, stderr=log, env=env
        )
        with CLEANUP_LOCK:
            CLEANUP.append(("proc", p))
        try:
            deadline = time.monotonic() + 10
            while True:
                log.seek(0)
                if "tunstack: ready" in log.read():
                    break
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("tunstack did not come up (%s)" % log.name)
                time.sleep(0.02)
            mode = ["send", str(rtt), self.tun, sender[6:]] if sender.startswith("linux-") else ["recv", self.tun if sender.startswith("ours-") else "-"]
            r = self.nsx(
                sys.executable, os.path.abspath(__file__), "flow", str(a.secs), *mode, check=False
            )
            if r.returncode != 0:
                raise RuntimeError("flow %s failed: %s" % (tag, r.stderr.strip()[-500:]))
            res = json.loads(r.stdout)
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            with CLEANUP_LOCK:
                if ("proc", p) in CLEANUP:
                    CLEANUP.remove(("proc", p))
            log.close()
        res.update(mbit=mbit, rtt=rtt, loss=loss, sender=job[3], run=run,
                   sack_compress=a.linux_sack_compress)
        res["mbps"] = res["bytes"] * 8 / res["secs"] / 1e6
        return res


def parse_paths(text):
    if not text:
        return [(m, r, l) for m in RATES for r in RTTS for l in LOSSES]
    out = []
    for p in text.split(";"):
        m, r, l = p.split(",")
        out.append((int(m), int(r), float(l)))
    return out


def fmt_cell(xs):
    if not xs:
        return "–"
    med = statistics.median(xs)
    if len(xs) == 1:
        return "%.2f" % med
    return "%.2f (%.2f–%.2f)" % (med, min(xs), max(xs))


def ratio(a, b):
    if not a or not b or statistics.median(b) == 0:
        return "–"
    r = statistics.median(a) / statistics.median(b)
    return ("**%.2f**" if r < 0.95 else "%.2f") % r


def table(results, paths):
    by = {}
    for r in results:
        by.setdefault((r["mbit"], r["rtt"], r["loss"], r["sender"]), []).append(r["mbps"])
    g = lambda p, s: by.get(p + (s,), [])  # noqa: E731
    lines = [
        "| bottleneck | RTT | loss | ours CUBIC | Linux cubic | ratio | ours NewReno | Linux reno "
        "| ratio | Linux bbr | smoltcp |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in paths:
        lines.append(
            "| %d Mbit/s | %d ms | %g %% | %s | %s | %s | %s | %s | %s | %s | %s |"
            % (
                p[0], p[1], p[2] * 100,
                fmt_cell(g(p, "ours-cubic")), fmt_cell(g(p, "linux-cubic")),
                ratio(g(p, "ours-cubic"), g(p, "linux-cubic")),
                fmt_cell(g(p, "ours-newreno")), fmt_cell(g(p, "linux-reno")),
                ratio(g(p, "ours-newreno"), g(p, "linux-reno")),
                fmt_cell(g(p, "linux-bbr")), fmt_cell(g(p, "smoltcp")),
            )
        )
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--secs", type=float, default=float(os.environ.get("TUN_SECS", 10)))
    ap.add_argument("--runs", type=int, default=int(os.environ.get("TUN_RUNS", 3)))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("TUN_JOBS", 3)))
    ap.add_argument("--paths", default=os.environ.get("TUN_PATHS", ""),
                    help="MBIT,RTT_MS,LOSS;... (default: the whole grid)")
    ap.add_argument("--senders", default=os.environ.get("TUN_SENDERS", ",".join(SENDERS)))
    ap.add_argument("--smol-cc", default="cubic", help="smoltcp's controller (reno or cubic)")
    ap.add_argument("--bin", default=os.environ.get("TUNSTACK_BIN",
                                                     os.path.join(ROOT, "target/release/tunstack")))
    ap.add_argument("--ab", help="A/B: also run every ours-* sender with this binary, interleaved "
                    "(recorded as SENDER/B)")
    ap.add_argument("--linux-sack-compress", choices=["on", "off"],
                    default=os.environ.get("TUN_SACK_COMPRESS", "off"),
                    help="the Linux receiver's SACK compression (net.ipv4.tcp_comp_sack_nr 44 or 0; "
                    "default off: one dupACK per out-of-order segment, as our receiver)")
    ap.add_argument("--out", default="/tmp/tunstack-bench-loss-tun-%d" % os.getpid())
    ap.add_argument("--from-results", help="only print the table of results.jsonl files (a,b,...)")
    a = ap.parse_args()
    paths = parse_paths(a.paths)
    if a.from_results:
        # Several files: a later file's cells replace an earlier file's (same path and sender).
        cells = {}
        for f in a.from_results.split(","):
            got = {}
            for line in open(f):
                r = json.loads(line)
                got.setdefault((r["mbit"], r["rtt"], r["loss"], r["sender"]), []).append(r)
            cells.update(got)
        rs = [r for v in cells.values() for r in v]
        print(table(rs, sorted({(r["mbit"], r["rtt"], r["loss"]) for r in rs}, key=lambda p: (p[0], p[1], p[2]))))
        return 0
    if os.geteuid() != 0:
        print("bench-loss-tun: needs root (network namespaces and TUN devices); skipped")
        return 77
    if not os.access(a.bin, os.X_OK):
        print("bench-loss-tun: no tunstack binary at %s (cargo build --release)" % a.bin)
        return 1
    senders = [s for s in a.senders.split(",") if s]
    avail = open("/proc/sys/net/ipv4/tcp_available_congestion_control").read().split()
    for s in senders:
        if s.startswith("linux-") and s[6:] not in avail:
            print("bench-loss-tun: the kernel has no %s (has %s); skipping it" % (s, avail))
            senders.remove(s)
    os.makedirs(a.out, exist_ok=True)
    if a.ab:
        senders += [s + "/B" for s in senders if s.startswith("ours-")]
    jobs = [(m, r, l, s, run) for run in range(a.runs) for (m, r, l) in paths for s in senders]
    # Mix heavy and light cells across the workers, reproducibly.
    random.Random(4).shuffle(jobs)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    results, lock = [], threading.Lock()
    resfile = open(os.path.join(a.out, "results.jsonl"), "w")
    print("bench-loss-tun: %d flows of %g s, %d workers, Linux SACK compression %s, output in %s "
          "(load: %s)" % (len(jobs), a.secs, a.jobs, a.linux_sack_compress, a.out,
                          os.getloadavg()), flush=True)
    todo = list(jobs)

    def work(n):
        try:
            w = Worker(n, a)
        except Exception as e:
            print("worker %d: %s" % (n, e), file=sys.stderr)
            return
        while not STOP.is_set():
            with lock:
                if not todo:
                    return
                job = todo.pop(0)
            try:
                res = w.run(job)
            except Exception as e:
                print("  %s: FAILED: %s" % (job, e), file=sys.stderr, flush=True)
                continue
            with lock:
                results.append(res)
                resfile.write(json.dumps(res) + "\n")
                resfile.flush()
                print("  [%3d/%d] %3d Mbit/s %3d ms %5.1f %% %-12s run %d: %7.2f Mbit/s"
                      % (len(results), len(jobs), job[0], job[1], job[2] * 100, job[3], job[4],
                         res["mbps"]), flush=True)

    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(a.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        STOP.set()
        print("interrupted; cleaning up", file=sys.stderr)
    finally:
        STOP.set()
        cleanup()
    el = time.monotonic() - started
    print()
    print("Goodput at the receiver, Mbit/s, median (min–max) of %d runs of %g s; ratio = ours/Linux "
          "(same algorithm), bold below 0.95; %d workers; took %.0f s (load after: %s)"
          % (a.runs, a.secs, a.jobs, el, os.getloadavg()))
    print()
    print(table(results, paths))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "flow":
        secs = float(sys.argv[2])
        if sys.argv[3] == "recv":
            out = flow_recv(secs, sys.argv[4])
        else:
            out = flow_send(secs, float(sys.argv[4]), sys.argv[5], sys.argv[6])
        print(json.dumps(out))
        sys.exit(0)
    sys.exit(main())
