//! The TCP-aware TUN ceilings against the real kernel, each in a namespace of its own (root;
//! skipped loudly without): the sink must have received in order, and ACKed, every byte the
//! kernel client wrote; the kernel reader must have read every byte the source sent.

use std::collections::HashMap;
use std::process::Command;

/// `ip netns add ts-ceil-<purpose>-<pid>`, deleted on drop (even when the test panics).
struct Netns(String);

impl Netns {
    fn new(purpose: &str) -> Option<Netns> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 || Command::new("ip").arg("-V").output().is_err() {
            eprintln!("SKIPPED: {purpose}: needs root and `ip` (creates a namespace and a TUN)");
            return None;
        }
        let name = format!("ts-ceil-{purpose}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let st = Command::new("ip").args(["netns", "add", &name]).status();
        assert!(st.is_ok_and(|s| s.success()), "ip netns add {name}");
        Some(Netns(name))
    }

    /// `tsbench ARGS` inside the namespace: its `key=value` line, or a panic with its stderr.
    fn tsbench(&self, args: &[&str]) -> HashMap<String, String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, env!("CARGO_BIN_EXE_tsbench")])
            .args(args)
            .output()
            .expect("run ip netns exec");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "tsbench {args:?}: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn num(m: &HashMap<String, String>, k: &str) -> f64 {
    m.get(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {k} in {m:?}"))
}

#[test]
fn tcp_sink_receives_and_acks_everything_the_kernel_wrote() {
    for ack in ["every2", "eagain"] {
        let Some(ns) = Netns::new(&format!("sink-{ack}")) else {
            return;
        };
        let m = ns.tsbench(&["tcp-sink", "--tun", "tsc0", "--secs", "0.3", "--ack", ack]);
        let written = num(&m, "written");
        assert!(
            written > 1e6,
            "the kernel client wrote only {written} bytes: {m:?}"
        );
        assert_eq!(num(&m, "received"), written, "{m:?}");
        // The kernel's send queue (SIOCOUTQ) after its FIN: everything ACKed by the sink.
        assert_eq!(num(&m, "kernel_unacked"), 0.0, "{m:?}");
        assert!(num(&m, "gbps") > 0.0 && num(&m, "packets") > 0.0, "{m:?}");
        // The policy's floor (more ACKs come when the queue runs empty, which depends on the
        // load): at least every second full-sized segment, or one per batch of 256.
        let per_seg = num(&m, "acks_per_seg");
        let floor = if ack == "every2" {
            0.499
        } else {
            1.0 / 256.0 - 1e-3
        };
        assert!(per_seg >= floor, "{ack}: {per_seg} ACKs per segment: {m:?}");
    }
}

#[test]
fn tcp_source_delivers_every_byte_to_the_kernel_reader() {
    let Some(ns) = Netns::new("source") else {
        return;
    };
    let m = ns.tsbench(&["tcp-source", "--tun", "tsc0", "--secs", "0.3"]);
    let sent = num(&m, "sent");
    assert!(sent > 1e6, "sent only {sent} bytes: {m:?}");
    assert_eq!(num(&m, "kernel_read"), sent, "{m:?}");
    assert!(num(&m, "gbps") > 0.0, "{m:?}");
}
