//! The teaching labs (docs/labs/), checked: each test runs `tools/labs/NN.sh` with the tunstack
//! binary cargo built. A lab creates its own network namespace (`ts-labNN-<pid>`), runs its
//! commands there, checks the observations its doc promises and deletes the namespace. So a
//! lab whose text and behaviour drift apart fails here.
//!
//! Exit 77 from a lab means skipped (no root, a missing tool, or a tunstack feature that has
//! not landed): the test prints the lab's SKIPPED line and passes. Labs run one at a time (they
//! measure time; two at once on a 2-core machine would disturb each other).

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Straight to the process's stderr, past the test harness's capture (which only takes
/// `print!`/`eprint!`), so a skipped lab is visible in `make test` even though the test passes.
fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn run_lab(n: u32) {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join(format!("tools/labs/{n:02}.sh"));
    let out_dir =
        std::env::temp_dir().join(format!("tunstack-labs-test-{n:02}-{}", std::process::id()));
    let out = Command::new("bash")
        .arg(&script)
        .env("TUNSTACK_BIN", env!("CARGO_BIN_EXE_tunstack"))
        .env("LAB_OUT", &out_dir)
        // An unoptimised tunstack is slower: labs that measure throughput allow for it.
        .env(
            "LAB_DEBUG_BUILD",
            if cfg!(debug_assertions) { "1" } else { "0" },
        )
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {
            println!("{stdout}");
            // A part of the lab waiting for a feature says so loudly even when the rest passed.
            for l in stderr.lines().filter(|l| l.contains("SKIPPED")) {
                loud(&format!("lab {n}: {l}"));
            }
            let _ = std::fs::remove_dir_all(&out_dir);
        }
        Some(77) => {
            let why = stderr
                .lines()
                .find(|l| l.contains("SKIPPED"))
                .unwrap_or("SKIPPED (no reason given)");
            loud(&format!("lab {n}: {why}"));
        }
        code => panic!(
            "lab {n} ({}) failed with {code:?}; files kept in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            script.display(),
            out_dir.display()
        ),
    }
}

#[test]
fn lab01_handshake_and_close() {
    run_lab(1);
}

#[test]
fn lab02_speed_of_light() {
    run_lab(2);
}

#[test]
fn lab03_bandwidth_vs_latency() {
    run_lab(3);
}

#[test]
fn lab04_rto() {
    run_lab(4);
}

#[test]
fn lab05_fast_retransmit_sack() {
    run_lab(5);
}

#[test]
fn lab06_congestion_control() {
    run_lab(6);
}

#[test]
fn lab07_flow_control() {
    run_lab(7);
}

#[test]
fn lab08_head_of_line_blocking() {
    run_lab(8);
}

#[test]
fn lab09_dns() {
    run_lab(9);
}

#[test]
fn lab10_http11() {
    run_lab(10);
}
