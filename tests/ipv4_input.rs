//! IPv4 input (RFC 791 §3.1, RFC 1122 §3.2.1): every malformed or foreign packet is dropped and
//! counted under its own reason; everything else is delivered.

use std::net::Ipv4Addr;

use tunstack::stack::testkit::Scenario;
use tunstack::wire::checksum;
use tunstack::wire::icmpv4::{self, Icmpv4Packet};
use tunstack::wire::ipv4::{Ipv4Packet, Ipv4Repr, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use tunstack::wire::udp;
use tunstack::{Stats, UdpHandle};

/// Fix the header checksum after editing a header field.
fn refresh_checksum(pkt: &mut [u8]) {
    let hlen = usize::from(pkt[0] & 0x0f) * 4;
    pkt[10] = 0;
    pkt[11] = 0;
    let c = checksum::checksum(&pkt[..hlen]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Send `pkt` to a fresh stack with a socket on port 7; return the stats diff.
fn outcome_of(pkt: &[u8]) -> (Stats, Scenario) {
    let mut t = Scenario::new();
    t.stack.udp_bind("0.0.0.0:7".parse().unwrap()).unwrap();
    t.peer_sends(pkt);
    let s = t.stack.stats().clone();
    assert_eq!(s.packets_in, 1);
    assert!(s.accounted(), "{s}");
    (s, t)
}

/// (what is wrong, the packet, the counter that must count it)
type Case = (&'static str, Vec<u8>, fn(&Stats) -> u64);

fn good_udp() -> Vec<u8> {
    Scenario::new().udp(5000, 7, b"payload")
}

#[test]
fn a_valid_udp_datagram_is_delivered() {
    let (s, mut t) = outcome_of(&good_udp());
    assert_eq!(s.delivered_udp, 1);
    let mut buf = [0u8; 64];
    let (n, from) = t.stack.udp_recv_from(UdpHandle(0), &mut buf).unwrap();
    assert_eq!(&buf[..n], b"payload");
    assert_eq!(from, "198.18.0.1:5000".parse().unwrap());
}

#[test]
fn each_malformed_header_is_counted_under_its_reason() {
    let good = good_udp();
    let mut cases: Vec<Case> = Vec::new();

    let mut v = good.clone();
    v[0] = 0x55;
    cases.push(("version 5", v, |s| s.drop_bad_version));
    let mut v = good.clone();
    v[0] = 0x44;
    refresh_checksum(&mut v[..]);
    cases.push(("IHL 4", v, |s| s.drop_bad_ihl));
    cases.push((
        "total length > bytes",
        good[..good.len() - 1].to_vec(),
        |s| s.drop_truncated,
    ));
    let mut v = good.clone();
    v[2..4].copy_from_slice(&12u16.to_be_bytes());
    refresh_checksum(&mut v);
    cases.push(("total length < header", v, |s| s.drop_bad_total_len));
    let mut v = good.clone();
    v[10] ^= 0xff;
    cases.push(("bad checksum", v, |s| s.drop_bad_checksum));
    cases.push(("12 bytes", good[..12].to_vec(), |s| s.drop_too_short));
    cases.push(("empty", Vec::new(), |s| s.drop_too_short));
    let mut v = good.clone();
    v[16..20].copy_from_slice(&[198, 18, 0, 3]);
    refresh_checksum(&mut v);
    cases.push(("another host", v, |s| s.drop_not_for_us));
    // An IPv6 router solicitation, as the kernel sends when the TUN comes up.
    let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 58, 255];
    v6.extend_from_slice(&[0; 32]);
    v6.extend_from_slice(&[133, 0, 0, 0, 0, 0, 0, 0]);
    cases.push(("IPv6", v6, |s| s.drop_ipv6));

    for (name, pkt, counter) in cases {
        let (s, _) = outcome_of(&pkt);
        assert_eq!(counter(&s), 1, "{name}: {s}");
        assert_eq!(s.dropped(), 1, "{name}: {s}");
        assert_eq!(s.delivered(), 0, "{name}");
    }
}

#[test]
fn trailing_link_padding_is_trimmed() {
    let mut pkt = good_udp();
    pkt.extend_from_slice(&[0xee; 6]);
    let (s, mut t) = outcome_of(&pkt);
    assert_eq!(s.delivered_udp, 1);
    let mut buf = [0u8; 64];
    let (n, _) = t.stack.udp_recv_from(UdpHandle(0), &mut buf).unwrap();
    assert_eq!(&buf[..n], b"payload");
}

#[test]
fn ttl_zero_and_one_are_still_delivered_to_a_host() {
    // RFC 1122 §3.2.1.7: "A host MUST NOT discard a datagram just because it was received with
    // TTL less than 2."
    for ttl in [0u8, 1] {
        let mut pkt = good_udp();
        pkt[8] = ttl;
        refresh_checksum(&mut pkt);
        let (s, _) = outcome_of(&pkt);
        assert_eq!(s.delivered_udp, 1, "ttl {ttl}");
    }
}

#[test]
fn options_are_skipped() {
    // A header with 8 bytes of options (NOP NOP NOP EOL + padding): IHL 7.
    let d = udp::build(
        Ipv4Addr::new(198, 18, 0, 1),
        Ipv4Addr::new(198, 18, 0, 2),
        5000,
        7,
        b"opt",
    );
    let plain = Ipv4Repr::new(
        Ipv4Addr::new(198, 18, 0, 1),
        Ipv4Addr::new(198, 18, 0, 2),
        PROTO_UDP,
        0,
    )
    .build(&d);
    let mut pkt = plain[..20].to_vec();
    pkt.extend_from_slice(&[1, 1, 1, 0, 0, 0, 0, 0]);
    pkt.extend_from_slice(&d);
    pkt[0] = 0x47;
    let total = pkt.len() as u16;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    refresh_checksum(&mut pkt);
    let (s, _) = outcome_of(&pkt);
    assert_eq!(s.delivered_udp, 1, "{s}");
}

#[test]
fn invalid_sources_are_dropped() {
    // RFC 1122 §3.2.1.3: multicast, broadcast and loopback sources are discarded.
    for src in [
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(198, 18, 0, 255),
        Ipv4Addr::new(127, 0, 0, 1),
        Ipv4Addr::new(198, 18, 0, 2),
    ] {
        let d = udp::build(src, Ipv4Addr::new(198, 18, 0, 2), 1, 7, b"x");
        let pkt = Ipv4Repr::new(src, Ipv4Addr::new(198, 18, 0, 2), PROTO_UDP, 0).build(&d);
        let (s, mut t) = outcome_of(&pkt);
        assert_eq!(s.drop_bad_src, 1, "{src}");
        t.expect_nothing();
    }
}

#[test]
fn udp_to_a_broadcast_address_is_accepted_but_tcp_is_not() {
    for dst in [Ipv4Addr::BROADCAST, Ipv4Addr::new(198, 18, 0, 255)] {
        let src = Ipv4Addr::new(198, 18, 0, 1);
        let d = udp::build(src, dst, 68, 7, b"hi all");
        let (s, _) = outcome_of(&Ipv4Repr::new(src, dst, PROTO_UDP, 0).build(&d));
        assert_eq!(s.delivered_udp, 1, "{dst}: {s}");
        let tcp = Ipv4Repr::new(src, dst, PROTO_TCP, 0).build(&[0u8; 20]);
        let (s, _) = outcome_of(&tcp);
        assert_eq!(s.drop_broadcast, 1, "{dst}: {s}");
    }
}

#[test]
fn tcp_for_us_goes_to_the_tcp_layer() {
    let mut t = Scenario::new();
    let seg = [0u8; 20];
    let pkt = t.ip(PROTO_TCP).build(&seg);
    t.peer_sends(&pkt);
    assert_eq!(t.stack.stats().delivered_tcp, 1);
}

#[test]
fn an_unknown_protocol_gets_protocol_unreachable_quoting_the_datagram() {
    // RFC 1122 §3.2.2.1: a host SHOULD generate Destination Unreachable (protocol).
    let mut t = Scenario::new();
    let pkt = t.ip(253).build(b"experimental payload");
    t.peer_sends(&pkt);
    assert_eq!(t.stack.stats().drop_unknown_protocol, 1);
    let out = t.expect_one();
    let ip = Ipv4Packet::new_checked(&out).unwrap();
    assert_eq!(
        (ip.src(), ip.dst(), ip.protocol()),
        (t.us(), t.peer, PROTO_ICMP)
    );
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), icmpv4::DEST_UNREACHABLE);
    assert_eq!(icmp.code(), icmpv4::CODE_PROTOCOL_UNREACHABLE);
    assert_eq!(icmp.data(), &pkt[..]);
}

#[test]
fn old_all_zeros_broadcast_forms_are_accepted_for_udp() {
    // RFC 1122 §3.3.6: hosts SHOULD accept {<net>, 0} and 0.0.0.0 as broadcast destinations.
    for dst in [Ipv4Addr::new(198, 18, 0, 0), Ipv4Addr::UNSPECIFIED] {
        let src = Ipv4Addr::new(198, 18, 0, 1);
        let d = udp::build(src, dst, 68, 7, b"old style");
        let (s, _) = outcome_of(&Ipv4Repr::new(src, dst, PROTO_UDP, 0).build(&d));
        assert_eq!(s.delivered_udp, 1, "{dst}: {s}");
        // ... and a closed port there is not answered (RFC 1812 §4.3.2.7).
        let d = udp::build(src, dst, 68, 8, b"old style");
        let (s, mut t) = outcome_of(&Ipv4Repr::new(src, dst, PROTO_UDP, 0).build(&d));
        assert_eq!((s.drop_udp_closed_port, s.icmp_errors_forbidden), (1, 1));
        t.expect_nothing();
    }
}

#[test]
fn ip_ids_count_up_from_a_seeded_start() {
    // RFC 791 §3.2: the identification distinguishes the fragments of one datagram.
    let ids = |seed: u64| -> Vec<u16> {
        let mut t = Scenario::with_config(tunstack::StackConfig {
            seed,
            ..Default::default()
        });
        (0..3)
            .map(|i| {
                let req = t.echo_request(1, i, b"x");
                t.peer_sends(&req);
                Ipv4Packet::new_checked(&t.expect_one()).unwrap().id()
            })
            .collect()
    };
    let a = ids(1);
    assert_eq!(a[1], a[0].wrapping_add(1));
    assert_eq!(a[2], a[0].wrapping_add(2));
    assert_eq!(a, ids(1));
    assert_ne!(a[0], ids(2)[0]);
}
