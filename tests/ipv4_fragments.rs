//! Fragment reassembly (RFC 791 §3.2, RFC 1122 §3.3.2) and outgoing fragmentation.

use tunstack::rng::Rng;
use tunstack::stack::testkit::{Scenario, pattern, reassemble};
use tunstack::wire::icmpv4::{self, Icmpv4Packet};
use tunstack::wire::ipv4::{Ipv4Packet, Ipv4Repr, MAX_DATAGRAM, PROTO_ICMP, PROTO_UDP};
use tunstack::wire::udp;
use tunstack::{Duration, StackConfig, UdpHandle};

/// A UDP datagram from the peer to port 9, cut into fragments of at most `mtu` bytes.
fn udp_fragments(t: &mut Scenario, payload: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let d = udp::build(t.peer, t.us(), 4000, 9, payload);
    t.ip(PROTO_UDP).fragment(&d, mtu)
}

fn with_socket() -> (Scenario, UdpHandle) {
    let mut t = Scenario::new();
    let h = t.stack.udp_bind("0.0.0.0:9".parse().unwrap()).unwrap();
    (t, h)
}

#[track_caller]
fn recv(t: &mut Scenario, h: UdpHandle) -> Vec<u8> {
    let mut buf = vec![0u8; 70_000];
    let (n, _) = t.stack.udp_recv_from(h, &mut buf).expect("a datagram");
    buf.truncate(n);
    buf
}

#[test]
fn fragments_in_order_reassemble() {
    let (mut t, h) = with_socket();
    let data = pattern(3000);
    let frags = udp_fragments(&mut t, &data, 576);
    assert_eq!(frags.len(), 6);
    t.peer_sends_all(&frags);
    assert_eq!(recv(&mut t, h), data);
    let s = t.stack.stats();
    assert_eq!((s.delivered_to_reassembly, s.delivered_udp), (5, 1));
    assert_eq!(s.frag_reassembled, 1);
    assert_eq!(t.stack.reassembly_pending(), (0, 0));
    assert!(s.accounted());
}

#[test]
fn fragments_in_reverse_order_reassemble() {
    let (mut t, h) = with_socket();
    let data = pattern(5000);
    let mut frags = udp_fragments(&mut t, &data, 1500);
    frags.reverse();
    t.peer_sends_all(&frags);
    assert_eq!(recv(&mut t, h), data);
}

#[test]
fn fragments_in_random_order_reassemble() {
    let mut rng = Rng::new(11);
    for round in 0..20 {
        let (mut t, h) = with_socket();
        let data = pattern(1000 + round * 397);
        let mut frags = udp_fragments(&mut t, &data, 68 + 8 * (round % 5));
        for i in (1..frags.len()).rev() {
            frags.swap(i, rng.below(i as u64 + 1) as usize);
        }
        t.peer_sends_all(&frags);
        assert_eq!(recv(&mut t, h), data, "round {round}");
        assert!(t.stack.stats().accounted());
    }
}

#[test]
fn an_exact_duplicate_fragment_is_tolerated() {
    let (mut t, h) = with_socket();
    let data = pattern(2000);
    let frags = udp_fragments(&mut t, &data, 1000);
    t.peer_sends(&frags[0]).peer_sends(&frags[0]);
    t.peer_sends_all(&frags[1..]);
    assert_eq!(recv(&mut t, h), data);
    assert_eq!(t.stack.stats().drop_frag_duplicate, 1);
}

#[test]
fn an_overlapping_fragment_discards_the_whole_datagram() {
    // RFC 5722 (for IPv6, applied here): overlaps are an attack, not a retransmission.
    let (mut t, h) = with_socket();
    let data = pattern(2000);
    let d = udp::build(t.peer, t.us(), 4000, 9, &data);
    let ip = t.ip(PROTO_UDP);
    let frags = ip.fragment(&d, 1020); // 1000 bytes per fragment
    // A fragment at offset 992 carrying 16 bytes straddles the first boundary.
    let mut bad = ip.clone();
    bad.frag_offset = 992;
    bad.more_frags = true;
    let overlap = bad.build(&d[992..1008]);
    t.peer_sends(&frags[0]).peer_sends(&overlap);
    t.peer_sends_all(&frags[1..]);
    assert_eq!(
        t.stack.udp_recv_from(h, &mut [0; 64]).unwrap_err(),
        tunstack::SocketError::WouldBlock
    );
    let s = t.stack.stats();
    assert_eq!(s.drop_frag_overlap, 1);
    assert_eq!(s.frag_reassembled, 0);
    assert!(s.accounted());
}

#[test]
fn a_datagram_beyond_65535_bytes_is_refused() {
    // RFC 791 §3.1: the "ping of death": last fragment at offset 65528 with 16 bytes.
    let mut t = Scenario::new();
    let mut ip = t.ip(PROTO_ICMP);
    ip.frag_offset = 65528;
    t.peer_sends(&ip.build(&[0; 16]));
    assert_eq!(t.stack.stats().drop_frag_too_big, 1);
    assert_eq!(t.stack.reassembly_pending().0, 0);
}

