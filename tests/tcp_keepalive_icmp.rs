// RFC 1122 §4.2.3.6 (keep-alive, off by default) and §4.2.3.9 / RFC 5927 (ICMP errors: hard
// errors abort a connection in SYN-SENT, soft errors never kill an established one); many
// connections stay cheap (timer heap, 4-tuple table).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use std::net::SocketAddrV4;
use tunstack::SocketError;
use tunstack::tcp::TcpConfig;
use tunstack::time::{Duration, Instant};

fn quoted(src_port: u16, dst_port: u16, seq: u32) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&src_port.to_be_bytes());
    q.extend_from_slice(&dst_port.to_be_bytes());
    q.extend_from_slice(&seq.to_be_bytes());
    q
}

#[test]
fn keepalive_is_off_by_default() {
    // RFC 1122 §4.2.3.6: "MUST default to off".
    let mut t = Scenario::established();
    t.advance_ms(3 * 3600 * 1000).expect_nothing();
    t.expect_state("ESTABLISHED");
}

#[test]
fn keepalive_probes_then_times_out() {
    // RFC 1122 §4.2.3.6: probe after the idle time with SEG.SEQ = SND.NXT - 1; an unanswered
    // series ends the connection.
    let cfg = TcpConfig {
        keepalive: Some(Duration::from_secs(10)),
        keepalive_interval: Duration::from_secs(2),
        keepalive_probes: 2,
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.advance_ms(9999).expect_nothing();
    t.advance_ms(1)
        .expect_tx(seg().seq(ISS).ack(IRS + 1).len(0));
    // An answer resets the idle clock.
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    t.advance_ms(9999).expect_nothing();
    t.advance_ms(1).expect_tx(seg().seq(ISS));
    t.advance_ms(2000).expect_tx(seg().seq(ISS));
    let h = t.handle();
    t.advance_ms(1999);
    assert_eq!(t.tcp.connect_status(h), Ok(()));
    t.advance_ms(1);
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::TimedOut));
}

#[test]
fn port_unreachable_aborts_syn_sent() {
    // RFC 1122 §4.2.3.9 / RFC 5927 §3: a hard error during connection setup aborts it.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    let h = t.handle();
    // A quote with the wrong sequence number is ignored (RFC 5927 §4.1).
    t.tcp
        .handle_icmp_error(t.now, 3, 3, US_IP, PEER_IP, &quoted(80, PEER.port(), 77));
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::WouldBlock));
    t.tcp
        .handle_icmp_error(t.now, 3, 3, US_IP, PEER_IP, &quoted(80, PEER.port(), ISS));
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::ConnectionRefused));
    assert_eq!(t.stats().icmp_errors, 1);
    assert_eq!(t.stats().icmp_ignored, 1);
}

#[test]
fn unreachable_does_not_kill_an_established_connection() {
    // RFC 5927 §4.1 / RFC 1122 §4.2.3.9: soft in synchronized states: report, don't abort.
    let mut t = Scenario::established();
    t.app_write(b"data");
    let _ = t.drain();
    t.tcp.handle_icmp_error(
        t.now,
        3,
        1,
        US_IP,
        PEER_IP,
        &quoted(80, PEER.port(), ISS + 1),
    );
    t.expect_state("ESTABLISHED");
    let h = t.handle();
    assert_eq!(t.tcp.take_error(h), Some(SocketError::HostUnreachable));
    assert_eq!(t.tcp.connect_status(h), Ok(()));
}

#[test]
fn ten_thousand_connections_share_one_timer_heap() {
    // RFC 6298 §5 timers for 10 000 connections: thousands of connections stay cheap: poll_timeout is the heap's top, timers fire by heap.
    let mut t = Scenario::new(TcpConfig::default());
    let mut buf = [0u8; 1500];
    for i in 0..10_000u32 {
        let local = SocketAddrV4::new(US_IP, 0);
        let remote = SocketAddrV4::new(PEER_IP, 1 + (i % 60000) as u16);
        t.tcp
            .connect(Instant::from_micros(u64::from(i)), local, remote)
            .unwrap();
    }
    let mut syns = 0;
    while t.tcp.poll_transmit(t.now, &mut buf).is_some() {
        syns += 1;
    }
    assert_eq!(syns, 10_000);
    assert_eq!(t.tcp.poll_timeout(), Some(Instant::from_secs(1)));
    t.now = Instant::from_secs(2);
    t.tcp.handle_timeout(t.now);
    let mut again = 0;
    while t.tcp.poll_transmit(t.now, &mut buf).is_some() {
        again += 1;
    }
    assert_eq!(again, 10_000, "every SYN retransmitted once");
}

#[test]
fn keepalive_can_be_switched_per_connection() {
    // RFC 9293 §3.8.4: keep-alive, if implemented, is switchable per connection.
    let mut t = Scenario::established();
    let h = t.handle();
    t.tcp
        .set_keepalive(t.now, h, Some(Duration::from_secs(30)))
        .unwrap();
    t.advance_ms(29_999).expect_nothing();
    t.advance_ms(1).expect_tx(seg().seq(ISS).len(0));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    t.tcp.set_keepalive(t.now, h, None).unwrap();
    t.advance_ms(600_000).expect_nothing();
}

#[test]
fn keepalive_probes_a_half_closed_connection_in_fin_wait_2() {
    // RFC 1122 §4.2.3.6 names no state; like Linux, keep-alive also runs in FIN-WAIT-2, so a
    // half-closed end whose peer vanished (its RST lost) does not wait forever.
    let cfg = TcpConfig {
        keepalive: Some(Duration::from_secs(10)),
        keepalive_interval: Duration::from_secs(2),
        keepalive_probes: 2,
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.app_shutdown_write();
    t.expect_tx(seg().fin().seq(ISS + 1));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2));
    t.expect_state("FIN-WAIT-2");
    t.advance_ms(9999).expect_nothing();
    // SEG.SEQ = SND.NXT - 1: the FIN's sequence number.
    t.advance_ms(1)
        .expect_tx(seg().seq(ISS + 1).ack(IRS + 1).len(0));
    t.advance_ms(2000).expect_tx(seg().seq(ISS + 1));
    t.advance_ms(2000);
    t.expect_state("CLOSED");
    assert_eq!(t.app_read(), Err(SocketError::TimedOut));
}
