# Stateful conformance probes on the wire, run inside a private network namespace by
# tests/conformance_tun.rs. Two targets answer the same probes:
#   linux: a kernel echo server on 198.18.1.1:80, reached through a TUN we own (we are 198.18.1.2),
#   ours:  `tunstack up` (198.18.0.2:7), reached with a raw socket from the spoofed, non-local
#          198.18.0.77 (the kernel never answers for it); answers read by AF_PACKET on tunstack0.
# Prints one line per probe: "name|answers" with SEQ/ACK relative to the ISNs.
import fcntl, os, select, socket, struct, subprocess, sys, threading, time

F, S, R, P, A = 1, 2, 4, 8, 16
MSS = b'\x02\x04\x05\xb4'

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff

def packet(src, dst, sport, dport, seq, ack, flags, data=b'', opts=b''):
    h = struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                    ((20 + len(opts)) // 4) << 4, flags, 65535, 0, 0) + opts
    seg = h + data
    c = csum(socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, len(seg)) + seg)
    seg = seg[:16] + struct.pack('!H', c) + seg[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(seg), 0, 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip[:10] + struct.pack('!H', csum(ip)) + ip[12:] + seg

def parse(p):
    if len(p) < 40 or p[0] >> 4 != 4 or p[9] != 6: return None
    ihl = (p[0] & 15) * 4; t = p[ihl:]
    sp, dp, seq, ack, off, fl, win = struct.unpack('!HHIIBBH', t[:16])
    return dict(src=socket.inet_ntoa(p[12:16]), sp=sp, dp=dp, seq=seq, ack=ack, flags=fl,
                len=len(t) - (off >> 4) * 4)

class Linux:
    me, them, port = '198.18.1.2', '198.18.1.1', 80
    def __init__(self):
        self.fd = os.open('/dev/net/tun', os.O_RDWR)
        fcntl.ioctl(self.fd, 0x400454ca, struct.pack('16sH', b'tsprobe0', 0x0001 | 0x1000))
        subprocess.run('ip addr add 198.18.1.1/24 dev tsprobe0 && ip link set tsprobe0 up',
                       shell=True, check=True)
        time.sleep(0.3)
        self.l = socket.socket(); self.l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.l.bind((self.them, self.port)); self.l.listen(64)
        threading.Thread(target=self.serve, daemon=True).start()
    def serve(self):
        # Like tunstack's echo service: echo, close after the peer's FIN.
        while True:
            c, _ = self.l.accept()
            threading.Thread(target=self.echo, args=(c,), daemon=True).start()
    def echo(self, c):
        try:
            while True:
                b = c.recv(65536)
                if not b: break
                c.sendall(b)
        except OSError:
            pass
        c.close()
    def send(self, pkt): os.write(self.fd, pkt)
    def recv(self, t):
        r, _, _ = select.select([self.fd], [], [], t)
        return os.read(self.fd, 65535) if r else None

class Ours:
    me, them, port = '198.18.0.77', '198.18.0.2', 7
    def __init__(self):
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        self.rx.bind(('tunstack0', 0x0800))
    def send(self, pkt): self.tx.sendto(pkt, (self.them, 0))
    def recv(self, t):
        r, _, _ = select.select([self.rx], [], [], t)
        return self.rx.recv(65535) if r else None

T = Linux() if sys.argv[1] == 'linux' else Ours()
sport = [43000]

def xmit(sp, seq, ack, flags, data=b'', opts=b''):
    T.send(packet(T.me, T.them, sp, T.port, seq, ack, flags, data, opts))

def answers(sp, t=0.25, syn=False):
    """What the target sent to port `sp` within `t` s (just its SYN,ACK if `syn`)."""
    out, end = [], time.time() + t
    while time.time() < end:
        p = T.recv(max(0, end - time.time()))
        r = p and parse(p)
        if r and r['src'] == T.them and r['sp'] == T.port and r['dp'] == sp:
            out.append(r)
            if syn and r['flags'] & S:
                return out
    return out

def fmt(rs, iss, irs):
    def one(r):
        f = ''.join(c for c, b in zip('FSRPA', [F, S, R, P, A]) if r['flags'] & b)
        seq = (r['seq'] - iss) & 0xffffffff if r['seq'] else 'zero'
        ack = (r['ack'] - irs) & 0xffffffff if r['flags'] & A else '-'
        return f'{f} seq={seq} ack={ack} len={r["len"]}'
    # A pure ACK followed by a FIN with the same SEQ/ACK says nothing more than the FIN alone
    # (Linux piggybacks the ACK on the application's FIN; we may send both).
    rs = [r for i, r in enumerate(rs) if not (
        r['flags'] == A and r['len'] == 0 and i + 1 < len(rs) and rs[i + 1]['flags'] & F
        and (rs[i + 1]['seq'], rs[i + 1]['ack']) == (r['seq'], r['ack']))]
    return '; '.join(one(r) for r in rs)

def handshake(irs=5000):
    sport[0] += 1; sp = sport[0]
    xmit(sp, irs, 0, S, opts=MSS)
    sa = [r for r in answers(sp, 2, True) if r['flags'] & S][0]
    xmit(sp, irs + 1, sa['seq'] + 1, A)
    time.sleep(0.05)
    return sp, sa['seq'], irs

def probe(name, sp, iss, irs, seq, ack, flags, data=b'', opts=b'', wait=0.25):
    xmit(sp, seq, ack, flags, data, opts)
    print(f'{name}|{fmt(answers(sp, wait), iss, irs)}', flush=True)

# ESTABLISHED (peer ISN 5000: our data starts at irs+1; the target's at iss+1).
c = handshake(); probe('EST data beyond the window', *c, c[2] + 3_000_000, c[1] + 1, A, b'far')
c = handshake(); probe('EST RST in window, not exact', *c, c[2] + 5, 0, R)
c = handshake(); probe('EST RST exact', *c, c[2] + 1, 0, R)
probe('  then ACK to the gone connection', *c, c[2] + 1, c[1] + 1, A)
c = handshake(); probe('EST SYN in window', *c, c[2] + 5, 0, S)
c = handshake(); probe('EST ACK of unsent data', *c, c[2] + 1, c[1] + 100, A, b'zz')
c = handshake(); probe('EST data without ACK bit', *c, c[2] + 1, 0, P, b'noack')
c = handshake(); probe('EST FIN', *c, c[2] + 1, c[1] + 1, F | A)
probe('LAST-ACK FIN again', *c, c[2] + 1, c[1] + 1, F | A)
# SYN-RECEIVED: no ACK for the SYN,ACK.
def half_open(irs=7000):
    sport[0] += 1; sp = sport[0]
    xmit(sp, irs, 0, S, opts=MSS)
    return sp, [r for r in answers(sp, 2, True) if r['flags'] & S][0]['seq'], irs
c = half_open(); probe('SYN-RECEIVED RST exact', *c, c[2] + 1, 0, R)
probe('  then ACK (back to LISTEN: RST)', *c, c[2] + 1, c[1] + 1, A)
c = half_open(); probe('SYN-RECEIVED bad ACK', *c, c[2] + 1, c[1] + 5000, A)
c = half_open(); probe('SYN-RECEIVED SYN again', *c, c[2], 0, S, opts=MSS)
c = half_open(); probe('SYN-RECEIVED SYN, other ISN', *c, c[2] + 5000, 0, S, opts=MSS)
c = half_open(); probe('SYN-RECEIVED data without ACK', *c, c[2] + 1, 0, P, b'x')
