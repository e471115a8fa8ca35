//! `tunstack ss` against a running `tunstack up` in a network namespace: an established
//! connection from the kernel side shows up with its state, addresses and byte counts.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::netns::{Netns, have_tool, tunstack_bin};

#[test]
fn ss_shows_an_established_connection() {
    let Some(mut ns) = Netns::new("ss") else {
        return;
    };
    if !have_tool("ss", "socat") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(&ns.name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut cmd = ns.command(tunstack_bin());
    cmd.env("XDG_RUNTIME_DIR", &dir);
    let mut ts = ns.spawn_tunstack_with(cmd, &["up", "--tun", "tsss0", "--serve", "discard"]);
    assert!(ts.wait_ready(Duration::from_secs(20)), "{}", ts.stderr());
    let sock = dir.join("tunstack").join("tsss0.sock");

    // The kernel side opens a connection to discard (TCP 9), sends 5 bytes and holds it open.
    let mut client = ns.command("sh");
    client
        .args(["-c", "(printf hello; sleep 30) | socat - TCP:198.18.0.2:9"])
        .stdout(Stdio::null());
    let _client = ns.spawn(&mut client);

    let end = Instant::now() + Duration::from_secs(15);
    let mut last = String::new();
    while Instant::now() < end {
        let out = Command::new(tunstack_bin())
            .args(["ss", "--socket"])
            .arg(&sock)
            .output()
            .expect("tunstack ss runs");
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() && last.contains("ESTABLISHED") && last.contains("bytes_received:5")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let line = last
        .lines()
        .find(|l| l.starts_with("ESTABLISHED"))
        .unwrap_or_else(|| panic!("no ESTABLISHED line: {last}"));
    assert!(
        line.contains("198.18.0.2:9") && line.contains("198.18.0.1:"),
        "{line}"
    );
    assert!(last.contains("bytes_received:5"), "{last}");
    assert!(
        last.contains("cwnd:") && last.contains("rto:") && last.contains("rtt:"),
        "{last}"
    );
    assert!(
        last.contains("tcp: ") && last.contains("segments_in="),
        "{last}"
    );

    // Without a running stack behind it, `ss` says so and fails.
    let out = Command::new(tunstack_bin())
        .args(["ss", "--socket"])
        .arg(dir.join("nothing.sock"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no running"));

    ts.signal(libc::SIGTERM);
    assert!(ts.wait_exit(Duration::from_secs(10)).is_some());
    assert!(!sock.exists(), "the socket is removed at exit");
}
