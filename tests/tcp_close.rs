// RFC 9293 §3.6 (closing), §3.10.4 (CLOSE), §3.10.7.4 eighth step (FIN), TIME-WAIT (§3.3.2),
// RFC 6191 (TIME-WAIT reuse).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::SocketError;
use tunstack::tcp::TcpConfig;
use tunstack::tcp::timer::Timer;
use tunstack::time::Duration;

fn short_msl() -> TcpConfig {
    TcpConfig {
        msl: Duration::from_secs(2),
        ..Scenario::quick_ack_config()
    }
}

fn established_short_msl() -> Scenario {
    Scenario::established_with(short_msl(), seg().syn().seq(IRS).mss(1460))
}

#[test]
fn active_close_goes_through_fin_wait_and_time_wait() {
    // RFC 9293 §3.6 Figure 12 (normal close), TIME-WAIT 2·MSL checked at t-1 and t.
    let mut t = established_short_msl();
    t.app_shutdown_write();
    t.expect_state("FIN-WAIT-1");
    t.expect_tx(seg().fin().seq(ISS + 1).ack(IRS + 1));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2));
    t.expect_state("FIN-WAIT-2");
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
    t.expect_state("TIME-WAIT");
    assert_eq!(t.app_read().unwrap(), b"");
    t.advance_ms(3999);
    t.expect_state("TIME-WAIT");
    t.advance_ms(1);
    t.expect_state("CLOSED");
}

#[test]
fn fin_follows_queued_data() {
    // RFC 9293 §3.10.4: "queue this until all preceding SENDs have been segmentized".
    let mut t = Scenario::established();
    t.app_write(b"bye");
    t.app_shutdown_write();
    t.expect_tx(seg().fin().seq(ISS + 1).payload(b"bye"));
    let h = t.handle();
    assert_eq!(t.tcp.send(t.now, h, b"more"), Err(SocketError::BrokenPipe));
}

#[test]
fn passive_close_goes_through_close_wait_and_last_ack() {
    // RFC 9293 §3.6: FIN in ESTABLISHED -> CLOSE-WAIT; our CLOSE -> LAST-ACK -> CLOSED.
    let mut t = Scenario::established();
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 2));
    t.expect_state("CLOSE-WAIT");
    assert_eq!(t.app_read().unwrap(), b"", "EOF");
    t.app_write(b"late reply"); // half-close: we may still send
    t.expect_tx(seg().payload(b"late reply"));
    t.app_shutdown_write();
    t.expect_state("LAST-ACK");
    t.expect_tx(seg().fin().seq(ISS + 11).ack(IRS + 2));
    t.peer_sends(seg().seq(IRS + 2).ack(ISS + 12));
    t.expect_state("CLOSED");
}

#[test]
fn half_close_keeps_reading() {
    // RFC 9293 §3.6 / RFC 1122 §4.2.2.13: after our FIN the peer may keep sending.
    let mut t = Scenario::established();
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2).payload(b"still here"));
    t.expect_tx(seg().ack(IRS + 11));
    assert_eq!(t.app_read().unwrap(), b"still here");
    t.expect_state("FIN-WAIT-2");
}

#[test]
fn simultaneous_close_goes_through_closing() {
    // RFC 9293 §3.6 Figure 13: FIN-WAIT-1 + FIN -> CLOSING; ACK of our FIN -> TIME-WAIT.
    let mut t = established_short_msl();
    t.app_shutdown_write();
    t.expect_tx(seg().fin().seq(ISS + 1));
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_state("CLOSING");
    t.expect_tx(seg().ack(IRS + 2));
    t.peer_sends(seg().seq(IRS + 2).ack(ISS + 2));
    t.expect_state("TIME-WAIT");
    t.advance_ms(4000);
    t.expect_state("CLOSED");
}

#[test]
fn fin_and_ack_together_go_straight_to_time_wait() {
    // RFC 9293 §3.10.7.4 eighth step: FIN-WAIT-1 with our FIN acked -> TIME-WAIT.
    let mut t = established_short_msl();
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_state("TIME-WAIT");
    t.expect_tx(seg().ack(IRS + 2));
}

#[test]
fn retransmitted_fin_in_time_wait_is_acked_and_restarts_the_timer() {
    // RFC 9293 §3.10.7.4: TIME-WAIT: ACK a retransmitted FIN and restart the 2·MSL timeout.
    let mut t = established_short_msl();
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().ack(IRS + 2));
    t.advance_ms(3000);
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().ack(IRS + 2));
    t.advance_ms(3999);
    t.expect_state("TIME-WAIT");
    t.advance_ms(1);
    t.expect_state("CLOSED");
}

#[test]
fn close_releases_the_handle_and_finishes_in_the_background() {
    // RFC 9293 §3.10.4: CLOSE in ESTABLISHED -> FIN-WAIT-1; the layer completes the close.
    let mut t = established_short_msl();
    t.app_close();
    let h = t.handle();
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::InvalidHandle));
    t.expect_tx(seg().fin().seq(ISS + 1));
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().ack(IRS + 2));
    assert_eq!(t.tcp.connection_count(), 1, "in TIME-WAIT");
    t.advance_ms(4000);
    assert_eq!(t.tcp.connection_count(), 0);
}

