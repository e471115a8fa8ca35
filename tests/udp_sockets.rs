//! UDP (RFC 768): binding, ephemeral ports, the demultiplexer's precedence, bounded queues,
//! checksums and sending.

use std::net::SocketAddrV4;

use tunstack::stack::testkit::{Scenario, pattern};
use tunstack::wire::ipv4::{Ipv4Packet, MAX_UDP_PAYLOAD, PROTO_UDP};
use tunstack::wire::udp::{self, UdpPacket};
use tunstack::{SocketError, SocketEvent, StackConfig, UdpHandle};

fn sa(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

/// Which socket got the datagram (and its payload), or None.
fn who_got(t: &mut Scenario, hs: &[UdpHandle]) -> Option<(UdpHandle, Vec<u8>)> {
    let mut buf = [0u8; 2048];
    for &h in hs {
        if let Ok((n, _)) = t.stack.udp_recv_from(h, &mut buf) {
            return Some((h, buf[..n].to_vec()));
        }
    }
    None
}

#[test]
fn a_connected_socket_beats_a_wildcard_one_for_its_peer_only() {
    let mut t = Scenario::new();
    let wildcard = t.stack.udp_bind(sa("0.0.0.0:5000")).unwrap();
    let connected = t.stack.udp_bind(sa("198.18.0.2:5000")).unwrap();
    t.stack
        .udp_connect(connected, sa("198.18.0.1:6000"))
        .unwrap();

    let from_peer = t.udp(6000, 5000, b"for connected");
    t.peer_sends(&from_peer);
    assert_eq!(
        who_got(&mut t, &[wildcard, connected]).unwrap().0,
        connected
    );

    let from_other_port = t.udp(6001, 5000, b"for wildcard");
    t.peer_sends(&from_other_port);
    assert_eq!(who_got(&mut t, &[wildcard, connected]).unwrap().0, wildcard);
}

#[test]
fn a_socket_on_our_address_beats_one_on_0_0_0_0() {
    let mut t = Scenario::new();
    let any = t.stack.udp_bind(sa("0.0.0.0:53")).unwrap();
    let specific = t.stack.udp_bind(sa("198.18.0.2:53")).unwrap();
    let p = t.udp(1234, 53, b"q");
    t.peer_sends(&p);
    assert_eq!(who_got(&mut t, &[any, specific]).unwrap().0, specific);
    // After the specific one closes, the wildcard gets the traffic.
    t.stack.udp_close(specific);
    let p = t.udp(1234, 53, b"q2");
    t.peer_sends(&p);
    assert_eq!(who_got(&mut t, &[any]).unwrap(), (any, b"q2".to_vec()));
}

#[test]
fn binding_rules() {
    let mut t = Scenario::new();
    let a = t.stack.udp_bind(sa("0.0.0.0:7")).unwrap();
    assert_eq!(
        t.stack.udp_bind(sa("0.0.0.0:7")),
        Err(SocketError::AddrInUse)
    );
    assert_eq!(
        t.stack.udp_bind(sa("10.0.0.1:8")),
        Err(SocketError::AddrNotAvailable)
    );
    assert_eq!(t.stack.udp_local_addr(a), Ok(sa("0.0.0.0:7")));
    assert_eq!(t.stack.udp_peer_addr(a), Err(SocketError::NotConnected));
    assert_eq!(
        t.stack.udp_connect(a, sa("198.18.0.1:0")),
        Err(SocketError::InvalidInput)
    );
    t.stack.udp_close(a);
    assert_eq!(t.stack.udp_local_addr(a), Err(SocketError::InvalidHandle));
    assert!(
        t.stack.udp_bind(sa("0.0.0.0:7")).is_ok(),
        "the port is free again"
    );
}

#[test]
fn ephemeral_ports_are_in_the_dynamic_range_distinct_and_seeded() {
    // RFC 6335 §6: 49152-65535.
    let ports = |seed: u64| -> Vec<u16> {
        let mut t = Scenario::with_config(StackConfig {
            seed,
            ..StackConfig::default()
        });
        (0..200)
            .map(|_| {
                let h = t.stack.udp_bind(sa("0.0.0.0:0")).unwrap();
                t.stack.udp_local_addr(h).unwrap().port()
            })
            .collect()
    };
    let a = ports(1);
    assert!(a.iter().all(|p| *p >= 49152));
    let mut dedup = a.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), a.len(), "no port handed out twice");
    assert_eq!(a, ports(1), "same seed, same ports");
    assert_ne!(a, ports(2));
}

#[test]
fn ephemeral_ports_run_out_cleanly() {
    let mut t = Scenario::new();
    for _ in 49152..=65535u32 {
        t.stack.udp_bind(sa("0.0.0.0:0")).unwrap();
    }
    assert_eq!(
        t.stack.udp_bind(sa("0.0.0.0:0")),
        Err(SocketError::AddrInUse)
    );
}

#[test]
fn a_full_receive_queue_drops_and_counts() {
    let mut t = Scenario::with_config(StackConfig {
        udp_queue_len: 4,
        seed: 1,
        ..StackConfig::default()
    });
    let h = t.stack.udp_bind(sa("0.0.0.0:9")).unwrap();
    for i in 0..10u8 {
        let p = t.udp(1000, 9, &[i]);
        t.peer_sends(&p);
    }
    assert_eq!(t.stack.udp_queued(h), Ok(4));
    let s = t.stack.stats();
    assert_eq!((s.delivered_udp, s.drop_udp_queue_full), (4, 6));
    // The first four were kept, in order; one event for the socket.
    assert_eq!(t.stack.poll_event(), Some(SocketEvent::Udp(h)));
    assert_eq!(t.stack.poll_event(), None);
    for i in 0..4u8 {
        assert_eq!(who_got(&mut t, &[h]).unwrap().1, vec![i]);
    }
    t.expect_nothing();
}

