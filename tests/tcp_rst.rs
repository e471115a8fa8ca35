// RFC 9293 §3.5.2-3 (reset generation and processing) and RFC 5961 §3-§5 (blind attacks:
// exact-sequence RST, challenge ACKs for in-window RST/SYN, ACK range validation, rate limit).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::SocketError;
use tunstack::tcp::TcpConfig;

#[test]
fn rst_at_rcv_nxt_resets_the_connection() {
    // RFC 5961 §3.2: SEG.SEQ == RCV.NXT: reset; the user sees "connection reset".
    let mut t = Scenario::established();
    t.peer_sends(seg().rst().seq(IRS + 1));
    t.expect_nothing();
    t.expect_state("CLOSED");
    assert_eq!(t.app_read(), Err(SocketError::ConnectionReset));
    let h = t.handle();
    assert_eq!(
        t.tcp.send(t.now, h, b"x"),
        Err(SocketError::ConnectionReset)
    );
    assert_eq!(t.tcp.take_error(h), Some(SocketError::ConnectionReset));
    assert_eq!(t.tcp.take_error(h), None);
}

#[test]
fn in_window_rst_draws_a_challenge_ack() {
    // RFC 5961 §3.2: in the window but not exact: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    let mut t = Scenario::established();
    t.peer_sends(seg().rst().seq(IRS + 100));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.expect_state("ESTABLISHED");
    assert_eq!(t.stats().challenge_acks, 1);
}

#[test]
fn out_of_window_rst_is_dropped_silently() {
    // RFC 5961 §3.2 / RFC 9293 §3.10.7.4: an RST outside the window is discarded.
    let mut t = Scenario::established();
    t.peer_sends(seg().rst().seq(IRS + 1_000_000));
    t.expect_nothing();
    t.expect_state("ESTABLISHED");
}

#[test]
fn in_window_syn_draws_a_challenge_ack() {
    // RFC 5961 §4.2: a SYN in a synchronized state: challenge ACK, the connection stays.
    let mut t = Scenario::established();
    t.peer_sends(seg().syn().seq(IRS + 10));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.expect_state("ESTABLISHED");
}

#[test]
fn ack_of_unsent_data_is_dropped_and_acked() {
    // RFC 9293 §3.10.7.4 fifth step / RFC 5961 §5.2: SEG.ACK > SND.NXT: send ACK, drop.
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 500).payload(b"zzz"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    assert_eq!(
        t.app_read(),
        Err(SocketError::WouldBlock),
        "data of a bad-ACK segment dropped"
    );
    assert_eq!(t.stats().drop_bad_ack, 1);
}

#[test]
fn too_old_ack_draws_a_challenge_ack() {
    // RFC 5961 §5.2: SEG.ACK < SND.UNA - MAX.SND.WND: challenge ACK and drop.
    let mut t = Scenario::established();
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(ISS.wrapping_sub(200_000))
            .payload(b"q"),
    );
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    assert_eq!(t.stats().challenge_acks, 1);
    assert_eq!(t.app_read(), Err(SocketError::WouldBlock));
}

#[test]
fn challenge_acks_are_rate_limited() {
    // RFC 5961 §7: the number of challenge ACKs per interval is limited.
    let cfg = TcpConfig {
        challenge_ack_limit: 3,
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    let mut acks = 0;
    for i in 0..5 {
        t.peer_sends(seg().rst().seq(IRS + 10 + i));
        acks += t.drain().len();
    }
    assert_eq!(acks, 3);
    assert_eq!(t.stats().challenge_ack_limited, 2);
    t.advance_ms(1000);
    t.peer_sends(seg().rst().seq(IRS + 50));
    assert_eq!(t.drain().len(), 1, "a new second allows more");
}

#[test]
fn rst_in_syn_received_from_passive_open_drops_the_half_open_connection() {
    // RFC 9293 §3.10.7.4: RST in SYN-RECEIVED (passive) returns to LISTEN.
    let mut t = Scenario::listening(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().ack(IRS + 1));
    assert_eq!(t.tcp.connection_count(), 1);
    t.peer_sends(seg().rst().seq(IRS + 1));
    assert_eq!(t.tcp.connection_count(), 0);
    // The listener still works.
    t.peer_sends(seg().syn().seq(IRS + 7));
    t.expect_tx(seg().syn().ack(IRS + 8));
}

#[test]
fn bad_ack_in_syn_received_draws_rst() {
    // RFC 9293 §3.10.7.4 fifth step, SYN-RECEIVED: unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>.
    let mut t = Scenario::listening(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().ack(IRS + 1));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 99));
    t.expect_tx(seg().rst().seq(ISS + 99));
}

#[test]
fn rst_in_time_wait_closes_quietly() {
    // RFC 9293 §3.10.7.4 second step: CLOSING, LAST-ACK, TIME-WAIT: RST -> CLOSED, no error.
    let mut t = Scenario::established();
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().ack(IRS + 2));
    t.expect_state("TIME-WAIT");
    t.peer_sends(seg().rst().seq(IRS + 2));
    t.expect_state("CLOSED");
    let h = t.handle();
    assert_eq!(t.tcp.take_error(h), None);
}
