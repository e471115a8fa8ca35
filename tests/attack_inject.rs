//! Attacks on a real TUN device, each in its own network namespace (skipped loudly without
//! root): forged segments injected by a raw socket on the kernel side (`tests/attack_inject.py`
//! learns the live sequence numbers by sniffing the TUN device).
//!
//! - RFC 5961: a blind RST or SYN in the window (not at RCV.NXT) draws a challenge ACK and does
//!   not reset; data with an unacceptable ACK is dropped; old data is not re-delivered; the
//!   connection keeps echoing byte-exact. Control: a RST exactly at RCV.NXT does reset.
//! - Out-of-order flood: thousands of segments ahead of RCV.NXT (1-byte islands and 1000-byte
//!   pieces) keep the resident memory of tunstack bounded and are counted as dropped once the
//!   reassembly bounds are hit; the real stream still flows.

#[path = "common/netns.rs"]
mod netns;

use std::time::Duration;

use netns::{Netns, Tunstack, have_tool};

const SCRIPT: &str = include_str!("attack_inject.py");

/// Resident set size of a process, in KiB (`VmRSS` of /proc/PID/status).
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

fn start(purpose: &str) -> Option<(Netns, Tunstack)> {
    if !netns::have_root(purpose) || !have_tool(purpose, "python3") {
        return None;
    }
    let mut ns = Netns::new(purpose)?;
    let mut ts = ns.spawn_tunstack(&["up", "--seed", "1", "--serve", "echo"]);
    assert!(ts.wait_ready(Duration::from_secs(20)), "{}", ts.stderr());
    Some((ns, ts))
}

fn run_script(ns: &Netns, mode: &str, n: &str) -> (bool, String) {
    let out = ns.exec(&[
        "timeout",
        "120",
        "python3",
        "-c",
        SCRIPT,
        "tunstack0",
        mode,
        n,
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Stop tunstack with SIGTERM; its exit report (counters).
fn stop(ts: &mut Tunstack) -> String {
    ts.signal(libc::SIGTERM);
    let st = ts.wait_exit(Duration::from_secs(15));
    assert!(st.is_some(), "tunstack did not exit on SIGTERM");
    ts.stderr()
}

#[test]
fn attack_blind_in_window_rst_syn_and_data_do_not_kill_or_corrupt() {
    let Some((_ns, mut ts)) = start("atk-rst") else {
        return;
    };
    let (ok, out) = run_script(&_ns, "rst", "0");
    let report = stop(&mut ts);
    eprintln!("{out}");
    assert!(
        ok,
        "the connection did not survive the injections:\n{out}\n{report}"
    );
    for line in [
        "alive_after_rst True",
        "alive_after_syn True",
        "alive_after_data True",
        "alive_after_old_data True",
        // The control: the injection path really reaches the connection.
        "control_after_exact_rst reset",
    ] {
        assert!(out.contains(line), "expected `{line}`:\n{out}\n{report}");
    }
    let challenges = counter(&report, "tcp:", "challenge_acks");
    assert!(
        challenges >= 2,
        "RFC 5961 challenge ACKs: {challenges}\n{report}"
    );
    assert!(counter(&report, "tcp:", "drop_bad_ack") >= 3, "{report}");
    eprintln!(
        "attack_rst: challenge_acks {challenges}, challenge_ack_limited {}, drop_bad_ack {}",
        counter(&report, "tcp:", "challenge_ack_limited"),
        counter(&report, "tcp:", "drop_bad_ack")
    );
}

#[test]
fn attack_out_of_order_flood_keeps_memory_bounded() {
    let Some((ns, mut ts)) = start("atk-ooo") else {
        return;
    };
    let pid = ts.pid().expect("pid");
    let before = rss_kib(pid).expect("VmRSS");
    let n = if cfg!(debug_assertions) {
        "5000"
    } else {
        "30000"
    };
    let (ok, out) = run_script(&ns, "ooo", n);
    let after = rss_kib(pid).expect("VmRSS");
    let report = stop(&mut ts);
    eprintln!("{out}");
    assert!(
        ok,
        "the stream stopped flowing after the flood:\n{out}\n{report}"
    );
    let full = counter(&report, "tcp:", "drop_reassembly_full");
    let seen = counter(&report, "tcp:", "segments_in");
    eprintln!(
        "attack_ooo: {n} segments sent, {seen} seen by TCP, drop_reassembly_full {full}, \
         VmRSS {before} -> {after} KiB"
    );
    assert!(full > 0, "the reassembly bounds were never hit:\n{report}");
    // One connection's out-of-order store is bounded by its 256 KiB window and 256 pieces.
    assert!(
        after < before + 16 * 1024,
        "VmRSS grew from {before} to {after} KiB"
    );
}
