// Conformance probes, state by state (RFC 9293 §3.10.7, §3.5.2; RFC 5961; RFC 7323): one
// hand-built segment per probe and the exact answer the Linux kernel gives to the same probe
// (checked with hping3 against a kernel listener in a namespace, see docs/rfc-compliance.md).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::SocketError;
use tunstack::tcp::TcpConfig;

fn listening() -> Scenario {
    Scenario::listening(TcpConfig::default())
}

/// SYN-RECEIVED after a SYN from the peer (SYN,ACK read).
fn syn_received() -> Scenario {
    let mut t = listening();
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().seq(ISS).ack(IRS + 1));
    t
}

/// The listener still answers a fresh SYN from another port.
#[track_caller]
fn listener_alive(t: &mut Scenario) {
    t.peer_sends(seg().syn().seq(777).ports(40999, 80));
    t.expect_tx(seg().syn().ack(778));
}

// ---- LISTEN (§3.10.7.2) ----

#[test]
fn listen_rst_is_ignored() {
    // RFC 9293 §3.10.7.2 first: "An incoming RST should be ignored."
    let mut t = listening();
    t.peer_sends(seg().rst().seq(IRS));
    t.peer_sends(seg().rst().seq(IRS).ack(ISS));
    t.expect_nothing();
    assert_eq!(t.tcp.connection_count(), 0);
    listener_alive(&mut t);
}

#[test]
fn listen_ack_draws_rst_at_seg_ack() {
    // RFC 9293 §3.10.7.2 second: any ACK: <SEQ=SEG.ACK><CTL=RST> (no ACK bit), also SYN,ACK.
    let mut t = listening();
    t.peer_sends(seg().seq(IRS).ack(0xdead_beef));
    t.expect_tx(seg().rst().seq(0xdead_beef));
    t.peer_sends(seg().syn().seq(IRS).ack(12345));
    t.expect_tx(seg().rst().seq(12345));
    t.peer_sends(seg().seq(IRS).ack(99).payload(b"data"));
    t.expect_tx(seg().rst().seq(99));
    assert_eq!(t.tcp.connection_count(), 0);
}

#[test]
fn listen_syn_with_data_gets_a_plain_syn_ack() {
    // RFC 9293 §3.10.7.2 third: data on a SYN may be queued; like Linux (no TFO) we drop it:
    // the SYN,ACK acknowledges only the SYN and the peer retransmits the data.
    let mut t = Scenario::listening(Scenario::quick_ack_config());
    t.peer_sends(seg().syn().seq(IRS).payload(b"early"));
    t.expect_tx(seg().syn().seq(ISS).ack(IRS + 1));
    t.expect_nothing();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"early"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 6));
    t.h = Some(t.tcp.accept(t.listener.unwrap()).unwrap());
    assert_eq!(t.app_read().unwrap(), b"early");
}

#[test]
fn listen_fin_or_data_without_syn_or_ack_is_dropped() {
    // RFC 9293 §3.10.7.2 fourth: "Any other control or text-bearing segment ... drop it".
    let mut t = listening();
    t.peer_sends(seg().fin().seq(IRS));
    t.peer_sends(seg().seq(IRS).payload(b"x"));
    t.peer_sends(seg().seq(IRS).psh());
    t.expect_nothing();
    assert_eq!(t.tcp.connection_count(), 0);
    listener_alive(&mut t);
}

#[test]
fn listen_syn_rst_is_ignored() {
    // RFC 9293 §3.10.7.2: the RST check comes first, so SYN,RST is ignored.
    let mut t = listening();
    t.peer_sends(seg().syn().rst().seq(IRS));
    t.expect_nothing();
    assert_eq!(t.tcp.connection_count(), 0);
}

#[test]
fn listen_syn_fin_is_dropped_and_counted() {
    // RFC 9293 §3.10.7.2 would process the FIN later in SYN-RECEIVED; Linux drops SYN,FIN
    // (a scanner's probe) and so do we, counting it.
    let mut t = listening();
    t.peer_sends(seg().syn().fin().seq(IRS));
    t.expect_nothing();
    assert_eq!(t.tcp.connection_count(), 0);
    assert_eq!(t.stats().drop_syn_fin, 1);
    listener_alive(&mut t);
}

// ---- SYN-SENT (§3.10.7.3) ----