#[test]
fn checksums_zero_is_none_and_bad_is_dropped() {
    let mut t = Scenario::new();
    let h = t.stack.udp_bind(sa("0.0.0.0:9")).unwrap();
    let mut d = udp::build(t.peer, t.us(), 1, 9, b"no checksum");
    d[6] = 0;
    d[7] = 0;
    let p = t.ip(PROTO_UDP).build(&d);
    t.peer_sends(&p);
    assert_eq!(who_got(&mut t, &[h]).unwrap().1, b"no checksum");
    d = udp::build(t.peer, t.us(), 1, 9, b"corrupted");
    d[9] ^= 4;
    let p = t.ip(PROTO_UDP).build(&d);
    t.peer_sends(&p);
    assert!(who_got(&mut t, &[h]).is_none());
    let p = t.ip(PROTO_UDP).build(&d[..5]);
    t.peer_sends(&p);
    let s = t.stack.stats();
    assert_eq!((s.drop_udp_bad_checksum, s.drop_udp_malformed), (1, 1));
    t.expect_nothing();
}

#[test]
fn recv_truncates_to_the_buffer_like_recv_from() {
    let mut t = Scenario::new();
    let h = t.stack.udp_bind(sa("0.0.0.0:9")).unwrap();
    let p = t.udp(1, 9, b"0123456789");
    t.peer_sends(&p);
    let mut small = [0u8; 4];
    assert_eq!(
        t.stack.udp_recv_from(h, &mut small),
        Ok((4, sa("198.18.0.1:1")))
    );
    assert_eq!(&small, b"0123");
    assert_eq!(
        t.stack.udp_recv_from(h, &mut small),
        Err(SocketError::WouldBlock)
    );
}

#[test]
fn send_to_builds_a_checksummed_datagram_from_our_port() {
    let mut t = Scenario::new();
    let h = t.stack.udp_bind(sa("0.0.0.0:4444")).unwrap();
    assert_eq!(
        t.stack.udp_send_to(t.now, h, b"hi", sa("198.18.0.1:53")),
        Ok(2)
    );
    let out = t.expect_one();
    let ip = Ipv4Packet::new_checked(&out).unwrap();
    assert_eq!(
        (ip.src(), ip.dst(), ip.protocol()),
        (t.us(), t.peer, PROTO_UDP)
    );
    assert!(!ip.dont_frag());
    let u = UdpPacket::new_checked(ip.src(), ip.dst(), ip.payload()).unwrap();
    assert_ne!(u.checksum(), 0, "we always send a checksum");
    assert_eq!(
        (u.src_port(), u.dst_port(), u.payload()),
        (4444, 53, &b"hi"[..])
    );
}

#[test]
fn send_limits() {
    let mut t = Scenario::new();
    let h = t.stack.udp_bind(sa("0.0.0.0:0")).unwrap();
    let to = sa("198.18.0.1:9");
    let max = pattern(MAX_UDP_PAYLOAD);
    assert_eq!(t.stack.udp_send_to(t.now, h, &max, to), Ok(65507));
    let too_big = pattern(MAX_UDP_PAYLOAD + 1);
    assert_eq!(
        t.stack.udp_send_to(t.now, h, &too_big, to),
        Err(SocketError::MessageTooLong)
    );
    assert_eq!(
        t.stack.udp_send(t.now, h, b"x"),
        Err(SocketError::NotConnected)
    );
    assert_eq!(
        t.stack.udp_send_to(t.now, h, b"x", sa("198.18.0.1:0")),
        Err(SocketError::InvalidInput)
    );
    assert_eq!(
        t.stack.udp_send_to(t.now, UdpHandle(999), b"x", to),
        Err(SocketError::InvalidHandle)
    );
    // The 65507-byte datagram leaves as 45 fragments of at most 1500 bytes.
    let out = t.transmitted();
    assert_eq!(out.len(), 45);
    assert!(out.iter().all(|p| p.len() <= 1500));
}

#[test]
fn the_output_queue_is_bounded() {
    let mut t = Scenario::new();
    let h = t.stack.udp_bind(sa("0.0.0.0:0")).unwrap();
    let to = sa("198.18.0.1:9");
    let chunk = pattern(60_000);
    let mut accepted = 0;
    let err = loop {
        match t.stack.udp_send_to(t.now, h, &chunk, to) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 1000, "never refused");
    };
    assert_eq!(err, SocketError::NoBufferSpace);
    assert_eq!(t.stack.stats().out_queue_full, 1);
    assert_eq!(t.stack.out_queue_len(), accepted);
    // Draining makes room again.
    t.transmitted();
    assert!(t.stack.udp_send_to(t.now, h, &chunk, to).is_ok());
}

#[test]
fn a_receive_queue_is_bounded_in_bytes_too() {
    // 2 MiB per socket: 34 datagrams of 60000 bytes fit, the rest are dropped and counted.
    let mut t = Scenario::new();
    let h = t.stack.udp_bind(sa("0.0.0.0:9")).unwrap();
    let big = pattern(60_000);
    for _ in 0..40 {
        let p = t.udp(1000, 9, &big);
        t.peer_sends(&p);
    }
    assert_eq!(t.stack.udp_queued(h), Ok(34));
    assert_eq!(t.stack.stats().drop_udp_queue_full, 6);
    // Reading one makes room for one more.
    let mut buf = vec![0u8; 65536];
    assert_eq!(t.stack.udp_recv_from(h, &mut buf).map(|r| r.0), Ok(60_000));
    let p = t.udp(1000, 9, &big);
    t.peer_sends(&p);
    assert_eq!(t.stack.udp_queued(h), Ok(34));
}
