// Conformance on the wire: the same hand-built probes (a raw socket in a private namespace) go
// to `tunstack up` (198.18.0.2, over the TUN) and to a Linux kernel listener (198.18.0.1, over
// lo); the answers must be the same, flags and sequence numbers (RFC 9293 §3.5.2, §3.10.7.1-2).
// Also `--max-connections` and `--tcp-buffer` on a real TUN. Without root: SKIPPED, loudly.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/tcp_tun.rs"]
mod tcp_tun;

use tcp_tun::*;

/// Python: raw-socket prober. argv: target ip, port, then probes as NAME:FLAGS:DATALEN.
/// Prints `NAME|answer; answer` with seq/ack relative to the probe (ISN for a SYN,ACK seq).
const PROBER: &str = r#"
import socket, struct, sys, time, select
tgt, port = sys.argv[1], int(sys.argv[2])
src = '198.18.0.1'
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
rs = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
bits = dict(F=1, S=2, R=4, P=8, A=16, U=32)
SEQ, ACK = 1000000, 5000
names = {}
for i, p in enumerate(sys.argv[3:]):
    name, flags, dlen = p.split(':')
    fl = sum(bits[c] for c in flags)
    sport = 21000 + i + (0 if tgt.endswith('.2') else 500)
    names[sport] = name
    data = b'x' * int(dlen)
    h = struct.pack('!HHIIBBHHH', sport, port, SEQ, ACK, 5 << 4, fl, 512, 0, 32 if 'U' in flags else 0)
    c = csum(socket.inet_aton(src) + socket.inet_aton(tgt) + struct.pack('!BBH', 0, 6, 20 + len(data)) + h + data)
    rs.sendto(h[:16] + struct.pack('!H', c) + h[18:] + data, (tgt, 0))
out, end = {sp: [] for sp in names}, time.time() + 0.8
while True:
    r, _, _ = select.select([rs], [], [], max(0, end - time.time()))
    if not r: break
    pkt = rs.recv(65535)
    ihl = (pkt[0] & 15) * 4
    if socket.inet_ntoa(pkt[12:16]) != tgt: continue
    sp, dp, seq, ack, off, f = struct.unpack('!HHIIBB', pkt[ihl:ihl + 14])
    if sp != port or dp not in names: continue
    fs = ''.join(c for c in 'FSRPAU' if f & bits[c])
    rseq = 'isn' if f & 2 else str((seq - ACK) & 0xffffffff) if f & 16 == 0 else str(seq)
    rack = str((ack - SEQ) & 0xffffffff) if f & 16 else '-'
    out[dp].append(f'{fs} seq={rseq} ack={rack}')
for sp in sorted(names):
    print(names[sp] + '|' + '; '.join(out[sp]), flush=True)
"#;

const LISTENER: &str = r#"
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('198.18.0.1', 7)); s.listen(16); print('ready', flush=True); time.sleep(60)
"#;

/// (name, flags, payload length) for a listening port and a closed port.
const PROBES: [(&str, &str, u32); 15] = [
    ("SYN", "S", 0),
    ("ACK", "A", 0),
    ("RST", "R", 0),
    ("FIN", "F", 0),
    ("SYN+data", "S", 10),
    ("SYN+FIN", "SF", 0),
    ("SYN+ACK", "SA", 0),
    ("SYN+RST", "SR", 0),
    ("null", "", 0),
    ("XMAS", "FPU", 0),
    ("PSH+data", "P", 5),
    ("RST+ACK", "RA", 0),
    ("FIN+ACK+data", "FA", 5),
    ("SYN+URG", "SU", 0),
    ("data", "", 7),
];

