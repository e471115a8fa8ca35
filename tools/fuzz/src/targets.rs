//! The body of every fuzz target, as plain functions: the cargo-fuzz binaries call them, and
//! `tests/invariants_fuzz_regressions.rs` replays the seed corpus and every saved crash through
//! them on stable `cargo test` (it includes this file by path).
#![allow(dead_code)]

use std::net::Ipv4Addr;

use tunstack::services::dns::message::Message;
use tunstack::services::dns::{self, CLASSIC_UDP, MAX_UDP, Transport, Zone};
use tunstack::services::parse_request_head;
use tunstack::tcp::segment::{Header, Segment};
use tunstack::wire::icmpv4::{self, Icmpv4Packet};
use tunstack::wire::ipv4::Ipv4Packet;
use tunstack::wire::pretty;
use tunstack::wire::udp::UdpPacket;

use crate::harness::{Harness, Mode};
use crate::model::{ReassemblyModel, decode_ops};

/// Target names, as in `Cargo.toml` and the corpus directories.
pub const TARGETS: [&str; 8] = [
    "wire",
    "http_request",
    "dns_message",
    "dns_zone",
    "tcp_reassembly",
    "stack",
    "tcp_established",
    "ip_fragments",
];

/// Run target `name` on `data` (panics on a finding).
pub fn run(name: &str, data: &[u8]) {
    match name {
        "wire" => wire(data),
        "http_request" => http_request(data),
        "dns_message" => dns_message(data),
        "dns_zone" => dns_zone(data),
        "tcp_reassembly" => tcp_reassembly(data),
        "stack" => Harness::run(data, Mode::All),
        "tcp_established" => tcp_established(data),
        "ip_fragments" => Harness::run(data, Mode::Fragments),
        _ => panic!("unknown fuzz target {name}"),
    }
}

pub fn tcp_established(data: &[u8]) {
    let (mode, rest) = match data.split_first() {
        Some((b, rest)) if b & 1 == 1 => (Mode::TcpOutOfOrder, rest),
        Some((_, rest)) => (Mode::Tcp, rest),
        None => (Mode::Tcp, data),
    };
    Harness::run(rest, mode)
}

pub fn tcp_reassembly(data: &[u8]) {
    let mut m = ReassemblyModel::new(16 * 1024, 16);
    for op in decode_ops(data) {
        m.apply(op);
    }
}

/// Every wire parser; a parsed TCP header re-emitted parses to the same fields.
pub fn wire(data: &[u8]) {
    let (src, dst) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
    let _ = pretty::summary(data);
    if let Ok(ip) = Ipv4Packet::new_checked(data) {
        assert!(ip.header_len() >= 20 && ip.header_len() <= ip.total_len());
        assert!(ip.total_len() <= data.len());
        let _ = (
            ip.src(),
            ip.dst(),
            ip.frag_offset(),
            ip.payload(),
            ip.header(),
        );
    }
    if let Ok(icmp) = Icmpv4Packet::new_checked(data) {
        let _ = (icmp.echo_id(), icmp.echo_seq(), icmp.rest_of_header());
        let _ = icmpv4::parse_quote(icmp.data());
    }
    let _ = icmpv4::parse_quote(data);
    if let Ok(u) = UdpPacket::new_checked(src, dst, data) {
        assert!(u.payload().len() + 8 <= data.len());
    }
    let _ = Segment::parse_checked(src, dst, data);
    if let Ok(s) = Segment::parse(data) {
        assert!(s.payload.len() <= data.len());
        // Re-emit the header it parsed and parse that again: the same fields come back.
        let h = Header {
            src_port: s.src_port,
            dst_port: s.dst_port,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            window: s.window,
            options: s.options,
        };
        let mut buf = [0u8; 60];
        if let Some(n) = h.emit(&mut buf) {
            let again = Segment::parse(&buf[..n]).expect("our own header parses");
            assert_eq!((again.seq, again.ack, again.flags), (s.seq, s.ack, s.flags));
            assert_eq!(
                (again.src_port, again.dst_port, again.window),
                (s.src_port, s.dst_port, s.window)
            );
            assert_eq!(again.options, s.options);
        }
    }
}

/// The HTTP request-head parser.
pub fn http_request(data: &[u8]) {
    if let Ok(Some((req, used))) = parse_request_head(data) {
        assert!(
            used <= data.len(),
            "consumed {used} of {} bytes",
            data.len()
        );
        assert!(req.headers.len() <= 100, "more than MAX_HEADERS");
        // Parsing only the head it consumed gives the same request.
        let again = parse_request_head(&data[..used]);
        assert!(matches!(again, Ok(Some((_, n))) if n == used), "{again:?}");
    }
}

/// The DNS message parser and the server's answer (`services/dns`): a parsed message encodes
/// and parses back to itself; an answer is a valid message within the UDP size limit.
pub fn dns_message(data: &[u8]) {
    if let Ok(m) = Message::parse(data) {
        // Compression is case-insensitive (RFC 1035 §2.3.3, as BIND does): a name pointing at an
        // earlier one that differs only in case takes its case. So the round trip is equal up to
        // case, and encoding is stable from then on.
        let bytes = m.to_bytes();
        let again = match Message::parse(&bytes) {
            Ok(a) => a,
            Err(e) => panic!("our own encoding does not parse: {e:?}"),
        };
        assert_eq!(again.to_bytes(), bytes, "encoding is not stable");
        assert_eq!(
            again.case_folded(),
            m.case_folded(),
            "re-encoded message differs beyond name case"
        );
    }
    let zone = dns::zone();
    for t in [Transport::Udp, Transport::Tcp] {
        let (resp, _) = dns::respond(&zone, data, t);
        if let Some(r) = resp {
            assert!(Message::parse(&r).is_ok(), "our own answer does not parse");
            if t == Transport::Udp {
                assert!(
                    r.len() <= MAX_UDP.max(CLASSIC_UDP),
                    "UDP answer of {} bytes",
                    r.len()
                );
            }
        }
    }
}

/// The zone-file parser (`--dns-zone FILE`): never panics, and a parsed zone answers queries.
pub fn dns_zone(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(zone) = Zone::parse(text) {
        // A query for the apex SOA, and one for a name from the text.
        let q = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
        ];
        let (r, _) = dns::respond(&zone, &q, Transport::Udp);
        assert!(r.is_some_and(|r| Message::parse(&r).is_ok()));
    }
}