#[test]
fn syn_sent_unacceptable_ack_draws_rst() {
    // RFC 9293 §3.10.7.3 first: SEG.ACK =< ISS or > SND.NXT: <SEQ=SEG.ACK><CTL=RST>.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.peer_sends(seg().seq(IRS).ack(ISS + 77));
    t.expect_tx(seg().rst().seq(ISS + 77));
    t.peer_sends(seg().seq(IRS).ack(ISS));
    t.expect_tx(seg().rst().seq(ISS));
    t.expect_state("SYN-SENT");
    // An unacceptable RST,ACK is dropped without an answer (never RST a RST).
    t.peer_sends(seg().rst().seq(IRS).ack(ISS + 77));
    t.expect_nothing();
    t.expect_state("SYN-SENT");
}

#[test]
fn syn_sent_rst_with_acceptable_ack_refuses() {
    // RFC 9293 §3.10.7.3 second: acceptable ACK + RST: "error: connection reset", CLOSED.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.peer_sends(seg().rst().seq(0).ack(ISS + 1));
    t.expect_nothing();
    t.expect_state("CLOSED");
    let h = t.handle();
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::ConnectionRefused));
}

#[test]
fn syn_sent_rst_without_ack_is_ignored() {
    // RFC 9293 §3.10.7.3 second: "If the ACK was not acceptable ... drop"; RFC 5961 §3.2:
    // a RST without ACK in SYN-SENT is not acceptable.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.peer_sends(seg().rst().seq(IRS));
    t.expect_nothing();
    t.expect_state("SYN-SENT");
    t.peer_sends(seg().syn().seq(IRS).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.expect_state("ESTABLISHED");
}

#[test]
fn syn_sent_syn_is_a_simultaneous_open() {
    // RFC 9293 §3.10.7.3 fourth: SYN without ACK: SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT><SYN,ACK>.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().seq(ISS).ack(IRS + 1));
    t.expect_state("SYN-RECEIVED");
}

#[test]
fn syn_sent_plain_acceptable_ack_is_dropped() {
    // RFC 9293 §3.10.7.3 fifth: "If neither of the SYN or RST bits is set, then drop".
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.peer_sends(seg().seq(IRS).ack(ISS + 1));
    t.expect_nothing();
    t.expect_state("SYN-SENT");
}

// ---- SYN-RECEIVED ----

#[test]
fn syn_received_rst_returns_to_listen() {
    // RFC 9293 §3.10.7.4 second (SYN-RECEIVED, passive OPEN): "return this connection to LISTEN".
    let mut t = syn_received();
    t.peer_sends(seg().rst().seq(IRS + 1));
    t.expect_nothing();
    assert_eq!(t.tcp.connection_count(), 0);
    assert_eq!(
        t.tcp.accept(t.listener.unwrap()),
        Err(SocketError::WouldBlock)
    );
    listener_alive(&mut t);
    // The same peer can start over.
    t.peer_sends(seg().syn().seq(IRS + 9));
    t.expect_tx(seg().syn().ack(IRS + 10));
}

#[test]
fn syn_received_syn_with_another_isn_drops_the_half_open_connection() {
    // RFC 9293 §3.10.7.4 fourth (SYN-RECEIVED, passive OPEN): return to LISTEN. Linux also
    // answers as CLOSED (§3.10.7.1): <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>.
    let mut t = syn_received();
    t.peer_sends(seg().syn().seq(IRS + 5000));
    t.expect_tx(seg().rst().seq(0).ack(IRS + 5001));
    assert_eq!(t.tcp.connection_count(), 0);
    listener_alive(&mut t);
}

#[test]
fn simultaneous_open_syn_received_syn_draws_challenge_ack() {
    // RFC 9293 §3.10.7.4 fourth: SYN-RECEIVED from an active OPEN is handled as synchronized:
    // RFC 5961 §4.2 challenge ACK.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().seq(ISS).ack(IRS + 1));
    t.peer_sends(seg().syn().seq(IRS + 50));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.expect_state("SYN-RECEIVED");
}

#[test]
fn syn_received_unacceptable_ack_draws_rst() {
    // RFC 9293 §3.10.7.4 fifth (SYN-RECEIVED): bad ACK: <SEQ=SEG.ACK><CTL=RST>.
    let mut t = syn_received();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 5000));
    t.expect_tx(seg().rst().seq(ISS + 5000));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    assert!(t.tcp.accept(t.listener.unwrap()).is_ok());
}

