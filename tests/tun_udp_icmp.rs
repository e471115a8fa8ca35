//! Real TUN interop: the kernel's own tools (ping, socat, python sockets, tshark) against
//! `tunstack up`, each test in its own network namespace. Without root: SKIPPED, loudly.

mod common;

use std::time::Duration;

use common::netns::{Netns as Ns, Tunstack};

const STACK_ADDR: &str = "198.18.0.2";

fn skip(why: &str) {
    eprintln!("\n*** SKIPPED ({why}) ***\n");
}

/// `tunstack up ARGS` in `ns`, waited for until it says it is ready.
fn start(ns: &mut Ns, args: &[&str]) -> Tunstack {
    let mut argv = vec!["up"];
    argv.extend_from_slice(args);
    let mut ts = ns.spawn_tunstack(&argv);
    assert!(
        ts.wait_ready(Duration::from_secs(10)),
        "tunstack {argv:?} not ready:\n{}",
        ts.stderr()
    );
    ts
}

/// Stop it as Ctrl-C does (it flushes the capture and prints its counters); its stderr.
fn stop(ts: &mut Tunstack) -> String {
    ts.signal(libc::SIGINT);
    assert!(
        ts.wait_exit(Duration::from_secs(10)).is_some(),
        "tunstack did not exit on SIGINT"
    );
    ts.stderr()
}

/// The UDP echo service of `tunstack up` (RFC 862).
const ECHO_PORT: u16 = 7;
/// A port nothing listens on.
const CLOSED_PORT: u16 = 33434;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// "N received" from ping's summary.
fn received(out: &str) -> Option<u32> {
    let line = out.lines().find(|l| l.contains("packets transmitted"))?;
    let part = line.split(',').find(|p| p.contains("received"))?;
    part.split_whitespace().next()?.parse().ok()
}

/// The rtt min from "rtt min/avg/max/mdev = a/b/c/d ms", in ms.
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

fn ping(ns: &Ns, args: &[&str]) -> (bool, String) {
    let mut argv = vec!["ping", "-n"];
    argv.extend_from_slice(args);
    argv.push(STACK_ADDR);
    let o = ns.exec(&argv);
    (o.status.success(), text(&o))
}

#[test]
fn tun_ping_five_echoes() {
    let Some(mut ns) = Ns::new("link-ping") else {
        return;
    };
    let _ts = start(&mut ns, &[]);
    let (ok, out) = ping(&ns, &["-c", "5", "-i", "0.2", "-W", "2"]);
    assert!(ok, "{out}");
    assert_eq!(received(&out), Some(5), "{out}");
}

#[test]
fn tun_ping_fragmented_4000_and_65000() {
    let Some(mut ns) = Ns::new("link-frag") else {
        return;
    };
    let _ts = start(&mut ns, &[]);
    let (ok, out) = ping(&ns, &["-c", "3", "-i", "0.2", "-W", "2", "-s", "4000"]);
    assert!(ok, "{out}");
    assert_eq!(received(&out), Some(3), "{out}");
    assert!(out.contains("4008 bytes from"), "reply size: {out}");
    let (ok, out) = ping(&ns, &["-c", "2", "-i", "0.2", "-W", "3", "-s", "65000"]);
    assert!(ok, "{out}");
    assert_eq!(received(&out), Some(2), "{out}");
}

