// RFC 9293 §3.10.1 / §3.10.7.2: a listener's SYN and accept queues are bounded by the backlog;
// SYNs beyond it are dropped and counted (the peer retransmits).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::SocketError;
use tunstack::tcp::TcpConfig;

#[test]
fn backlog_overflow_is_counted_and_recovers_after_accept() {
    // RFC 9293 §3.10.7.2: SYNs beyond the backlog are dropped (counted); accept() makes room.
    // (SYN cookies off: `tcp_syncookies.rs` covers the cookie path.)
    let cfg = TcpConfig {
        backlog: 2,
        syn_cookies: false,
        ..TcpConfig::default()
    };
    let mut t = Scenario::listening(cfg);
    let l = t.listener.unwrap();
    for port in [41000, 41001] {
        t.peer_sends(seg().syn().seq(IRS).ports(port, 80));
        t.expect_tx(seg().syn().ack(IRS + 1));
    }
    // Full: the third SYN is dropped silently.
    t.peer_sends(seg().syn().seq(IRS).ports(41002, 80));
    t.expect_nothing();
    assert_eq!(t.stats().listen_overflows, 1);
    // Completing handshakes moves them to the accept queue (still counted in the backlog).
    for port in [41000, 41001] {
        t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).ports(port, 80));
    }
    t.peer_sends(seg().syn().seq(IRS).ports(41002, 80));
    t.expect_nothing();
    assert_eq!(t.stats().listen_overflows, 2);
    // accept() makes room.
    let first = t.tcp.accept(l).unwrap();
    assert_eq!(t.tcp.peer_addr(first).unwrap().port(), 41000);
    t.peer_sends(seg().syn().seq(IRS).ports(41002, 80));
    t.expect_tx(seg().syn().ack(IRS + 1));
    assert!(t.tcp.accept(l).is_ok());
    assert_eq!(t.tcp.accept(l), Err(SocketError::WouldBlock));
}

#[test]
fn listener_event_fires_when_a_connection_is_ready() {
    // RFC 9293 §3.10.1 (accept ready): the driver wakes a blocked accept() on SocketEvent::Tcp(listener).
    let mut t = Scenario::listening(TcpConfig::default());
    let l = t.listener.unwrap();
    t.peer_sends(seg().syn().seq(IRS));
    let _ = t.drain();
    while t.tcp.poll_event().is_some() {}
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    let events: Vec<_> = std::iter::from_fn(|| t.tcp.poll_event()).collect();
    assert!(
        events.contains(&tunstack::SocketEvent::Tcp(l)),
        "{events:?}"
    );
}

#[test]
fn closing_a_listener_resets_unaccepted_connections() {
    // Like Linux: connections nobody will accept are reset (RFC 9293 §3.10.5 ABORT).
    let mut t = Scenario::listening(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn());
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    let l = t.listener.unwrap();
    t.tcp.close(t.now, l);
    t.expect_tx(seg().rst().seq(ISS + 1).ack(IRS + 1));
    assert_eq!(t.tcp.connection_count(), 0);
    // Nothing listens any more: a new SYN is refused.
    t.peer_sends(seg().syn().seq(IRS + 50));
    t.expect_tx(seg().rst().seq(0).ack(IRS + 51));
}