#[test]
fn syn_received_ack_with_data_establishes_and_delivers() {
    // RFC 9293 §3.10.7.4 fifth then seventh step in one segment.
    let mut t = syn_received();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"GET /"));
    t.h = Some(t.tcp.accept(t.listener.unwrap()).unwrap());
    t.expect_state("ESTABLISHED");
    assert_eq!(t.app_read().unwrap(), b"GET /");
}

#[test]
fn syn_received_out_of_window_segment_draws_ack() {
    // RFC 9293 §3.10.7.4 first: not acceptable: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    let mut t = syn_received();
    t.peer_sends(seg().seq(IRS + 1_000_000).ack(ISS + 1).payload(b"x"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    assert_eq!(
        t.tcp.accept(t.listener.unwrap()),
        Err(SocketError::WouldBlock)
    );
}

// ---- ESTABLISHED (§3.10.7.4; RFC 5961) ----

#[test]
fn established_out_of_window_data_draws_ack() {
    // RFC 9293 §3.10.7.4 first: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, data dropped.
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1 + 70_000).ack(ISS + 1).payload(b"far"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.expect_nothing();
    assert_eq!(t.stats().drop_out_of_window, 1);
}

#[test]
fn established_old_duplicate_data_draws_ack() {
    // RFC 9293 §3.10.7.4 first: a segment wholly below RCV.NXT is not acceptable: ACK.
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"abc"));
    t.expect_tx(seg().ack(IRS + 4));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"abc"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 4));
    assert_eq!(t.app_read().unwrap(), b"abc");
}

#[test]
fn established_exact_rst_closes() {
    // RFC 5961 §3.2: SEG.SEQ == RCV.NXT: reset, nothing sent.
    let mut t = Scenario::established();
    t.peer_sends(seg().rst().ack(ISS + 1).seq(IRS + 1));
    t.expect_nothing();
    t.expect_state("CLOSED");
    assert_eq!(t.app_read(), Err(SocketError::ConnectionReset));
}

#[test]
fn established_in_window_rst_draws_challenge_ack() {
    // RFC 5961 §3.2: in the window but not exact: challenge ACK, the connection stays.
    let mut t = Scenario::established();
    t.peer_sends(seg().rst().seq(IRS + 2));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.expect_state("ESTABLISHED");
}

#[test]
fn established_syn_draws_challenge_ack() {
    // RFC 5961 §4.2: any SYN (in window or not) in a synchronized state: challenge ACK.
    let mut t = Scenario::established();
    t.peer_sends(seg().syn().seq(IRS + 5));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.peer_sends(seg().syn().seq(IRS.wrapping_add(3_000_000_000)));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.expect_state("ESTABLISHED");
}

#[test]
fn established_ack_of_unsent_data_is_acked_and_dropped() {
    // RFC 9293 §3.10.7.4 fifth: SEG.ACK > SND.NXT: send ACK, drop the segment (and its data).
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 100).payload(b"zz"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    assert_eq!(t.app_read(), Err(SocketError::WouldBlock));
}

#[test]
fn established_data_without_ack_flag_is_dropped() {
    // RFC 9293 §3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return".
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).payload(b"noack"));
    t.expect_nothing();
    assert_eq!(t.app_read(), Err(SocketError::WouldBlock));
}

#[test]
fn established_zero_window_probe_is_acked_and_dropped() {
    // RFC 9293 §3.8.6.1 / §3.10.7.4: with RCV.WND = 0 a probe byte is not acceptable, but its
    // ACK is: answer <SEQ=SND.NXT><ACK=RCV.NXT> with window 0.
    let cfg = TcpConfig {
        recv_buffer: 1000,
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(&[7; 1000]));
    t.expect_tx(seg().ack(IRS + 1001).win(0));
    t.peer_sends(seg().seq(IRS + 1001).ack(ISS + 1).payload(b"p"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1001).win(0));
    assert_eq!(t.app_read().unwrap().len(), 1000);
    // The read opened the window: a window update goes out.
    t.expect_tx(seg().ack(IRS + 1001).win(1000));
}

