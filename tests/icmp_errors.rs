//! ICMP (RFC 792): echo, the errors we generate (RFC 1812 §4.3.2.3 quotes, RFC 1122 §3.2.2 rules,
//! the rate limit) and the errors we receive.

use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::stack::testkit::{Scenario, pattern};
use tunstack::wire::icmpv4::{self, Icmpv4Packet};
use tunstack::wire::ipv4::{Ipv4Packet, Ipv4Repr, PROTO_ICMP, PROTO_UDP};
use tunstack::wire::udp;
use tunstack::{Duration, SocketError, SocketEvent, StackConfig};

/// Parse a packet we sent as IPv4 + ICMP: (ip src, ip dst, type, code, data).
fn icmp_of(pkt: &[u8]) -> (Ipv4Addr, Ipv4Addr, u8, u8, Vec<u8>) {
    let ip = Ipv4Packet::new_checked(pkt).expect("valid IPv4 out");
    assert_eq!(ip.protocol(), PROTO_ICMP);
    let m = Icmpv4Packet::new_checked(ip.payload()).expect("valid ICMP out");
    (
        ip.src(),
        ip.dst(),
        m.msg_type(),
        m.code(),
        m.data().to_vec(),
    )
}

#[test]
fn echo_request_gets_a_reply_with_the_same_id_seq_and_data() {
    let mut t = Scenario::new();
    let req = t.echo_request(0xabcd, 42, b"ping data, odd length!");
    t.peer_sends(&req);
    let out = t.expect_one();
    let ip = Ipv4Packet::new_checked(&out).unwrap();
    assert_eq!((ip.src(), ip.dst(), ip.ttl()), (t.us(), t.peer, 64));
    let m = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!((m.msg_type(), m.code()), (icmpv4::ECHO_REPLY, 0));
    assert_eq!((m.echo_id(), m.echo_seq()), (0xabcd, 42));
    assert_eq!(m.data(), b"ping data, odd length!");
    let s = t.stack.stats();
    assert_eq!(
        (s.delivered_icmp, s.icmp_echo_replies, s.packets_out),
        (1, 1, 1)
    );
}

#[test]
fn a_corrupt_echo_request_is_counted_and_not_answered() {
    let mut t = Scenario::new();
    let mut req = t.echo_request(1, 1, b"abcdefgh");
    let last = req.len() - 1;
    req[last] ^= 1;
    t.peer_sends(&req);
    t.expect_nothing();
    assert_eq!(t.stack.stats().drop_icmp_bad_checksum, 1);
    let short = t.ip(PROTO_ICMP).build(&[8, 0, 0]);
    t.peer_sends(&short);
    assert_eq!(t.stack.stats().drop_icmp_too_short, 1);
}

#[test]
fn echo_to_broadcast_is_ignored() {
    // RFC 1122 §3.2.2.6: a host MAY silently discard echo requests to a broadcast address.
    let mut t = Scenario::new();
    let m = icmpv4::build_echo(icmpv4::ECHO_REQUEST, 1, 1, b"all?");
    let mut ip = t.ip(PROTO_ICMP);
    ip.dst = Ipv4Addr::new(198, 18, 0, 255);
    t.peer_sends(&ip.build(&m));
    t.expect_nothing();
    assert_eq!(t.stack.stats().drop_broadcast, 1);
}

#[test]
fn udp_to_a_closed_port_gets_port_unreachable_quoting_the_datagram() {
    // RFC 1122 §4.1.3.1; RFC 1812 §4.3.2.3: quote as much as fits in 576 bytes.
    let mut t = Scenario::new();
    let small = t.udp(40000, 9999, b"anyone there?");
    t.peer_sends(&small);
    let (src, dst, ty, code, quote) = icmp_of(&t.expect_one());
    assert_eq!((src, dst), (t.us(), t.peer));
    assert_eq!(
        (ty, code),
        (icmpv4::DEST_UNREACHABLE, icmpv4::CODE_PORT_UNREACHABLE)
    );
    assert_eq!(quote, small, "the whole small datagram is quoted");
    let q = icmpv4::parse_quote(&quote).unwrap();
    assert_eq!((q.src, q.dst, q.protocol), (t.peer, t.us(), PROTO_UDP));
    assert_eq!(&q.transport[..4], &[0x9c, 0x40, 0x27, 0x0f]); // ports 40000 -> 9999

    let big = t.udp(40000, 9999, &pattern(1400));
    t.peer_sends(&big);
    let out = t.expect_one();
    assert_eq!(out.len(), 576, "an error never exceeds 576 bytes");
    let (_, _, _, _, quote) = icmp_of(&out);
    assert_eq!(quote, &big[..548]);
    assert_eq!(t.stack.stats().drop_udp_closed_port, 2);
}

#[test]
fn no_error_about_broadcasts_or_icmp_errors_or_from_unspecified_sources() {
    let mut t = Scenario::new();
    // UDP to the subnet broadcast, closed port: RFC 1812 §4.3.2.7, no error.
    let d = udp::build(t.peer, Ipv4Addr::new(198, 18, 0, 255), 1, 2, b"x");
    let mut ip = t.ip(PROTO_UDP);
    ip.dst = Ipv4Addr::new(198, 18, 0, 255);
    t.peer_sends(&ip.build(&d));
    // UDP from 0.0.0.0 (a DHCP client), closed port: nobody to answer.
    let d = udp::build(Ipv4Addr::UNSPECIFIED, t.us(), 68, 67, b"x");
    let mut ip = t.ip(PROTO_UDP);
    ip.src = Ipv4Addr::UNSPECIFIED;
    t.peer_sends(&ip.build(&d));
    // A fragmented ICMP error whose reassembly times out: no Time Exceeded about an ICMP error
    // (RFC 1122 §3.2.2).
    let err = icmpv4::build_error(icmpv4::DEST_UNREACHABLE, 1, &pattern(600));
    let frags = t.ip(PROTO_ICMP).fragment(&err, 300);
    t.peer_sends(&frags[0]);
    t.advance(Duration::from_secs(31));
    t.expect_nothing();
    let s = t.stack.stats();
    assert_eq!(s.drop_udp_closed_port, 2);
    assert_eq!(s.frag_timeouts, 1);
    assert_eq!(s.icmp_errors_forbidden, 3);
    assert_eq!(s.icmp_errors_sent, 0);
}