fn answers(ns: &netns::Netns, target: &str, port: u16) -> Vec<String> {
    let args: Vec<String> = PROBES
        .iter()
        .map(|(n, f, d)| format!("{n}:{f}:{d}"))
        .collect();
    let port = port.to_string();
    let mut argv = vec![target, port.as_str()];
    argv.extend(args.iter().map(String::as_str));
    let o = python(ns, 60, PROBER, &argv);
    assert!(o.status.success(), "prober: {}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn stateless_probes_are_answered_like_the_linux_kernel() {
    // RFC 9293 §3.10.7.1 (no socket: RST rules), §3.10.7.2 (LISTEN: RST ignored, ACK -> RST,
    // SYN -> SYN,ACK, others dropped), each compared with the kernel's answer.
    let Some(mut lab) = Lab::up("cf-probe", &["--serve", "echo"], &["python3"]) else {
        return;
    };
    let l = spawn_python(&mut lab.ns, 60, LISTENER, &[]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut diffs = Vec::new();
    let mut table = String::new();
    for port in [7u16, 9999] {
        let ours = answers(&lab.ns, STACK_ADDR, port);
        let linux = answers(&lab.ns, KERNEL_ADDR, port);
        assert_eq!(ours.len(), PROBES.len(), "{ours:?}");
        for (o, k) in ours.iter().zip(&linux) {
            table += &format!("port {port} {o}  ||  linux {k}\n");
            if o != k {
                diffs.push(format!("port {port}: ours {o} / linux {k}"));
            }
        }
    }
    drop(l);
    eprintln!("{table}");
    // The SYN probes to the listener must have been answered at all (the test is meaningful).
    assert!(table.contains("port 7 SYN|SA seq=isn ack=1"), "{table}");
    assert!(
        diffs.is_empty(),
        "differences:\n{}\n{table}",
        diffs.join("\n")
    );
}

const CONNECT3: &str = r#"
import socket, struct
cs = []
for i in range(3):
    c = socket.socket(); c.settimeout(1.5)
    try:
        c.connect(('198.18.0.2', 7)); c.sendall(b'hi'); print('conn', i, c.recv(10).decode(), flush=True); cs.append(c)
    except socket.timeout:
        print('conn', i, 'timeout', flush=True)
    except OSError as e:
        print('conn', i, 'error', e.errno, flush=True)
for c in cs: c.close()
import time; time.sleep(0.3)
c = socket.create_connection(('198.18.0.2', 7), timeout=5); c.sendall(b'ok'); print('again', c.recv(10).decode(), flush=True)
c.close()
"#;

#[test]
fn max_connections_drops_further_syns_silently_and_counts_them() {
    // RFC 9293 §3.10.7.2 with bounded resources: beyond --max-connections a SYN is dropped (as
    // Linux does with a full accept queue), not reset: the client retries, nothing is refused.
    let Some(lab) = Lab::up(
        "cf-maxconn",
        &[
            "--serve",
            "echo",
            "--max-connections",
            "2",
            "--tcp-buffer",
            "16kb",
        ],
        &["python3"],
    ) else {
        return;
    };
    let o = python(&lab.ns, 30, CONNECT3, &[]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let (report, _) = lab.stop();
    assert!(o.status.success(), "{}\n{report}", text(&o));
    assert!(
        out.contains("conn 0 hi") && out.contains("conn 1 hi"),
        "{out}"
    );
    assert!(
        out.contains("conn 2 timeout"),
        "dropped, not refused: {out}"
    );
    assert!(out.contains("again ok"), "room again after closing: {out}");
    let limited = report_counter(&report, "connection_limit").unwrap_or(0);
    assert!(limited >= 1, "connection_limit counted:\n{report}");
}

const ECHO_ONCE: &str = r#"
import socket
c = socket.create_connection(('198.18.0.2', 7), timeout=10)
c.sendall(b'through the flood'); print(c.recv(100).decode(), flush=True); c.close()
"#;

#[test]
fn syn_flood_fills_the_queue_and_cookies_still_connect() {
    // RFC 4987 §3.6: 400 spoofed SYNs (from 198.18.0.77, which never answers) fill the SYN queue
    // (backlog 128); the kernel's connection still completes, through a SYN cookie.
    let Some(lab) = Lab::up("cf-cookie", &["--serve", "echo"], &["python3", "hping3"]) else {
        return;
    };
    let flood = lab.ns.exec(&[
        "timeout",
        "30",
        "hping3",
        "-q",
        "-S",
        "-p",
        "7",
        "-a",
        "198.18.0.77",
        "-s",
        "10000",
        "-c",
        "400",
        "-i",
        "u500",
        STACK_ADDR,
    ]);
    assert!(
        flood.status.success() || flood.status.code() == Some(1),
        "hping3: {}",
        text(&flood)
    );
    let o = python(&lab.ns, 30, ECHO_ONCE, &[]);
    let (report, _) = lab.stop();
    assert!(o.status.success(), "{}\n{report}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "through the flood"
    );
    let sent = report_counter(&report, "syncookies_sent").unwrap_or(0);
    let ok = report_counter(&report, "syncookies_ok").unwrap_or(0);
    assert!(
        sent >= 200 && ok >= 1,
        "cookies sent {sent}, ok {ok}:\n{report}"
    );
}

#[test]
fn stateful_probes_are_answered_like_the_linux_kernel() {
    // RFC 9293 §3.10.7.4 / RFC 5961 on the wire: ESTABLISHED (out-of-window data, RST exact and
    // not, SYN, ACK of unsent data, data without ACK, FIN) and SYN-RECEIVED (RST, bad ACK, SYN
    // again, SYN with another ISN, data without ACK), each sent to tunstack and to a kernel echo
    // server in the same namespace (tests/conformance/stateful_probe.py); answers must agree.
    let Some(lab) = Lab::up("cf-wire", &["--serve", "echo"], &["python3"]) else {
        return;
    };
    let script = include_str!("conformance/stateful_probe.py");
    let run = |target: &str| {
        let o = python(&lab.ns, 60, script, &[target]);
        assert!(o.status.success(), "{target}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let (ours, linux) = (run("ours"), run("linux"));
    eprintln!("ours:\n{ours}\nlinux:\n{linux}");
    assert_eq!(ours.lines().count(), 15, "{ours}");
    assert!(
        ours.contains("EST RST in window, not exact|A seq=1 ack=1"),
        "{ours}"
    );
    for (o, l) in ours.lines().zip(linux.lines()) {
        assert_eq!(o, l, "ours / linux differ\nours:\n{ours}\nlinux:\n{linux}");
    }
}
