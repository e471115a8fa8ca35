// RFC 6298 (RTO, back-off, Karn), RFC 5681 §3.2 (fast retransmit), RFC 9293 §3.8.1.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::SocketError;
use tunstack::tcp::TcpConfig;
use tunstack::time::Duration;

#[test]
fn rto_backs_off_exponentially() {
    // RFC 6298 §5.5: each expiry doubles RTO; checked at t-1 and t.
    let mut t = Scenario::established();
    t.app_write(b"hello")
        .expect_tx(seg().seq(ISS + 1).ack(IRS + 1).payload(b"hello"));
    t.advance_ms(999).expect_nothing();
    t.advance_ms(1)
        .expect_tx(seg().seq(ISS + 1).payload(b"hello"));
    t.advance_ms(1999).expect_nothing();
    t.advance_ms(1)
        .expect_tx(seg().seq(ISS + 1).payload(b"hello"));
    t.advance_ms(3999).expect_nothing();
    t.advance_ms(1)
        .expect_tx(seg().seq(ISS + 1).payload(b"hello"));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 6));
    assert_eq!(t.conn().snd_una.0, ISS + 6);
    t.advance_ms(20_000).expect_nothing();
}

#[test]
fn rtt_sample_sets_rto_per_rfc6298() {
    // RFC 6298 §2.2: first sample R: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR (min 200 ms).
    let mut t = Scenario::syn_sent(TcpConfig::default());
    t.advance_ms(100);
    t.peer_sends(seg().syn().seq(IRS).ack(ISS + 1));
    t.expect_tx(seg().ack(IRS + 1));
    assert_eq!(t.conn().rto(), Duration::from_millis(300));
    t.app_write(b"b").expect_tx(seg().payload(b"b"));
    t.advance_ms(299).expect_nothing();
    t.advance_ms(1).expect_tx(seg().seq(ISS + 1).payload(b"b"));
}

#[test]
fn karn_ignores_the_ack_of_a_retransmitted_segment() {
    // RFC 6298 §3: no RTT sample from a retransmitted segment; the backed-off RTO stays.
    let mut t = Scenario::established();
    t.app_write(b"a").expect_tx(seg().payload(b"a"));
    t.advance_ms(1000).expect_tx(seg().payload(b"a"));
    t.advance_ms(50);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2));
    // A sample of 50 ms would change SRTT from the handshake's 0; Karn keeps it, and the
    // backed-off 2 s RTO stays until a new sample.
    assert_eq!(t.conn().rto(), Duration::from_secs(2));
    assert_eq!(t.conn().info().srtt, Some(Duration::ZERO));
}

#[test]
fn max_retries_aborts_with_timed_out() {
    // RFC 9293 §3.8.3 (R2) / RFC 1122 §4.2.3.5: give up after max_retries; report TimedOut.
    let cfg = TcpConfig {
        max_retries: 2,
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.app_write(b"x").expect_tx(seg().payload(b"x"));
    t.advance_ms(1000).expect_tx(seg().payload(b"x"));
    t.advance_ms(2000).expect_tx(seg().payload(b"x"));
    let h = t.handle();
    t.advance_ms(3999);
    assert_eq!(t.tcp.connect_status(h), Ok(()));
    t.advance_ms(1).expect_nothing();
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::TimedOut));
    assert_eq!(t.app_read(), Err(SocketError::TimedOut));
    assert_eq!(t.tcp.send(t.now, h, b"y"), Err(SocketError::TimedOut));
    assert_eq!(t.stats().timeouts, 1);
}

#[test]
fn three_duplicate_acks_trigger_fast_retransmit() {
    // RFC 5681 §3.2: the third duplicate ACK retransmits the first unacknowledged segment.
    let mut t = Scenario::established();
    t.app_write(&vec![9u8; 5 * 1460]);
    let sent = t.drain();
    assert_eq!(sent.len(), 5);
    for _ in 0..2 {
        t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
        t.expect_nothing();
    }
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 1).len(1460));
    assert_eq!(t.stats().retransmits_fast, 1);
}

#[test]
fn rto_retransmits_from_snd_una_go_back_n() {
    // RFC 6298 §5.4: retransmit the earliest unacknowledged segment; cwnd = 1 SMSS (RFC 5681).
    let mut t = Scenario::established();
    t.app_write(&vec![3u8; 3 * 1460]);
    assert_eq!(t.drain().len(), 3);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1 + 1460));
    t.advance_ms(1000);
    t.expect_tx(seg().seq(ISS + 1 + 1460).len(1460));
    t.expect_nothing(); // loss window: one segment
    assert_eq!(t.conn().cwnd(), 1460);
}

#[test]
fn user_timeout_aborts_when_data_stays_unacknowledged() {
    // RFC 5482 / RFC 9293 §3.8.3: a user timeout (here 5 s) ends the connection with TimedOut
    // long before max_retries would; progress restarts it.
    let cfg = TcpConfig {
        user_timeout: Some(Duration::from_secs(5)),
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    let h = t.handle();
    t.app_write(b"a").expect_tx(seg().payload(b"a"));
    t.advance_ms(3000);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2)); // progress
    t.app_write(b"b");
    let _ = t.drain();
    t.advance_ms(4999);
    assert_eq!(t.tcp.connect_status(h), Ok(()));
    t.advance_ms(1);
    assert_eq!(t.tcp.connect_status(h), Err(SocketError::TimedOut));
}
