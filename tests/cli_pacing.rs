//! `--pacing on|off` reaches the stack: on a path whose queue (40 kB) is far below the
//! bandwidth-delay product (625 kB), `tunstack sim --pacing on` loses the slow-start bursts
//! less early and delivers the same megabyte sooner than `--pacing off` (deterministic: seed 1).

use std::process::Command;

fn sim(pacing: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args([
            "sim", "--bytes", "1mb", "--rtt", "50ms", "--rate", "100mbit",
        ])
        .args(["--queue", "40kb", "--cc", "cubic", "--pacing", pacing])
        .output()
        .expect("tunstack runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// Seconds after "delivered by" in the summary.
fn delivered_by(summary: &str) -> f64 {
    let rest = summary
        .split("delivered by ")
        .nth(1)
        .unwrap_or_else(|| panic!("no result line: {summary}"));
    rest.split('s')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("bad result line: {summary}"))
}

#[test]
fn sim_pacing_switch_changes_the_transfer() {
    let (ok_off, off) = sim("off");
    let (ok_on, on) = sim("on");
    assert!(ok_off && ok_on, "{off}\n{on}");
    let (t_off, t_on) = (delivered_by(&off), delivered_by(&on));
    assert!(
        t_on < t_off,
        "pacing on {t_on} s, off {t_off} s\n{off}\n{on}"
    );
    let (ok, _) = sim("maybe");
    assert!(!ok, "--pacing maybe must be refused");
}
