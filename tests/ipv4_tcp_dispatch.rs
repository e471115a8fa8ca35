//! TCP dispatch (RFC 9293 via `TcpLayer`): segments for us go to the TCP layer, its segments leave
//! in an IPv4 header with DF set, and TCP shares `poll_transmit` fairly with ICMP/UDP.

use std::net::SocketAddrV4;

use tunstack::StackConfig;
use tunstack::stack::testkit::Scenario;
use tunstack::wire::checksum;
use tunstack::wire::ipv4::{Ipv4Packet, PROTO_TCP, PROTO_UDP};

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

fn listening(ttl: u8) -> Scenario {
    let mut t = Scenario::with_config(StackConfig {
        ttl,
        seed: 9,
        ..StackConfig::default()
    });
    t.stack.tcp_listen("0.0.0.0:80".parse().unwrap()).unwrap();
    t
}

#[test]
fn a_syn_is_answered_by_a_syn_ack_in_a_df_ipv4_header() {
    let mut t = listening(42);
    let syn = t.tcp(40000, 80, 1000, 0, SYN, b"");
    t.peer_sends(&syn);
    assert_eq!(t.stack.stats().delivered_tcp, 1);
    let out = t.expect_one();
    let ip = Ipv4Packet::new_checked(&out).unwrap();
    assert_eq!(
        (ip.src(), ip.dst(), ip.protocol()),
        (t.us(), t.peer, PROTO_TCP)
    );
    assert_eq!(ip.ttl(), 42);
    assert!(
        ip.dont_frag(),
        "TCP sets DF (RFC 9293 §3.7.1 sizes segments to the MTU)"
    );
    let seg = ip.payload();
    assert_eq!(
        checksum::transport_checksum(ip.src(), ip.dst(), PROTO_TCP, seg),
        0
    );
    assert_eq!(&seg[0..4], &[0, 80, 0x9c, 0x40], "ports swapped");
    assert_eq!(seg[13] & (SYN | ACK), SYN | ACK, "{}", t.trace());
    assert_eq!(u32::from_be_bytes([seg[8], seg[9], seg[10], seg[11]]), 1001);
}

#[test]
fn tcp_and_the_udp_queue_take_turns() {
    let mut t = listening(64);
    let h = t.stack.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    for i in 0..3u16 {
        let syn = t.tcp(41000 + i, 80, 5000, 0, SYN, b"");
        t.peer_sends(&syn);
        t.stack
            .udp_send_to(t.now, h, b"dgram", SocketAddrV4::new(t.peer, 9))
            .unwrap();
    }
    let protos: Vec<u8> = t
        .transmitted()
        .iter()
        .map(|p| Ipv4Packet::new_checked(p).unwrap().protocol())
        .collect();
    assert_eq!(
        protos,
        vec![
            PROTO_UDP, PROTO_TCP, PROTO_UDP, PROTO_TCP, PROTO_UDP, PROTO_TCP
        ],
        "{}",
        t.trace()
    );
}

#[test]
fn tcp_to_a_broadcast_address_never_reaches_tcp() {
    let mut t = listening(64);
    let mut syn = t.tcp(40000, 80, 1, 0, SYN, b"");
    // Rewrite the destination to the subnet broadcast and fix the header checksum.
    syn[19] = 255;
    syn[10] = 0;
    syn[11] = 0;
    let c = checksum::checksum(&syn[..20]);
    syn[10..12].copy_from_slice(&c.to_be_bytes());
    t.peer_sends(&syn);
    t.expect_nothing();
    let s = t.stack.stats();
    assert_eq!((s.drop_broadcast, s.delivered_tcp), (1, 0));
}
