//! Floods on a real TUN device, each in its own network namespace (skipped loudly without root).
//!
//! - Fragment flood: tens of thousands of first fragments of datagrams that never complete.
//!   Reassembly memory is capped (`frag_mem_limit`, 4 MiB), so tunstack's resident memory stays
//!   bounded; the evictions are counted; ping still works afterwards.
//! - SYN flood (hping3 `--flood -S --rand-source`, bounded by `timeout`) while a legitimate
//!   client opens 1,000 connections to the echo service: at least 99 % must succeed. Needs SYN
//!   cookies (RFC 4987 §3.6) when the SYN queue is full: before they landed 0 / 1,000 did, and
//!   the listener stayed full for ~3 minutes after the flood. Skipped loudly without hping3.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/tcp_tun.rs"]
mod tcp_tun;

use std::time::Duration;

use netns::{Netns, Tunstack, have_tool};

/// Python: N first fragments (MF set, offset 0 or a later one) of UDP datagrams with distinct
/// IDs from the kernel side to the stack; none ever completes.
const PY_FRAG_FLOOD: &str = r#"
import socket, struct, sys, time
n = int(sys.argv[1])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
src, dst = socket.inet_aton("198.18.0.1"), socket.inet_aton("198.18.0.2")
payload = b"F" * 1400
t0 = time.time()
sent = 0
for i in range(n):
    off = (i % 7) * 175  # in 8-byte units
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), (i % 65535) + 1,
                     0x2000 | off, 64, 17, 0, src, dst)
    try:
        raw.sendto(ip + payload, ("198.18.0.2", 0))
        sent += 1
    except OSError:
        time.sleep(0.001)
print("sent", sent, "secs", round(time.time() - t0, 2))
"#;

/// Python: try a connection (2 s timeout) every second; print how long until one succeeds.
const PY_FIRST_SUCCESS: &str = r#"
import socket, sys, time
t0 = time.time()
while time.time() - t0 < 140:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
        print("first connection after %.0f s" % (time.time() - t0))
        sys.exit(0)
    except OSError:
        time.sleep(1)
print("no connection within 140 s")
"#;

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A counter from tunstack's exit report, on the line starting with `section`: `name=N`
/// (zero counters are left out: 0), or `name: N` (a struct's Debug).
fn counter(report: &str, section: &str, name: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(section))
        .unwrap_or("");
    [format!(" {name}="), format!(" {name}: ")]
        .iter()
        .find_map(|pat| line.find(pat.as_str()).map(|i| &line[i + pat.len()..]))
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

fn start(purpose: &str, tools: &[&str]) -> Option<(Netns, Tunstack)> {
    if !netns::have_root(purpose) || !tools.iter().all(|t| have_tool(purpose, t)) {
        return None;
    }
    let mut ns = Netns::new(purpose)?;
    let mut ts = ns.spawn_tunstack(&["up", "--seed", "1", "--serve", "echo"]);
    assert!(ts.wait_ready(Duration::from_secs(20)), "{}", ts.stderr());
    Some((ns, ts))
}

fn stop(ts: &mut Tunstack) -> String {
    ts.signal(libc::SIGTERM);
    assert!(
        ts.wait_exit(Duration::from_secs(15)).is_some(),
        "tunstack did not exit on SIGTERM"
    );
    ts.stderr()
}

#[test]
fn attack_fragment_flood_keeps_memory_under_the_cap() {
    let Some((ns, mut ts)) = start("atk-frag", &["python3", "ping"]) else {
        return;
    };
    let pid = ts.pid().expect("pid");
    let before = rss_kib(pid).expect("VmRSS");
    let n = if cfg!(debug_assertions) {
        "20000"
    } else {
        "60000"
    };
    let out = ns.exec(&["timeout", "120", "python3", "-c", PY_FRAG_FLOOD, n]);
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid).expect("VmRSS");
    let ping = ns.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"]);
    let report = stop(&mut ts);
    let flood = String::from_utf8_lossy(&out.stdout).to_string();
    let mem = counter(&report, "stack:", "drop_frag_mem");
    let evicted = counter(&report, "stack:", "frag_evicted");
    let held = counter(&report, "stack:", "delivered_to_reassembly");
    eprintln!(
        "attack_frag: {} -> {held} fragments held for reassembly, frag_evicted {evicted}, \
         drop_frag_mem {mem}, VmRSS {before} -> {after} KiB",
        flood.trim()
    );
    assert!(out.status.success(), "flood failed: {flood}");
    assert!(
        ping.status.success(),
        "ping after the flood failed:\n{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    assert!(evicted + mem > 0, "the 4 MiB cap was never hit:\n{report}");
    // 4 MiB of fragments plus allocator slack.
    assert!(
        after < before + 24 * 1024,
        "VmRSS grew from {before} to {after} KiB"
    );
}

#[test]
fn attack_syn_flood_legitimate_clients_still_connect() {
    let Some((mut ns, mut ts)) = start("atk-syn", &["python3", "hping3"]) else {
        return;
    };
    // Bounded flood: hping3 floods SYNs from random sources to the echo port for 10 s.
    let mut flood_cmd = ns.command("timeout");
    flood_cmd
        .args([
            "10",
            "hping3",
            "--flood",
            "-S",
            "--rand-source",
            "-p",
            "7",
            "198.18.0.2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let flood = ns.spawn(&mut flood_cmd);
    std::thread::sleep(Duration::from_secs(1));
    let o = tcp_tun::python(
        &ns,
        90,
        tcp_tun::PY_MANY_CLIENTS,
        &[tcp_tun::STACK_ADDR, "7", "1000", "60"],
    );
    drop(flood);
    // How long after the flood a new connection gets through (the half-open entries from the
    // flood have to time out first).
    let probe = ns.exec(&[
        "timeout",
        "150",
        "python3",
        "-c",
        PY_FIRST_SUCCESS,
        "198.18.0.2",
        "7",
    ]);
    let recovered = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    let report = stop(&mut ts);
    let out = tcp_tun::text(&o);
    let ok: u32 = out
        .split("ok ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    eprintln!(
        "attack_syn: {ok}/1000 legitimate connections succeeded during the flood; \
         listen_overflows {}, syncookies_sent {}, syncookies_ok {}, segments_in {}; \
         a new connection after the clients: {recovered}",
        counter(&report, "tcp:", "listen_overflows"),
        counter(&report, "tcp:", "syncookies_sent"),
        counter(&report, "tcp:", "syncookies_ok"),
        counter(&report, "tcp:", "segments_in")
    );
    assert!(
        ok >= 990,
        "only {ok}/1000 connected during the SYN flood:\n{out}"
    );
}