/// One datagram to the echo port with socat; what came back.
fn socat_echo(ns: &Ns, payload: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = ns
        .command("socat")
        .args(["-t", "1", "-T", "3", "-"])
        .arg(format!("UDP:{STACK_ADDR}:{ECHO_PORT}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn socat");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(payload)
        .expect("write to socat");
    let o = child.wait_with_output().expect("socat");
    assert!(o.status.success(), "socat: {}", text(&o));
    o.stdout
}

fn has(ns: &Ns, prog: &str) -> bool {
    ns.exec(&["sh", "-c", &format!("command -v {prog}")])
        .status
        .success()
}

fn python(ns: &Ns, script: &str) -> String {
    let o = ns.exec(&["python3", "-c", script]);
    assert!(o.status.success(), "python3: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn tun_udp_echo_is_byte_exact() {
    let Some(mut ns) = Ns::new("link-udpecho") else {
        return;
    };
    if !has(&ns, "socat") || !has(&ns, "python3") {
        skip("needs socat and python3");
        return;
    }
    let _ts = start(&mut ns, &[]);
    for size in [1usize, 1472, 8000] {
        let payload: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
        let back = socat_echo(&ns, &payload);
        assert_eq!(
            back.len(),
            size,
            "echo of {size} bytes came back as {}",
            back.len()
        );
        assert!(back == payload, "echo of {size} bytes differs");
    }
    // An empty datagram (socat cannot send one): a plain socket.
    let out = python(
        &ns,
        &format!(
            "import socket\n\
             s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3)\n\
             s.sendto(b'',('{STACK_ADDR}',{ECHO_PORT}))\n\
             d,a=s.recvfrom(65535); print(len(d), a[0], a[1])"
        ),
    );
    assert_eq!(out, format!("0 {STACK_ADDR} {ECHO_PORT}"));
}

#[test]
fn tun_udp_to_closed_port_is_refused() {
    let Some(mut ns) = Ns::new("link-refused") else {
        return;
    };
    let _ts = start(&mut ns, &[]);
    let out = python(
        &ns,
        &format!(
            "import socket\n\
             s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3)\n\
             s.connect(('{STACK_ADDR}',{CLOSED_PORT})); s.send(b'anyone?')\n\
             try:\n  s.recv(100); print('ANSWERED')\n\
             except ConnectionRefusedError: print('ECONNREFUSED')\n\
             except socket.timeout: print('TIMEOUT')"
        ),
    );
    assert_eq!(out, "ECONNREFUSED");
}

/// Packets in `file` matching the display filter.
fn tshark_count(file: &std::path::Path, filter: &str) -> usize {
    let o = std::process::Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-Y", filter])
        .output()
        .expect("tshark");
    assert!(o.status.success(), "tshark: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).lines().count()
}

#[test]
fn tun_pcap_has_the_expected_packets() {
    let Some(mut ns) = Ns::new("link-pcap") else {
        return;
    };
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        skip("needs tshark");
        return;
    }
    let file = std::env::temp_dir().join(format!("{}.pcapng", ns.name));
    let mut ts = start(&mut ns, &["--pcap", file.to_str().expect("utf-8 path")]);
    let (ok, out) = ping(&ns, &["-c", "3", "-i", "0.2", "-W", "2"]);
    assert!(ok, "{out}");
    let back = socat_echo(&ns, b"captured");
    assert_eq!(back, b"captured");
    stop(&mut ts);
    let f = file.as_path();
    assert_eq!(tshark_count(f, "icmp.type == 8"), 3);
    assert_eq!(tshark_count(f, "icmp.type == 0"), 3);
    assert_eq!(tshark_count(f, &format!("udp.dstport == {ECHO_PORT}")), 1);
    assert_eq!(tshark_count(f, &format!("udp.srcport == {ECHO_PORT}")), 1);
    // Direction flags: requests inbound to our stack, replies outbound.
    assert_eq!(
        tshark_count(f, "icmp.type == 8 && frame.packet_flags_direction == 1"),
        3
    );
    assert_eq!(
        tshark_count(f, "icmp.type == 0 && frame.packet_flags_direction == 2"),
        3
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn tun_loss_100_percent_makes_ping_fail() {
    let Some(mut ns) = Ns::new("link-loss") else {
        return;
    };
    let _ts = start(&mut ns, &["--loss", "100%", "--seed", "1"]);
    let (ok, out) = ping(&ns, &["-c", "3", "-i", "0.2", "-W", "1"]);
    assert!(!ok, "ping through a 100% loss link succeeded: {out}");
    assert_eq!(received(&out), Some(0), "{out}");
}

#[test]
fn tun_delay_50ms_adds_at_least_100ms_of_rtt() {
    let base = {
        let Some(mut ns) = Ns::new("link-rttbase") else {
            return;
        };
        let _ts = start(&mut ns, &[]);
        let (ok, out) = ping(&ns, &["-c", "3", "-i", "0.2", "-W", "2"]);
        assert!(ok, "{out}");
        rtt_min_ms(&out).expect("rtt line")
    };
    let Some(mut ns) = Ns::new("link-rttdelay") else {
        return;
    };
    let _ts = start(&mut ns, &["--delay", "50ms"]);
    let (ok, out) = ping(&ns, &["-c", "3", "-i", "0.2", "-W", "3"]);
    assert!(ok, "{out}");
    let delayed = rtt_min_ms(&out).expect("rtt line");
    eprintln!("rtt min: baseline {base} ms, with --delay 50ms {delayed} ms");
    // Lower bounds only: 50 ms each way, and never faster than the undelayed link.
    assert!(delayed >= 100.0, "{out}");
    assert!(delayed >= base, "{out}");
}