#[test]
fn close_with_unread_data_sends_rst() {
    // RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13: CLOSE with data pending SHOULD send RST.
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"unread"));
    t.expect_tx(seg().ack(IRS + 7));
    t.app_close();
    t.expect_tx(seg().rst().seq(ISS + 1).ack(IRS + 7));
    assert_eq!(t.tcp.connection_count(), 0);
}

#[test]
fn data_after_close_draws_rst() {
    // RFC 1122 §4.2.2.13: new data after CLOSE cannot be delivered: RST.
    let mut t = Scenario::established();
    t.app_close();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2).payload(b"too late"));
    // As Linux: the answer of the CLOSED state, <SEQ=SEG.ACK><CTL=RST>.
    t.expect_tx(seg().rst().seq(ISS + 2));
    assert_eq!(t.stats().drop_after_close, 1);
}

#[test]
fn abort_sends_rst() {
    // RFC 9293 §3.10.5: ABORT in a synchronized state sends RST.
    let mut t = Scenario::established();
    t.app_abort();
    t.expect_tx(seg().rst().seq(ISS + 1).ack(IRS + 1));
    assert_eq!(t.tcp.connection_count(), 0);
}

#[test]
fn orphaned_fin_wait_2_times_out() {
    // RFC 9293 §3.10.4 (CLOSE finishes in the background), like Linux tcp_fin_timeout: a closed socket does not wait forever for the peer's FIN.
    let cfg = TcpConfig {
        fin_timeout: Duration::from_secs(5),
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.app_close();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2));
    assert_eq!(t.tcp.connection_count(), 1);
    t.advance_ms(4999);
    assert_eq!(t.tcp.connection_count(), 1);
    t.advance_ms(1);
    assert_eq!(t.tcp.connection_count(), 0);
}

#[test]
fn time_wait_is_reused_by_a_syn_with_a_higher_sequence_number() {
    // RFC 6191 §2 (without timestamps, RFC 1122 §4.2.2.13): a new SYN above RCV.NXT reopens.
    let mut t = established_short_msl();
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().ack(IRS + 2));
    t.expect_state("TIME-WAIT");
    // An old SYN (below RCV.NXT) is not a new connection: challenge ACK.
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().ack(IRS + 2));
    t.peer_sends(seg().syn().seq(IRS + 100_000));
    t.expect_tx(seg().syn().ack(IRS + 100_001));
    let l = t.listener.unwrap();
    t.peer_sends(seg().seq(IRS + 100_001).ack(ISS + 1));
    assert!(t.tcp.accept(l).is_ok());
}

#[test]
fn shutdown_read_discards_incoming_data_without_reset() {
    // shutdown(Read) (not in RFC 9293): data is acknowledged and dropped; recv() returns EOF.
    let mut t = Scenario::established();
    let h = t.handle();
    t.tcp
        .shutdown(t.now, h, tunstack::tcp::Shutdown::Read)
        .unwrap();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"ignored"));
    t.expect_tx(seg().ack(IRS + 8));
    assert_eq!(t.app_read().unwrap(), b"");
    t.expect_state("ESTABLISHED");
}

#[test]
fn close_in_syn_sent_deletes_the_connection() {
    // RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the TCB; nothing more is sent.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.app_close();
    assert_eq!(t.tcp.connection_count(), 0);
    t.advance_ms(5000).expect_nothing();
    // A late SYN,ACK finds no connection: RST.
    t.peer_sends(seg().syn().seq(IRS).ack(ISS + 1));
    t.expect_tx(seg().rst().seq(ISS + 1));
}

#[test]
fn shutdown_during_the_handshake_sends_fin_once_established() {
    // RFC 9293 §3.10.4: a CLOSE before ESTABLISHED is queued until the handshake completes.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.app_write(b"early");
    t.app_shutdown_write();
    t.expect_state("SYN-SENT");
    t.peer_sends(seg().syn().seq(IRS).ack(ISS + 1));
    t.expect_state("FIN-WAIT-1");
    let sent = t.drain();
    assert!(sent.iter().any(|s| s.payload == b"early"), "{sent:?}");
    assert!(sent.iter().any(|s| s.flags & 0x01 != 0), "a FIN: {sent:?}");
}

#[test]
fn time_wait_is_reused_by_a_syn_with_a_newer_timestamp() {
    // RFC 6191 §2: with timestamps, a SYN whose TSval is above TS.Recent reopens the 4-tuple,
    // even with a lower sequence number; an older TSval does not.
    let syn = seg().syn().seq(IRS).mss(1460).ts(100, 0);
    let mut t = Scenario::established_with(short_msl(), syn);
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2).ts(110, 0));
    t.expect_tx(seg().ack(IRS + 2));
    t.expect_state("TIME-WAIT");
    t.peer_sends(seg().syn().seq(IRS - 500).ts(105, 0));
    let old = t.drain();
    assert!(
        old.iter().all(|s| s.flags & 0x02 == 0),
        "no SYN,ACK for an old SYN: {old:?}"
    );
    t.peer_sends(seg().syn().seq(IRS - 500).ts(200, 0));
    t.expect_tx(seg().syn().ack(IRS - 499));
}

