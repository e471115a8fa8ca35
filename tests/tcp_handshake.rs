// RFC 9293 §3.5 (three-way handshake, simultaneous open), §3.10.7.2-3, §3.5.2 (RST to nowhere).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::SocketError;
use tunstack::tcp::TcpConfig;

#[test]
fn passive_open_sends_syn_ack_with_our_mss_and_accepts() {
    // RFC 9293 §3.5 Figure 6, §3.7.1: the SYN,ACK carries our MSS (mtu 1500 - 40).
    let mut t = Scenario::listening(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS).mss(1400));
    t.expect_tx(seg().syn().seq(ISS).ack(IRS + 1).mss(1460));
    t.expect_nothing();
    let l = t.listener.unwrap();
    assert_eq!(t.tcp.accept(l), Err(SocketError::WouldBlock));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    t.h = Some(t.tcp.accept(l).unwrap());
    t.expect_state("ESTABLISHED");
    assert_eq!(t.conn().smss(), 1400, "peer's MSS honoured");
}

#[test]
fn active_open_completes_on_syn_ack() {
    // RFC 9293 §3.10.7.3: SYN-SENT + SYN,ACK -> ESTABLISHED, send ACK.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    let h = t.handle();
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::WouldBlock));
    t.peer_sends(seg().syn().seq(IRS).ack(ISS + 1).mss(1460));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.expect_state("ESTABLISHED");
    assert_eq!(t.tcp.connect_status(h), Ok(()));
}

#[test]
fn syn_is_retransmitted_with_backoff_then_times_out() {
    // RFC 6298 §5.5 and RFC 9293 §3.8.1: SYN retransmitted at 1 s, 2 s, 4 s...; then TimedOut.
    let cfg = TcpConfig {
        max_syn_retries: 2,
        ..TcpConfig::default()
    };
    let mut t = Scenario::syn_sent(cfg);
    t.advance_ms(999).expect_nothing();
    t.advance_ms(1).expect_tx(seg().syn().seq(ISS));
    t.advance_ms(1999).expect_nothing();
    t.advance_ms(1).expect_tx(seg().syn().seq(ISS));
    t.advance_ms(3999).expect_nothing();
    let h = t.handle();
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::WouldBlock));
    t.advance_ms(1).expect_nothing();
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::TimedOut));
    t.expect_state("CLOSED");
}

#[test]
fn rst_to_closed_port_acks_the_syn() {
    // RFC 9293 §3.5.2 / §3.10.7.1: no socket: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    let mut t = Scenario::new(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS).ports(40000, 81));
    t.expect_tx(seg().rst().seq(0).ack(IRS + 1));
    // An ACK-bearing segment: <SEQ=SEG.ACK><CTL=RST>.
    t.peer_sends(seg().seq(IRS).ack(777).payload(b"x").ports(40000, 81));
    t.expect_tx(seg().rst().seq(777));
    // A RST is never answered.
    t.peer_sends(seg().rst().seq(IRS).ports(40000, 81));
    t.expect_nothing();
    assert_eq!(t.stats().rst_sent, 2);
}

#[test]
fn connect_refused_by_rst() {
    // RFC 9293 §3.10.7.3: RST with an acceptable ACK in SYN-SENT: "connection reset".
    let mut t = Scenario::syn_sent(TcpConfig::default());
    let h = t.handle();
    t.peer_sends(seg().rst().seq(0).ack(ISS + 2)); // unacceptable ACK: ignored, RST <SEQ=ack>
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::WouldBlock));
    t.peer_sends(seg().rst().seq(0).ack(ISS + 1));
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::ConnectionRefused));
}

#[test]
fn bad_ack_in_syn_sent_draws_rst() {
    // RFC 9293 §3.10.7.3: SEG.ACK =< ISS or > SND.NXT: <SEQ=SEG.ACK><CTL=RST>.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS).ack(ISS + 50));
    t.expect_tx(seg().rst().seq(ISS + 50));
    t.expect_state("SYN-SENT");
}

#[test]
fn simultaneous_open() {
    // RFC 9293 §3.5 Figure 7: SYN-SENT + SYN -> SYN-RECEIVED (send SYN,ACK), then ESTABLISHED.
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS).mss(1460));
    t.expect_state("SYN-RECEIVED");
    t.expect_tx(seg().syn().seq(ISS).ack(IRS + 1));
    // The peer's SYN,ACK for our SYN.
    t.peer_sends(seg().syn().seq(IRS).ack(ISS + 1));
    t.expect_state("ESTABLISHED");
    let h = t.handle();
    assert_eq!(t.tcp.connect_status(h), Ok(()));
}

#[test]
fn retransmitted_syn_in_syn_received_gets_the_syn_ack_again() {
    // RFC 9293 §3.10.7.4: our SYN,ACK was lost; the peer's SYN again draws SYN,ACK.
    let mut t = Scenario::listening(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().ack(IRS + 1));
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().seq(ISS).ack(IRS + 1));
}

#[test]
fn syn_ack_is_retransmitted_by_the_timer() {
    // RFC 6298 §5 applied to the SYN,ACK (RFC 9293 §3.8.1).
    let mut t = Scenario::listening(TcpConfig::default());
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().ack(IRS + 1));
    t.advance_ms(999).expect_nothing();
    t.advance_ms(1).expect_tx(seg().syn().seq(ISS).ack(IRS + 1));
}

#[test]
fn ack_to_listener_draws_rst() {
    // RFC 9293 §3.10.7.2: "any acknowledgment is bad" in LISTEN: <SEQ=SEG.ACK><CTL=RST>.
    let mut t = Scenario::listening(TcpConfig::default());
    t.peer_sends(seg().seq(IRS).ack(4242));
    t.expect_tx(seg().rst().seq(4242));
}

#[test]
fn connection_limit_is_enforced_and_counted() {
    // RFC 9293 §3.10.7.2 with bounded resources: max_connections refuses further SYNs and connects.
    let cfg = TcpConfig {
        max_connections: 1,
        ..TcpConfig::default()
    };
    let mut t = Scenario::listening(cfg);
    t.peer_sends(seg().syn().seq(IRS));
    t.expect_tx(seg().syn().ack(IRS + 1));
    t.peer_sends(seg().syn().seq(IRS).ports(40001, 80));
    t.expect_nothing();
    assert_eq!(t.stats().connection_limit, 1);
    let r = t.tcp.connect(t.now, US, PEER);
    assert_eq!(r, Err(SocketError::NoBufferSpace));
}
