//! Shared by the observability tests: run a `Lab` and keep everything it reports.
#![allow(dead_code)]

use tunstack::capture::Direction;
use tunstack::link::rules::parse_rule;
use tunstack::trace::lab::{Lab, LabConfig, Outcome, Sink};
use tunstack::trace::{Event, Host, Kind};
use tunstack::{Duration, Instant};

#[derive(Default)]
pub struct Collect {
    pub events: Vec<Event>,
    pub packets: Vec<(Instant, Direction, Vec<u8>, Option<String>)>,
}

impl Sink for Collect {
    fn event(&mut self, e: &Event) {
        self.events.push(e.clone());
    }
    fn packet(&mut self, t: Instant, dir: Direction, bytes: &[u8], comment: Option<&str>) {
        self.packets
            .push((t, dir, bytes.to_vec(), comment.map(str::to_string)));
    }
}

/// A lab with `bytes`, a one-way delay of `rtt/2`, optional rate, and the given rules.
pub fn config(bytes: u64, rtt_ms: u64, rate: Option<u64>, rules: &[&str]) -> LabConfig {
    let mut cfg = LabConfig {
        bytes,
        rules: rules.iter().map(|r| parse_rule(r).expect("rule")).collect(),
        ..LabConfig::default()
    };
    for l in [&mut cfg.c2s, &mut cfg.s2c] {
        l.delay = Duration::from_micros(rtt_ms * 500);
        l.rate_bps = rate;
        l.queue_bytes = 256 * 1024;
    }
    cfg
}

pub fn run(cfg: LabConfig) -> (Outcome, Collect) {
    let mut lab = Lab::new(cfg).expect("lab");
    let mut sink = Collect::default();
    let out = lab.run(&mut sink);
    (out, sink)
}

/// (time, seq, len, rexmit, cause) of every data segment `host` sent.
pub fn data_sent(c: &Collect, host: Host) -> Vec<(Instant, u32, u32, bool, &'static str)> {
    c.events
        .iter()
        .filter(|e| e.host == host)
        .filter_map(|e| match &e.kind {
            Kind::Send {
                seg, rexmit, cause, ..
            } if seg.len > 0 => Some((e.t, seg.seq, seg.len, *rexmit, *cause)),
            _ => None,
        })
        .collect()
}

/// (time, seq, len, flags, ack) of every segment `host` received.
pub fn received(c: &Collect, host: Host) -> Vec<(Instant, u32, u32, String, u32)> {
    c.events
        .iter()
        .filter(|e| e.host == host)
        .filter_map(|e| match &e.kind {
            Kind::Recv { seg, .. } => Some((e.t, seg.seq, seg.len, seg.flags.clone(), seg.ack)),
            _ => None,
        })
        .collect()
}

/// Link events: (time, dir, action, reason).
pub fn link_events(c: &Collect) -> Vec<(Instant, &'static str, String, String)> {
    c.events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Link {
                dir,
                action,
                reason,
            } => Some((e.t, *dir, action.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

pub fn tshark() -> Option<&'static str> {
    let ok = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some("tshark")
    } else {
        eprintln!("skipped: tshark is not installed (make test installs it)");
        None
    }
}

/// Count the frames of `pcap` matching a display filter.
pub fn tshark_count(pcap: &std::path::Path, filter: &str) -> usize {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A fresh directory under the target dir for one test's files.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}