#[test]
fn the_rate_limit_suppresses_a_burst_beyond_the_bucket() {
    // RFC 1812 §4.3.2.8: a token bucket of 5 errors per second.
    let mut t = Scenario::with_config(StackConfig {
        icmp_error_rate: 5,
        seed: 1,
        ..StackConfig::default()
    });
    for i in 0..12 {
        let p = t.udp(1000 + i, 7777, b"probe");
        t.peer_sends(&p);
    }
    assert_eq!(t.transmitted().len(), 5);
    let s = t.stack.stats();
    assert_eq!((s.icmp_errors_sent, s.icmp_errors_rate_limited), (5, 7));
    assert_eq!(s.drop_udp_closed_port, 12);
    // 400 ms later two tokens have come back.
    t.advance(Duration::from_millis(400));
    for i in 0..4 {
        let p = t.udp(2000 + i, 7777, b"probe");
        t.peer_sends(&p);
    }
    assert_eq!(t.transmitted().len(), 2);
    assert_eq!(t.stack.stats().icmp_errors_rate_limited, 9);
}

/// What the peer's stack would send back: port unreachable quoting `our_packet`.
fn port_unreachable_for(t: &mut Scenario, our_packet: &[u8]) -> Vec<u8> {
    let m = icmpv4::build_error(
        icmpv4::DEST_UNREACHABLE,
        icmpv4::CODE_PORT_UNREACHABLE,
        our_packet,
    );
    t.ip(PROTO_ICMP).build(&m)
}

#[test]
fn a_connected_socket_gets_connection_refused_after_port_unreachable() {
    let mut t = Scenario::new();
    let h = t.stack.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let remote = SocketAddrV4::new(t.peer, 5353);
    t.stack.udp_connect(h, remote).unwrap();
    t.stack.udp_send(t.now, h, b"query").unwrap();
    let sent = t.expect_one();
    // The peer has nothing on 5353: its kernel answers port unreachable.
    let icmp = port_unreachable_for(&mut t, &sent);
    t.peer_sends(&icmp);
    assert_eq!(t.stack.poll_event(), Some(SocketEvent::Udp(h)));
    assert_eq!(
        t.stack.udp_recv_from(h, &mut [0; 16]),
        Err(SocketError::ConnectionRefused)
    );
    // Reported once, like Linux's sk_err.
    assert_eq!(
        t.stack.udp_recv_from(h, &mut [0; 16]),
        Err(SocketError::WouldBlock)
    );
    // Again, this time seen by the next send.
    t.peer_sends(&icmp);
    assert_eq!(
        t.stack.udp_send(t.now, h, b"again"),
        Err(SocketError::ConnectionRefused)
    );
    t.peer_sends(&icmp);
    assert_eq!(
        t.stack.udp_take_error(h),
        Some(SocketError::ConnectionRefused)
    );
    assert_eq!(t.stack.udp_take_error(h), None);
    let s = t.stack.stats();
    assert_eq!((s.delivered_icmp, s.udp_socket_errors), (3, 3));
}

#[test]
fn an_unconnected_socket_ignores_port_unreachable() {
    let mut t = Scenario::new();
    let h = t.stack.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    t.stack
        .udp_send_to(t.now, h, b"hello", SocketAddrV4::new(t.peer, 5353))
        .unwrap();
    let sent = t.expect_one();
    let icmp = port_unreachable_for(&mut t, &sent);
    t.peer_sends(&icmp);
    assert_eq!(t.stack.udp_take_error(h), None);
    assert_eq!(t.stack.stats().drop_icmp_unmatched, 1);
}

#[test]
fn an_error_quoting_someone_elses_datagram_is_dropped() {
    let mut t = Scenario::new();
    let theirs = Ipv4Repr::new(Ipv4Addr::new(10, 0, 0, 1), t.peer, PROTO_UDP, 0).build(&[0; 8]);
    let icmp = port_unreachable_for(&mut t, &theirs);
    t.peer_sends(&icmp);
    let cut = port_unreachable_for(&mut t, &theirs[..24]);
    t.peer_sends(&cut);
    assert_eq!(t.stack.stats().drop_icmp_bad_quote, 2);
    t.expect_nothing();
}

#[test]
fn an_error_about_one_of_our_tcp_segments_goes_to_tcp() {
    // RFC 1122 §4.2.3.9: TCP acts on ICMP errors; the stack passes the quoted header on.
    let mut t = Scenario::new();
    let mut seg = [0u8; 20];
    seg[0..2].copy_from_slice(&40000u16.to_be_bytes());
    seg[2..4].copy_from_slice(&80u16.to_be_bytes());
    let ours = Ipv4Repr::new(t.us(), t.peer, tunstack::wire::ipv4::PROTO_TCP, 0).build(&seg);
    let icmp = port_unreachable_for(&mut t, &ours);
    t.peer_sends(&icmp);
    let s = t.stack.stats();
    assert_eq!((s.delivered_icmp, s.icmp_errors_received), (1, 1));
    t.expect_nothing();
}
