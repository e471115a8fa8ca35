//! Found by `invariants_soak` (seeds 375, 648, 854, 904, 1705 with keep-alive on): an end that
//! half-closed (shutdown(Write), so FIN-WAIT-2, not orphaned) and waits for the peer's data
//! never learns that the peer vanished when the peer's RST was lost. Keep-alive (RFC 1122
//! §4.2.3.6) is armed only in ESTABLISHED and CLOSE-WAIT, so the connection stays in FIN-WAIT-2
//! forever. Linux keeps probing in FIN-WAIT-2 too. Ignored until the engine arms keep-alive in
//! FIN-WAIT-2 (`arm_keepalive` / `on_keepalive` in src/tcp/connection/).

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
#[ignore = "bug: keep-alive is not armed in FIN-WAIT-2 (RFC 1122 §4.2.3.6)"]
fn keepalive_probes_a_half_closed_connection_whose_peer_vanished() {
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
