//! The pcapng writer, read back by tshark (skipped loudly when tshark is not installed).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use tunstack::capture::{Capture, Direction};
use tunstack::wire::checksum::{checksum, transport_checksum};

/// A valid IPv4 datagram around `payload` (protocol `proto`).
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let len = 20 + payload.len();
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = proto;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let c = transport_checksum(src, dst, 17, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, 17, &u)
}

fn echo_request(src: Ipv4Addr, dst: Ipv4Addr, seq: u16) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0x12, 0x34];
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"abcdefgh");
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, 1, &m)
}

fn tshark() -> bool {
    Command::new("tshark").arg("--version").output().is_ok()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tunstack-{name}-{}.pcapng", std::process::id()))
}

/// `tshark -r FILE -T fields -e ...`, one Vec of fields per packet.
fn fields(path: &PathBuf, names: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-T", "fields", "-E", "separator=|"]);
    for n in names {
        cmd.args(["-e", n]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

const KERNEL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const STACK: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

#[test]
fn tshark_reads_addresses_directions_comments_and_timestamps() {
    if !tshark() {
        eprintln!("SKIPPED: tshark not installed (apt-get install tshark)");
        return;
    }
    let path = temp("capture-fields");
    {
        let mut c = Capture::create(&path, 0).unwrap();
        c.write(
            1_700_000_000_000_001,
            Direction::In,
            &echo_request(KERNEL, STACK, 1),
        )
        .unwrap();
        c.write_with_comment(
            1_700_000_000_500_000,
            Direction::Out,
            &udp(STACK, KERNEL, 7, 40000, b"pong"),
            Some("udp-echo: reply to 198.18.0.1:40000"),
        )
        .unwrap();
        c.write_with_comment(
            1_700_000_001_000_000,
            Direction::In,
            &udp(KERNEL, STACK, 40000, 9, &[0u8; 1472]),
            Some("port unreachable sent — ünïcode ok"),
        )
        .unwrap();
        // Dropped without flush: Drop must flush.
    }
    let rows = fields(
        &path,
        &[
            "ip.src",
            "ip.dst",
            "frame.comment",
            "frame.packet_flags_direction",
            "frame.time_epoch",
            "udp.length",
            "icmp.type",
        ],
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0][0], "198.18.0.1");
    assert_eq!(rows[1][0], "198.18.0.2");
    assert_eq!(rows[1][1], "198.18.0.1");
    assert_eq!(rows[0][2], "");
    assert_eq!(rows[1][2], "udp-echo: reply to 198.18.0.1:40000");
    assert_eq!(rows[2][2], "port unreachable sent — ünïcode ok");
    // epb_flags direction: 1 = inbound, 2 = outbound.
    let dir: Vec<u32> = rows
        .iter()
        .map(|r| u32::from_str_radix(r[3].trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert_eq!(dir, vec![1, 2, 1]);
    assert!(
        rows[0][4].starts_with("1700000000.000001"),
        "{}",
        rows[0][4]
    );
    assert!(rows[1][4].starts_with("1700000000.5"), "{}", rows[1][4]);
    assert_eq!(rows[2][5], "1480");
    assert_eq!(rows[0][6], "8");
    // The bytes survived intact: with validation on, every IPv4 header checksum is good (1).
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "ip.checksum.status",
        ])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.lines().collect::<Vec<_>>(), vec!["1", "1", "1"]);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn tshark_reads_a_truncated_capture_and_skipped_is_counted() {
    if !tshark() {
        eprintln!("SKIPPED: tshark not installed (apt-get install tshark)");
        return;
    }
    let path = temp("capture-bounded");
    let max = 4096;
    let (written, skipped) = {
        let mut c = Capture::create(&path, max).unwrap();
        for i in 0..100u16 {
            c.write(
                u64::from(i) * 1000,
                Direction::In,
                &echo_request(KERNEL, STACK, i),
            )
            .unwrap();
        }
        c.flush().unwrap();
        (c.packets(), c.skipped())
    };
    assert_eq!(written + skipped, 100);
    assert!(skipped > 0);
    assert!(std::fs::metadata(&path).unwrap().len() <= max);
    let rows = fields(&path, &["icmp.seq"]);
    assert_eq!(rows.len() as u64, written);
    let seqs: Vec<u64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(seqs, (0..written).collect::<Vec<_>>());
    let _ = std::fs::remove_file(&path);
}
