# Inside the test namespace: a kernel TCP connection to the stack's echo service (port 7), a
# sniffer on the TUN device to learn the sequence numbers, and raw IP injection of forged segments.
# argv: DEV MODE [N]. Prints "key value" lines; exit 0 when the checks inside pass.
import os, socket, struct, sys, time
DEV, MODE = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 0
US, STACK = "198.18.0.1", "198.18.0.2"

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF

def parse(p):
    if len(p) < 40 or p[0] >> 4 != 4 or p[9] != 6:
        return None
    ihl = (p[0] & 15) * 4
    src, dst = socket.inet_ntoa(p[12:16]), socket.inet_ntoa(p[16:20])
    t = p[ihl:]
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", t[:16])
    hl = (off >> 4) * 4
    return dict(src=src, dst=dst, sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                win=win, opts=t[20:hl], plen=len(t) - hl)

sn = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sn.bind((DEV, 0))
sn.setblocking(False)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
state = {}

def drain(port):
    """Read everything sniffed; remember the latest segment each way on our connection."""
    n = 0
    while True:
        try:
            p = sn.recv(70000)
        except BlockingIOError:
            return n
        s = parse(p)
        if not s:
            continue
        if s["src"] == STACK and s["dport"] == port:
            state["from_stack"] = s
            n += 1
            if s["flags"] & 0x04:
                state["rst_from_stack"] = state.get("rst_from_stack", 0) + 1
        elif s["src"] == US and s["sport"] == port:
            state["from_us"] = s

def tcp(port, seq, ack, flags, data=b"", opts=None, win=65535):
    o = state["from_us"]["opts"] if opts is None else opts
    hl = 20 + len(o)
    t = struct.pack("!HHIIBBHHH", port, 7, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hl // 4) << 4,
                    flags, win, 0, 0) + o + data
    ph = socket.inet_aton(US) + socket.inet_aton(STACK) + struct.pack("!BBH", 0, 6, len(t))
    t = t[:16] + struct.pack("!H", csum(ph + t)) + t[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(t), 0, 0x4000, 64, 6, 0,
                     socket.inet_aton(US), socket.inet_aton(STACK))
    raw.sendto(ip + t, (STACK, 0))

def echo_ok(c, msg):
    c.sendall(msg)
    got = b""
    while len(got) < len(msg):
        d = c.recv(65536)
        if not d:
            break
        got += d
    return got == msg

c = socket.create_connection((STACK, 7), timeout=10)
port = c.getsockname()[1]
assert echo_ok(c, b"hello\n"), "echo before the attack"
time.sleep(0.3)
drain(port)
rcv_nxt = state["from_stack"]["ack"]            # the stack's RCV.NXT (our SND.NXT)
snd_nxt = state["from_stack"]["seq"] + state["from_stack"]["plen"]  # the stack's SND.NXT
print("port", port, "rcv_nxt", rcv_nxt, "snd_nxt", snd_nxt, flush=True)
ok = True

if MODE == "rst":
    # RFC 5961 §3: a RST in the window but not at RCV.NXT gets a challenge ACK, not a reset.
    before = drain(port)
    for off in (1, 1000, 30000):
        tcp(port, rcv_nxt + off, 0, 0x04)
        tcp(port, rcv_nxt + off, snd_nxt, 0x14)
    time.sleep(0.3)
    print("challenge_acks_seen", drain(port), flush=True)
    ok &= echo_ok(c, b"after in-window RST\n")
    print("alive_after_rst", ok, flush=True)
    # RFC 5961 §4: a SYN in the window gets a challenge ACK.
    tcp(port, rcv_nxt + 10, 0, 0x02)
    tcp(port, rcv_nxt, 0, 0x02)
    time.sleep(0.3)
    print("challenge_acks_seen_syn", drain(port), flush=True)
    ok &= echo_ok(c, b"after in-window SYN\n")
    print("alive_after_syn", ok, flush=True)
    # RFC 5961 §5: data with an unacceptable ACK (a blind guess) is dropped, never delivered.
    drain(port)
    for bad in (snd_nxt + (1 << 30), snd_nxt - (1 << 30), snd_nxt + 200000):
        tcp(port, state["from_stack"]["ack"], bad, 0x18, b"INJECTED\n")
    time.sleep(0.3)
    drain(port)
    ok &= echo_ok(c, b"after blind data\n")
    print("alive_after_data", ok, flush=True)
    # Old data (already acknowledged) with other bytes: a duplicate, never re-delivered.
    nxt = state["from_stack"]["ack"]
    tcp(port, nxt - 9, state["from_stack"]["seq"] + state["from_stack"]["plen"], 0x18, b"XXXXXXXXX")
    time.sleep(0.3)
    ok &= echo_ok(c, b"after old data\n")
    print("alive_after_old_data", ok, flush=True)
    # Control: a RST exactly at RCV.NXT does reset (so the injection path really works).
    drain(port)
    tcp(port, state["from_stack"]["ack"], 0, 0x04)
    time.sleep(0.3)
    try:
        c.sendall(b"x\n")
        d = c.recv(100)
        print("control_after_exact_rst", "eof" if not d else "data", flush=True)
    except OSError as e:
        print("control_after_exact_rst", "reset" if e.errno == 104 else e, flush=True)
elif MODE == "ooo":
    # Out-of-order flood: N segments far ahead of RCV.NXT (1-byte islands and 1000-byte
    # pieces), none of which can ever be delivered; the real stream must still flow.
    base = rcv_nxt + 20000
    ack = snd_nxt
    t0 = time.time()
    for k in range(N):
        if k % 2:
            tcp(port, base + 2 * k, ack, 0x10, b"I")
        else:
            tcp(port, base + (k % 200) * 1100, ack, 0x10, b"P" * 1000)
        if k % 2000 == 0:
            drain(port)
    time.sleep(0.5)
    drain(port)
    print("flood_secs", round(time.time() - t0, 2), flush=True)
    for i in range(20):
        ok &= echo_ok(c, (b"line %d after the flood\n" % i))
    print("alive_after_ooo", ok, flush=True)
c.close()
sys.exit(0 if ok else 1)