/// Default MSL (2 min) and fin_timeout (60 s): TIME-WAIT must last 240 s, not 60 s.
fn established_default_close(ts: bool) -> Scenario {
    let mut syn = seg().syn().seq(IRS).mss(1460);
    if ts {
        syn = syn.ts(100, 0);
    }
    Scenario::established_with(TcpConfig::default(), syn)
}

/// The connection is in TIME-WAIT until exactly 2·MSL after `entered` (t-1 ms and t).
#[track_caller]
fn expect_time_wait_for_2msl(t: &mut Scenario) {
    t.expect_state("TIME-WAIT");
    let h = t.handle();
    let due = t.tcp.connection(h).and_then(|c| c.timer(Timer::TimeWait));
    assert_eq!(due, Some(t.now + Duration::from_secs(240)), "{}", t.dump());
    t.advance(Duration::from_secs(240) - Duration::from_millis(1));
    assert_eq!(
        t.tcp.connection_count(),
        1,
        "still in TIME-WAIT\n{}",
        t.dump()
    );
    t.advance_ms(1);
    assert_eq!(
        t.tcp.connection_count(),
        0,
        "gone after 2·MSL\n{}",
        t.dump()
    );
}

#[test]
fn close_in_fin_wait_1_then_ack_and_fin_together_goes_to_time_wait() {
    // RFC 9293 §3.10.7.4 eighth step: FIN-WAIT-1 with our FIN acked + FIN -> TIME-WAIT (2·MSL),
    // also when the application already closed: fin_timeout only bounds FIN-WAIT-2.
    for ts in [false, true] {
        let mut t = established_default_close(ts);
        t.app_shutdown_write();
        t.expect_tx(seg().fin().seq(ISS + 1));
        t.app_close();
        t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
        t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
        expect_time_wait_for_2msl(&mut t);
    }
}

#[test]
fn orphaned_close_then_ack_then_fin_goes_to_time_wait() {
    // RFC 9293 §3.10.7.4: CLOSE -> FIN-WAIT-1 -> (ACK) FIN-WAIT-2 -> (FIN) TIME-WAIT; the
    // fin_timeout armed in FIN-WAIT-2 is replaced by 2·MSL.
    for ts in [false, true] {
        let mut t = established_default_close(ts);
        t.app_close();
        t.expect_tx(seg().fin().seq(ISS + 1));
        t.advance_ms(10);
        t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2));
        t.expect_state("FIN-WAIT-2");
        t.advance(Duration::from_secs(30));
        t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
        t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
        expect_time_wait_for_2msl(&mut t);
    }
}

#[test]
fn close_after_shutdown_in_fin_wait_2_then_fin_goes_to_time_wait() {
    // RFC 9293 §3.10.4 (CLOSE in FIN-WAIT-2) then §3.10.7.4 eighth step (FIN -> TIME-WAIT).
    let mut t = established_default_close(true);
    t.app_shutdown_write();
    t.expect_tx(seg().fin().seq(ISS + 1));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2));
    t.expect_state("FIN-WAIT-2");
    t.app_close();
    t.advance(Duration::from_secs(59));
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
    expect_time_wait_for_2msl(&mut t);
}

#[test]
fn orphaned_simultaneous_close_goes_through_closing_to_time_wait() {
    // RFC 9293 §3.6 Figure 13 after CLOSE: FIN-WAIT-1 + FIN -> CLOSING; ACK -> TIME-WAIT.
    let mut t = established_default_close(false);
    t.app_close();
    t.expect_tx(seg().fin().seq(ISS + 1));
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_state("CLOSING");
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
    t.peer_sends(seg().seq(IRS + 2).ack(ISS + 2));
    expect_time_wait_for_2msl(&mut t);
}

#[test]
fn orphaned_passive_close_ends_at_the_ack_of_our_fin() {
    // RFC 9293 §3.6: CLOSE-WAIT -> (CLOSE) LAST-ACK -> (ACK) CLOSED, no TIME-WAIT.
    let mut t = established_default_close(true);
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().ack(IRS + 2));
    assert_eq!(t.app_read().unwrap(), b"");
    t.app_close();
    t.expect_state("LAST-ACK");
    t.expect_tx(seg().fin().seq(ISS + 1).ack(IRS + 2));
    t.peer_sends(seg().seq(IRS + 2).ack(ISS + 2));
    assert_eq!(t.tcp.connection_count(), 0);
}

#[test]
fn close_in_time_wait_keeps_the_2msl_timer() {
    // RFC 9293 §3.10.4: CLOSE in TIME-WAIT changes nothing ("connection closing").
    let mut t = established_default_close(false);
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().ack(IRS + 2));
    t.app_close();
    expect_time_wait_for_2msl(&mut t);
}
