#!/usr/bin/env python3
"""Lab 7: a slow reader of a TCP stream (chargen), then a reader that stops, then one that resumes.

usage: slow_reader.py HOST PORT RCVBUF PACE_SECS CHUNK INTERVAL PAUSE_SECS REST_BYTES
1. for PACE_SECS, read CHUNK bytes every INTERVAL seconds (a reader of CHUNK/INTERVAL B/s);
2. stop reading for PAUSE_SECS (the receive buffer fills: zero window, the sender probes);
3. read REST_BYTES as fast as possible, close.
Prints: bytes read in phase 1, its duration, the time the pause began and ended (monotonic
seconds since connect), bytes read in phase 3.
"""
import socket
import sys
import time

host, port, rcvbuf = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pace, chunk, interval = float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
pause, rest = float(sys.argv[7]), int(sys.argv[8])

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
s.settimeout(10)
s.connect((host, port))
t0 = time.monotonic()


def read_exactly(n):
    got = 0
    while got < n:
        data = s.recv(min(65536, n - got))
        if not data:
            break
        got += len(data)
    return got


phase1 = 0
next_read = t0
while time.monotonic() - t0 < pace:
    phase1 += read_exactly(chunk)
    next_read += interval
    delay = next_read - time.monotonic()
    if delay > 0:
        time.sleep(delay)
t1 = time.monotonic()
time.sleep(pause)
t2 = time.monotonic()
phase3 = read_exactly(rest)
s.close()
print(f"{phase1} {t1 - t0:.6f} {t1 - t0:.6f} {t2 - t0:.6f} {phase3}")
