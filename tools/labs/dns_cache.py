#!/usr/bin/env python3
"""Lab 9: a tiny caching DNS forwarder, to watch TTLs at work.

usage: dns_cache.py LISTEN_ADDR LISTEN_PORT UPSTREAM_ADDR LOGFILE
Answers UDP queries from its cache while the answer's TTL lasts (counting the TTLs down, as
a real cache does, RFC 1035 §3.2.1 / RFC 2181 §8), otherwise asks UPSTREAM (port 53) and caches
the answer for the smallest TTL in it (negative answers: the SOA's TTL, RFC 2308 §5).
Appends "hit NAME" or "miss NAME" per query to LOGFILE. Stops on SIGTERM.
"""
import socket
import struct
import sys
import time

listen, lport, upstream, logfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def ttl_offsets(msg):
    """Offsets of the TTL field of every record after the question."""
    qd, an, ns, ar = struct.unpack("!4H", msg[4:12])
    i = 12
    for _ in range(qd):
        i = skip_name(msg, i) + 4
    out = []
    for _ in range(an + ns + ar):
        i = skip_name(msg, i)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
        if rtype != 41:  # not the EDNS OPT pseudo-record
            out.append(i + 4)
        i += 10 + rdlen
    return out


def qname(msg):
    labels, i = [], 12
    while msg[i]:
        labels.append(msg[i + 1:i + 1 + msg[i]].decode(errors="replace"))
        i += 1 + msg[i]
    return ".".join(labels) or "."


cache = {}  # question bytes (lower case) -> (stored at, ttl, response)
up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
up.settimeout(2)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((listen, lport))
log = open(logfile, "a", buffering=1)
while True:
    q, client = s.recvfrom(4096)
    if len(q) < 12:
        continue
    key = q[12:skip_name(q, 12) + 4].lower()
    now = time.monotonic()
    hit = cache.get(key)
    if hit and now - hit[0] < hit[1]:
        age = int(now - hit[0])
        r = bytearray(hit[2])
        for off in ttl_offsets(r):
            (ttl,) = struct.unpack("!I", r[off:off + 4])
            r[off:off + 4] = struct.pack("!I", max(0, ttl - age))
        r[0:2] = q[0:2]
        s.sendto(bytes(r), client)
        log.write(f"hit {qname(q)}\n")
        continue
    up.sendto(q, (upstream, 53))
    try:
        r = up.recv(4096)
    except socket.timeout:
        continue
    ttls = [struct.unpack("!I", r[o:o + 4])[0] for o in ttl_offsets(r)]
    if ttls:
        cache[key] = (now, min(ttls), r)
    s.sendto(r, client)
    log.write(f"miss {qname(q)}\n")