#[test]
fn established_fin_moves_to_close_wait_and_a_repeated_fin_is_acked() {
    // RFC 9293 §3.10.7.4 eighth: FIN in ESTABLISHED -> CLOSE-WAIT; again -> just an ACK.
    let mut t = Scenario::established();
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 2));
    t.expect_state("CLOSE-WAIT");
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 2));
    t.expect_state("CLOSE-WAIT");
}

#[test]
fn last_ack_repeated_fin_is_acked_and_state_kept() {
    // RFC 9293 §3.10.7.4 eighth: LAST-ACK: remain in LAST-ACK.
    let mut t = Scenario::established();
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().ack(IRS + 2));
    t.app_shutdown_write();
    t.expect_tx(seg().fin().seq(ISS + 1).ack(IRS + 2));
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
    t.expect_state("LAST-ACK");
}

#[test]
fn fin_wait_2_data_is_delivered_then_fin_leads_to_time_wait() {
    // RFC 9293 §3.10.7.4 seventh (FIN-WAIT-2 receives text) and eighth (FIN -> TIME-WAIT).
    let mut t = Scenario::established();
    t.app_shutdown_write();
    t.expect_tx(seg().fin().seq(ISS + 1));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2).payload(b"tail"));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 5));
    t.expect_state("FIN-WAIT-2");
    t.peer_sends(seg().fin().seq(IRS + 5).ack(ISS + 2));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 6));
    t.expect_state("TIME-WAIT");
    assert_eq!(t.app_read().unwrap(), b"tail");
}

#[test]
fn time_wait_retransmitted_data_and_fin_draw_an_ack() {
    // RFC 9293 §3.10.7.4 first and eighth: an old duplicate (the peer's last data and FIN again)
    // is answered with <SEQ=SND.NXT><ACK=RCV.NXT> and restarts the 2·MSL timeout.
    let mut t = Scenario::established();
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2).payload(b"bye"));
    t.expect_tx(seg().ack(IRS + 5));
    t.expect_state("TIME-WAIT");
    t.advance_ms(1000);
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2).payload(b"bye"));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 5));
    let due = t.conn().timer(tunstack::tcp::timer::Timer::TimeWait);
    assert_eq!(due, Some(t.now + t.tcp.config().msl.saturating_mul(2)));
}

// ---- after the connection is gone (§3.10.7.1) ----

#[test]
fn segments_after_close_draw_rst() {
    // RFC 9293 §3.10.7.1: the TCB is gone (reset): ACK-bearing segments draw <SEQ=SEG.ACK><RST>,
    // others <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>; RSTs are not answered.
    let mut t = Scenario::new(TcpConfig::default());
    let h = t.tcp.connect(t.now, US, PEER).unwrap();
    t.h = Some(h);
    t.expect_tx(seg().syn().seq(ISS));
    t.peer_sends(seg().syn().seq(IRS).ack(ISS + 1));
    t.expect_tx(seg().ack(IRS + 1));
    t.app_abort();
    t.expect_tx(seg().rst().seq(ISS + 1).ack(IRS + 1));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"late"));
    t.expect_tx(seg().rst().seq(ISS + 1));
    t.peer_sends(seg().fin().seq(IRS + 1));
    t.expect_tx(seg().rst().seq(0).ack(IRS + 2));
    t.peer_sends(seg().rst().seq(IRS + 1));
    t.expect_nothing();
}

#[test]
fn syn_received_ack_with_fin_goes_to_close_wait() {
    // RFC 9293 §3.10.7.4 fifth (ACK: ESTABLISHED) then eighth step (FIN: CLOSE-WAIT).
    let mut t = Scenario::listening(Scenario::quick_ack_config());
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().ack(IRS + 1));
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1).payload(b"q"));
    t.h = Some(t.tcp.accept(t.listener.unwrap()).unwrap());
    t.expect_state("CLOSE-WAIT");
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 3));
    assert_eq!(t.app_read().unwrap(), b"q");
}

#[test]
fn closing_repeated_fin_is_acked_and_state_kept() {
    // RFC 9293 §3.10.7.4 eighth: CLOSING: remain in CLOSING (the FIN is old: ACK it).
    let mut t = Scenario::established();
    t.app_shutdown_write();
    t.expect_tx(seg().fin().seq(ISS + 1));
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
    t.expect_state("CLOSING");
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
    t.expect_state("CLOSING");
}
