//! `--timestamps`, `--undo` and `--frto` reach the stack, and `--impair 'spike …'` makes the
//! spurious timeout they are about: `tunstack sim` with a delay spike (what the client sends
//! in [200 ms, 300 ms) waits 300 ms more, later segments queue behind; nothing is lost), so one
//! RTO fires and the originals arrive after all. Undone (Eifel with timestamps, RFC 3522;
//! F-RTO without, RFC 5682 §3.1 with SACK and §2 without), the RTO's resend is the only one;
//! switched off, the sender resends the whole window (deterministic: seed 1).

use std::process::Command;

/// The client's retransmissions in `tunstack sim` over the spike, with `extra` switches.
fn retransmissions(extra: &[&str]) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(["sim", "--bytes", "1mb", "--rtt", "40ms", "--cc", "newreno"])
        .args(["--impair", "spike c2s from 200ms to 300ms by 300ms"])
        .args(extra)
        .output()
        .expect("tunstack runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{extra:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("client"))
        .unwrap_or_else(|| panic!("no client line: {text}"));
    assert!(
        line.contains("RTO 1,"),
        "{extra:?}: one timeout expected: {line}"
    );
    line.split("retransmissions ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("bad client line: {line}"))
}

#[test]
fn spurious_timeout_switches_reach_the_stack() {
    let no_sack = [
        "--sack",
        "off",
        "--recovery",
        "newreno",
        "--timestamps",
        "off",
    ];
    for (on, off) in [
        (vec![], vec!["--undo", "off"]),
        (
            vec!["--timestamps", "off"],
            vec!["--timestamps", "off", "--frto", "off"],
        ),
        (
            no_sack.to_vec(),
            [&no_sack[..], &["--frto", "off"]].concat(),
        ),
    ] {
        let (undone, resent) = (retransmissions(&on), retransmissions(&off));
        assert_eq!(undone, 1, "{on:?}: only the RTO's resend");
        assert!(resent >= 50, "{off:?}: the window resent, got {resent}");
    }
}

#[test]
fn bad_switch_values_and_spike_rules_are_refused() {
    for args in [
        vec!["--undo", "maybe"],
        vec!["--frto", "1"],
        vec!["--impair", "spike c2s from 1s to 2s"],
        vec!["--impair", "spike c2s from 2s to 1s by 10ms"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
            .args(["sim", "--bytes", "10kb"])
            .args(&args)
            .output()
            .expect("tunstack runs");
        assert_eq!(out.status.code(), Some(2), "{args:?} must be a usage error");
    }
}
