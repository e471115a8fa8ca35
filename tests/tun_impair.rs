//! The link emulator on a real TUN: what `ping` sees through `tunstack up --duplicate/--corrupt/
//! --rate/--loss`. Each test in its own namespace; without root: SKIPPED, loudly.

mod common;

use std::time::Duration;

use common::netns::{Netns, Tunstack};

const STACK_ADDR: &str = "198.18.0.2";

fn start(ns: &mut Netns, args: &[&str]) -> Tunstack {
    let mut argv = vec!["up"];
    if !args.contains(&"--serve") {
        argv.extend_from_slice(&["--serve", "udp-echo"]);
    }
    argv.extend_from_slice(args);
    let mut ts = ns.spawn_tunstack(&argv);
    assert!(
        ts.wait_ready(Duration::from_secs(10)),
        "tunstack {argv:?} not ready:\n{}",
        ts.stderr()
    );
    ts
}

fn ping(ns: &Netns, args: &[&str]) -> (bool, String) {
    let mut argv = vec!["ping", "-n"];
    argv.extend_from_slice(args);
    argv.push(STACK_ADDR);
    let o = ns.exec(&argv);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

/// A number right before `what` in ping's summary line ("3 received", "+9 duplicates").
fn summary(out: &str, what: &str) -> Option<u32> {
    let line = out.lines().find(|l| l.contains("packets transmitted"))?;
    let part = line.split(',').find(|p| p.contains(what))?;
    part.split_whitespace()
        .next()?
        .trim_start_matches('+')
        .parse()
        .ok()
}

fn rtt_min_ms(out: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.contains("min/avg/max"))?;
    line.split('=')
        .nth(1)?
        .trim()
        .split('/')
        .next()?
        .parse()
        .ok()
}

#[test]
fn tun_duplicate_100_percent_doubles_each_way() {
    let Some(mut ns) = Netns::new("link-dup") else {
        return;
    };
    let _ts = start(&mut ns, &["--duplicate", "100%", "--seed", "1"]);
    // Wait long enough after the last request for every copy to arrive.
    let (ok, out) = ping(&ns, &["-c", "3", "-i", "0.3", "-W", "2"]);
    assert!(ok, "{out}");
    assert_eq!(summary(&out, "received"), Some(3), "{out}");
    // Each request arrives twice and each of the 2 replies is doubled: 4 replies per request.
    // (ping stops at the first reply to its last request, so count the earlier ones.)
    for seq in [1, 2] {
        let n = out
            .lines()
            .filter(|l| l.contains(&format!("icmp_seq={seq} ")))
            .count();
        assert_eq!(n, 4, "replies to request {seq}:\n{out}");
    }
    let dups = summary(&out, "duplicates").expect("duplicates in the summary");
    assert!((6..=9).contains(&dups), "{out}");
    assert!(out.contains("DUP!"), "{out}");
}

#[test]
fn tun_corrupt_100_percent_every_packet_caught_by_a_checksum() {
    let Some(mut ns) = Netns::new("link-corrupt") else {
        return;
    };
    let mut ts = start(&mut ns, &["--corrupt", "100%", "--seed", "3"]);
    let (ok, out) = ping(&ns, &["-c", "3", "-i", "0.2", "-W", "1"]);
    assert!(
        !ok,
        "a ping got through a link that flips a bit in every packet: {out}"
    );
    assert_eq!(summary(&out, "received"), Some(0), "{out}");
    ts.signal(libc::SIGINT);
    assert!(ts.wait_exit(Duration::from_secs(10)).is_some());
    let report = ts.stderr();
    assert!(
        report.contains("icmp_echo_replies: 0"),
        "the stack answered a corrupted request:\n{report}"
    );
}

#[test]
fn tun_rate_limit_adds_serialization_time() {
    let Some(mut ns) = Netns::new("link-rate") else {
        return;
    };
    let _ts = start(&mut ns, &["--rate", "1mbit"]);
    // 1028-byte datagrams at 1 Mbit/s: 8.2 ms to serialize, once each way.
    let (ok, out) = ping(&ns, &["-c", "3", "-i", "0.2", "-W", "2", "-s", "1000"]);
    assert!(ok, "{out}");
    let min = rtt_min_ms(&out).expect("rtt line");
    assert!(
        min >= 2.0 * 1028.0 * 8.0 / 1e3,
        "rtt {min} ms below 2 x 8.224 ms:\n{out}"
    );
}

#[test]
fn tun_loss_50_percent_loses_some_not_all() {
    let Some(mut ns) = Netns::new("link-loss50") else {
        return;
    };
    let _ts = start(&mut ns, &["--loss", "50%", "--seed", "11"]);
    let (_, out) = ping(&ns, &["-c", "20", "-i", "0.05", "-W", "1"]);
    let got = summary(&out, "received").expect("summary");
    // An exchange survives with probability 1/4; with this seed neither none nor all.
    assert!(got > 0 && got < 20, "{got} of 20:\n{out}");
}

/// `curl` of /bytes/N through `tunstack up ARGS` in a fresh namespace: (size, sha256, pcap rows
/// that Wireshark flags as retransmissions).
fn download(purpose: &str, args: &[&str], n: u64) -> Option<(u64, String, usize)> {
    let mut ns = Netns::new(purpose)?;
    if !common::netns::have_tool(purpose, "curl") || !common::netns::have_tool(purpose, "tshark") {
        return None;
    }
    let pcap = std::env::temp_dir().join(format!("{}.pcapng", ns.name));
    let mut argv = vec!["--serve", "http", "--pcap", pcap.to_str()?];
    argv.extend_from_slice(args);
    let mut ts = start(&mut ns, &argv);
    let o = ns.sh(&format!(
        "curl -sS -m 60 http://{STACK_ADDR}/bytes/{n} | sha256sum; \
         curl -sS -m 60 -o /dev/null -w '%{{size_download}}' http://{STACK_ADDR}/bytes/{n}"
    ));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    ts.signal(libc::SIGINT);
    assert!(ts.wait_exit(Duration::from_secs(10)).is_some());
    let mut lines = out.lines();
    let sha = lines.next()?.split_whitespace().next()?.to_string();
    let size = lines.next()?.trim().parse().ok()?;
    let t = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-Y", "tcp.analysis.retransmission"])
        .output()
        .expect("tshark");
    let retrans = String::from_utf8_lossy(&t.stdout).lines().count();
    let _ = std::fs::remove_file(&pcap);
    Some((size, sha, retrans))
}

#[test]
fn tun_tcp_download_through_a_hostile_link_is_byte_exact() {
    let n = 1_000_000;
    let Some((size0, sha0, re0)) = download("link-dlclean", &[], n) else {
        return;
    };
    assert_eq!(size0, n);
    assert_eq!(re0, 0, "retransmissions on a clean link");
    let hostile = [
        "--loss",
        "2%",
        "--delay",
        "5ms",
        "--reorder",
        "1%",
        "--duplicate",
        "1%",
        "--corrupt",
        "0.5%",
        "--seed",
        "5",
    ];
    let Some((size, sha, re)) = download("link-dlhostile", &hostile, n) else {
        return;
    };
    assert_eq!(size, n);
    assert_eq!(sha, sha0, "content differs from the clean download");
    assert!(re > 0, "Wireshark saw no retransmission through 2% loss");
    eprintln!("hostile link: {re} retransmissions flagged by tshark");
}
