//! Found by `invariants_soak` (seeds 375, 648, 854, 904, 1705, keep-alive on): an end that
//! half-closed (shutdown(Write): FIN-WAIT-2, not orphaned) and waits for the peer's data never
//! learned that the peer vanished when the peer's RST was lost. First cause, fixed on main
//! (441cb08): keep-alive (RFC 1122 §4.2.3.6) was never armed in FIN-WAIT-2. Second cause (seeds
//! 648, 854), still open: when the keep-alive deadline passes during FIN-WAIT-1 the timer does
//! nothing and is not re-armed, and the ACK of our FIN is processed while still in FIN-WAIT-1
//! (`note_alive` → `arm_keepalive` sees FIN-WAIT-1), so FIN-WAIT-2 starts with no keep-alive
//! timer. Fix: re-arm keep-alive on entering FIN-WAIT-2 (or keep the timer across FIN-WAIT-1).

use std::net::SocketAddrV4;

use tunstack::stack::testkit::{PEER, Scenario};
use tunstack::tcp::Shutdown;
use tunstack::tcp::TcpConfig;
use tunstack::tcp::segment::{ACK, FIN, RST, SYN, Segment};
use tunstack::wire::ipv4::Ipv4Packet;
use tunstack::{Duration, StackConfig};

fn tcp_of(p: &[u8]) -> (u16, u32, u32, u8, u32) {
    let ip = Ipv4Packet::new_checked(p).expect("ipv4");
    let s = Segment::parse(ip.payload()).expect("tcp");
    (s.src_port, s.seq.0, s.ack.0, s.flags, s.seg_len())
}

#[test]
fn keepalive_probes_a_half_closed_connection_whose_peer_vanished() {
    half_closed_then_peer_vanishes(Duration::ZERO);
}

/// Seeds 648 and 854: the peer acknowledges our FIN only after the keep-alive deadline passed
/// (the timer fired in FIN-WAIT-1, where it does nothing); the ACK arrives in FIN-WAIT-1, so
/// nothing arms keep-alive again once in FIN-WAIT-2.
#[test]
fn keepalive_probes_after_a_slow_fin_ack() {
    half_closed_then_peer_vanishes(Duration::from_secs(40));
}

fn half_closed_then_peer_vanishes(fin_ack_delay: Duration) {
    let mut sc = Scenario::with_config(StackConfig {
        seed: 5,
        tcp: TcpConfig {
            keepalive: Some(Duration::from_secs(30)),
            keepalive_interval: Duration::from_secs(5),
            keepalive_probes: 3,
            timestamps: false,
            ..TcpConfig::default()
        },
        ..StackConfig::default()
    });
    let now = sc.now;
    let h = sc
        .stack
        .tcp_connect(now, SocketAddrV4::new(PEER, 7000))
        .expect("connect");
    let (port, iss, _, flags, _) = tcp_of(&sc.expect_one());
    assert_eq!(flags & SYN, SYN);
    let irs = 5000u32;
    let synack = sc.tcp(7000, port, irs, iss.wrapping_add(1), SYN | ACK, &[]);
    sc.peer_sends(&synack);
    sc.transmitted();
    // Half-close: our FIN, acknowledged by the peer -> FIN-WAIT-2.
    let now = sc.now;
    sc.stack
        .tcp_shutdown(now, h, Shutdown::Write)
        .expect("shutdown");
    let fin = sc.expect_one();
    let (_, fseq, _, fflags, _) = tcp_of(&fin);
    assert_eq!(fflags & FIN, FIN);
    // The FIN is retransmitted until the peer acknowledges it.
    for _ in 0..fin_ack_delay.total_millis() / 1000 {
        sc.advance(Duration::from_secs(1));
        sc.transmitted();
    }
    let ack = sc.tcp(7000, port, irs + 1, fseq.wrapping_add(1), ACK, &[]);
    sc.peer_sends(&ack);
    sc.transmitted();
    assert_eq!(sc.stack.tcp_info(h).map(|i| i.state), Some("FIN-WAIT-2"));
    // The peer vanished (its RST was lost). Within the keep-alive time plus the probes, we
    // probe; a host with no such connection answers a probe with RST (RFC 9293 §3.10.7.1).
    let mut probes = 0;
    for _ in 0..120 {
        sc.advance(Duration::from_secs(1));
        for p in sc.transmitted() {
            let (_, _, pack, _, _) = tcp_of(&p);
            probes += 1;
            let rst = sc.tcp(7000, port, pack, 0, RST, &[]);
            sc.peer_sends(&rst);
        }
    }
    assert!(probes > 0, "no keep-alive probe in FIN-WAIT-2 after 120 s");
    assert!(
        sc.stack.tcp_info(h).is_none_or(|i| i.state == "CLOSED"),
        "still {:?}",
        sc.stack.tcp_info(h).map(|i| i.state)
    );
}