#[test]
fn a_timeout_after_fragment_zero_sends_time_exceeded() {
    // RFC 1122 §3.3.2 / RFC 792: reassembly timeout -> Time Exceeded code 1, if fragment 0 came.
    let (mut t, _h) = with_socket();
    let data = pattern(3000);
    let frags = udp_fragments(&mut t, &data, 1500);
    t.peer_sends(&frags[0]);
    let deadline = t.stack.poll_timeout().expect("a reassembly deadline");
    assert_eq!(deadline, t.now + Duration::from_secs(30));
    t.advance(Duration::from_secs(29));
    t.expect_nothing();
    t.advance(Duration::from_secs(1));
    let out = t.expect_one();
    let ip = Ipv4Packet::new_checked(&out).unwrap();
    assert_eq!(ip.dst(), t.peer);
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), icmpv4::TIME_EXCEEDED);
    assert_eq!(icmp.code(), icmpv4::CODE_REASSEMBLY_TIME_EXCEEDED);
    // The quote: the first fragment's header and the start of its data.
    assert_eq!(icmp.data(), &frags[0][..548]);
    let s = t.stack.stats();
    assert_eq!((s.frag_timeouts, s.icmp_errors_sent), (1, 1));
    assert_eq!(t.stack.reassembly_pending(), (0, 0));
    assert_eq!(t.stack.poll_timeout(), None);
}

#[test]
fn a_timeout_without_fragment_zero_is_silent() {
    let (mut t, _h) = with_socket();
    let frags = udp_fragments(&mut t, &pattern(3000), 1500);
    t.peer_sends(&frags[1]);
    t.advance(Duration::from_secs(31));
    t.expect_nothing();
    assert_eq!(t.stack.stats().frag_timeouts, 1);
}

#[test]
fn memory_cap_evicts_the_oldest_datagram() {
    let mut t = Scenario::with_config(StackConfig {
        frag_mem_limit: 8 * 1024,
        seed: 1,
        ..StackConfig::default()
    });
    let h = t.stack.udp_bind("0.0.0.0:9".parse().unwrap()).unwrap();
    // Three half-sent 6000-byte datagrams: the first fragments of each (1480 bytes).
    let mut all = Vec::new();
    for _ in 0..5 {
        let frags = udp_fragments(&mut t, &pattern(6000), 1500);
        t.peer_sends(&frags[0]);
        all.push(frags);
    }
    let (held, mem) = t.stack.reassembly_pending();
    assert!(mem <= 8 * 1024, "{mem}");
    assert!(held < 5);
    let evicted = t.stack.stats().frag_evicted;
    assert_eq!(evicted as usize, 5 - held);
    // The newest datagram is still there and completes.
    t.peer_sends_all(&all[4][1..]);
    assert_eq!(recv(&mut t, h), pattern(6000));
    // A datagram that alone exceeds the cap is dropped and counted.
    let big = udp_fragments(&mut t, &pattern(20_000), 1500);
    t.peer_sends_all(&big);
    assert!(t.stack.stats().drop_frag_mem > 0);
    assert!(t.stack.reassembly_pending().1 <= 8 * 1024);
    assert!(t.stack.stats().accounted());
}

#[test]
fn a_4000_byte_fragmented_ping_is_answered_in_fragments() {
    let mut t = Scenario::new();
    let data = pattern(4000);
    let request = icmpv4::build_echo(icmpv4::ECHO_REQUEST, 0x77, 3, &data);
    let frags = t.ip(PROTO_ICMP).fragment(&request, 1500);
    assert_eq!(frags.len(), 3);
    t.peer_sends_all(&frags);
    let out = t.transmitted();
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|p| p.len() <= 1500));
    let (header, reply) = reassemble(&out);
    assert_eq!(header[9], PROTO_ICMP);
    let icmp = Icmpv4Packet::new_checked(&reply).unwrap();
    assert_eq!(icmp.msg_type(), icmpv4::ECHO_REPLY);
    assert_eq!((icmp.echo_id(), icmp.echo_seq()), (0x77, 3));
    assert_eq!(icmp.data(), &data[..]);
    assert_eq!(t.stack.stats().frags_out, 3);
}

#[test]
fn the_largest_ping_65507_bytes_works_both_ways() {
    let mut t = Scenario::new();
    // `ping -s 65507`: 65507 data bytes + 8 ICMP + 20 IP = 65535, the largest datagram.
    let data = pattern(65507);
    let request = icmpv4::build_echo(icmpv4::ECHO_REQUEST, 1, 1, &data);
    assert_eq!(request.len() + 20, MAX_DATAGRAM);
    let frags = t.ip(PROTO_ICMP).fragment(&request, 1500);
    t.peer_sends_all(&frags);
    let out = t.transmitted();
    assert_eq!(out.len(), 45); // ceil(65515 / 1480)
    let (_, reply) = reassemble(&out);
    let icmp = Icmpv4Packet::new_checked(&reply).unwrap();
    assert_eq!(
        (icmp.msg_type(), icmp.data()),
        (icmpv4::ECHO_REPLY, &data[..])
    );
}

#[test]
fn a_large_udp_send_is_fragmented_on_8_byte_boundaries() {
    let mut t = Scenario::with_config(StackConfig {
        mtu: 1000,
        seed: 1,
        ..StackConfig::default()
    });
    let h = t.stack.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let data = pattern(5000);
    let peer = std::net::SocketAddrV4::new(t.peer, 53);
    assert_eq!(t.stack.udp_send_to(t.now, h, &data, peer), Ok(5000));
    let out = t.transmitted();
    assert!(out.iter().all(|p| p.len() <= 1000));
    let ids: Vec<u16> = out
        .iter()
        .map(|p| Ipv4Packet::new_checked(p).unwrap().id())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let (header, dgram) = reassemble(&out);
    let ip = Ipv4Repr::new(t.us(), t.peer, PROTO_UDP, 0);
    assert_eq!(header[9], ip.protocol);
    let u = udp::UdpPacket::new_checked(t.us(), t.peer, &dgram).unwrap();
    assert_eq!(u.payload(), &data[..]);
    assert_eq!(u.dst_port(), 53);
}
