#!/usr/bin/env python3
"""Lab 8: a message stream over TCP or UDP, echoed back; per-message round-trip latency.

usage: hol.py tcp|udp HOST PORT COUNT INTERVAL_SECS SIZE WAIT_SECS OUTFILE
Sends COUNT messages of SIZE bytes, one every INTERVAL seconds, to an echo server (TCP 7 or
UDP 7) and times each message from send to echo. Each message carries its number, so over TCP
the stream is cut back into messages. After the last send, waits up to WAIT_SECS for stragglers.
Writes one line per message to OUTFILE: "number latency_ms" (latency "lost" if it never came
back) and prints: sent received p50_ms p90_ms p99_ms max_ms.
"""
import socket
import struct
import sys
import threading
import time

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
count, interval, size = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
wait, outfile = float(sys.argv[7]), sys.argv[8]
assert size >= 8

sent_at = [None] * count
got_at = [None] * count
done = threading.Event()

if mode == "tcp":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle on our side
    s.settimeout(10)
    s.connect((host, port))
    s.settimeout(0.2)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(0.2)


def receiver():
    buf = b""
    received = 0
    while not done.is_set() and received < count:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        now = time.monotonic()
        if mode == "udp":
            chunks = [data[:size]] if len(data) >= 8 else []
        else:
            buf += data
            chunks = []
            while len(buf) >= size:
                chunks.append(buf[:size])
                buf = buf[size:]
        for c in chunks:
            (n,) = struct.unpack("!Q", c[:8])
            if n < count and got_at[n] is None:
                got_at[n] = now
                received += 1


t = threading.Thread(target=receiver)
t.start()
pad = b"x" * (size - 8)
start = time.monotonic()
for n in range(count):
    target = start + n * interval
    delay = target - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    sent_at[n] = time.monotonic()
    s.send(struct.pack("!Q", n) + pad)
deadline = time.monotonic() + wait
while time.monotonic() < deadline and any(g is None for g in got_at):
    time.sleep(0.05)
done.set()
t.join()
s.close()

lat = []
with open(outfile, "w") as f:
    for n in range(count):
        if got_at[n] is None:
            f.write(f"{n} lost\n")
        else:
            ms = (got_at[n] - sent_at[n]) * 1000
            lat.append(ms)
            f.write(f"{n} {ms:.3f}\n")
lat.sort()


def pct(p):
    if not lat:
        return float("nan")
    i = min(len(lat) - 1, max(0, int(p / 100 * len(lat) + 0.999999) - 1))
    return lat[i]


print(f"{count} {len(lat)} {pct(50):.3f} {pct(90):.3f} {pct(99):.3f} {lat[-1] if lat else float('nan'):.3f}")
