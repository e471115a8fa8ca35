//! IPv4 output (RFC 791 §3.2): headers of what we send, fragmentation to the MTU, queue order.

use std::net::SocketAddrV4;

use tunstack::stack::testkit::{Scenario, pattern, reassemble};
use tunstack::wire::checksum;
use tunstack::wire::ipv4::{Ipv4Packet, PROTO_UDP};
use tunstack::{Instant, StackConfig};

fn scenario(mtu: usize, ttl: u8) -> Scenario {
    Scenario::with_config(StackConfig {
        mtu,
        ttl,
        seed: 3,
        ..StackConfig::default()
    })
}

#[test]
fn every_fragment_has_a_valid_header_our_ttl_and_one_id() {
    let mut t = scenario(576, 33);
    let h = t.stack.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let to = SocketAddrV4::new(t.peer, 9);
    t.stack.udp_send_to(t.now, h, &pattern(3000), to).unwrap();
    let out = t.transmitted();
    // 3008 bytes of UDP in fragments of 552 (576 - 20, rounded down to 8): 6 fragments.
    assert_eq!(out.len(), 6, "{}", t.trace());
    for (i, f) in out.iter().enumerate() {
        let p = Ipv4Packet::new_checked(f).unwrap();
        assert_eq!(checksum::checksum(p.header()), 0);
        assert_eq!(
            (p.ttl(), p.protocol(), p.src(), p.dst()),
            (33, PROTO_UDP, t.us(), t.peer)
        );
        assert!(
            !p.dont_frag(),
            "UDP leaves DF clear so it may be fragmented"
        );
        assert_eq!(p.frag_offset(), i * 552);
        assert!(f.len() <= 576);
    }
    let ids: Vec<u16> = out
        .iter()
        .map(|f| Ipv4Packet::new_checked(f).unwrap().id())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
}

#[test]
fn datagrams_leave_in_the_order_they_were_queued() {
    let mut t = scenario(1500, 64);
    let h = t.stack.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let to = SocketAddrV4::new(t.peer, 9);
    for i in 0..5u8 {
        t.stack.udp_send_to(t.now, h, &[i; 10], to).unwrap();
    }
    let out = t.transmitted();
    let firsts: Vec<u8> = out.iter().map(|f| f[28]).collect();
    assert_eq!(firsts, vec![0, 1, 2, 3, 4]);
    let ids: Vec<u16> = out
        .iter()
        .map(|f| Ipv4Packet::new_checked(f).unwrap().id())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{ids:?}"
    );
}

#[test]
fn a_buffer_smaller_than_the_mtu_gets_smaller_fragments_and_nothing_is_lost() {
    let mut t = scenario(1500, 64);
    let h = t.stack.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    let data = pattern(2000);
    t.stack
        .udp_send_to(t.now, h, &data, SocketAddrV4::new(t.peer, 9))
        .unwrap();
    let now = Instant::from_secs(1);
    // Too small for a header and 8 bytes: nothing, and the datagram stays queued.
    assert_eq!(t.stack.poll_transmit(now, &mut [0u8; 27]), None);
    assert_eq!(t.stack.out_queue_len(), 1);
    let mut frags = Vec::new();
    let mut buf = [0u8; 600];
    while let Some(n) = t.stack.poll_transmit(now, &mut buf) {
        frags.push(buf[..n].to_vec());
    }
    assert!(frags.iter().all(|f| f.len() <= 600));
    let (_, dgram) = reassemble(&frags);
    assert_eq!(&dgram[8..], &data[..]);
    assert_eq!(t.stack.out_queue_len(), 0);
}

#[test]
fn a_datagram_that_fits_is_not_fragmented() {
    let mut t = scenario(1500, 64);
    let h = t.stack.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    t.stack
        .udp_send_to(t.now, h, &pattern(1472), SocketAddrV4::new(t.peer, 9))
        .unwrap();
    let out = t.expect_one();
    assert_eq!(out.len(), 1500);
    assert!(!Ipv4Packet::new_checked(&out).unwrap().is_fragment());
    assert_eq!(t.stack.stats().frags_out, 0);
    assert_eq!(t.stack.stats().packets_out, 1);
}
