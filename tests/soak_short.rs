//! The short soak in `make test`: `tools/soak.sh` for 45 s (15 s in debug builds) against the
//! tunstack binary of this build, in its own network namespace with 1 % loss each way. Bulk
//! HTTP up/downloads (curl), echo (socat), churn of short connections and UDP echo all at once;
//! fails on any corrupted byte, resident-memory growth after warm-up, fd growth, or a kind of
//! traffic that stalls. `make soak` runs the same for 10 minutes. Skipped loudly without root.

use std::process::Command;

#[test]
fn soak_short_mixed_traffic_with_loss() {
    let secs = if cfg!(debug_assertions) { "15" } else { "45" };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/soak.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(secs)
        .env("TUNSTACK_BIN", env!("CARGO_BIN_EXE_tunstack"))
        .output()
        .expect("run tools/soak.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    if text.contains("SKIPPED") {
        return;
    }
    assert!(out.status.success(), "soak failed:\n{text}");
    assert!(text.contains("soak: ok"), "{text}");
}
