// RFC 9293 §3.10.2-3 (SEND/RECEIVE), §3.10.7.4 (segment text, out-of-order), §3.8.6.3 (ACKs).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::SocketError;
use tunstack::tcp::TcpConfig;
use tunstack::time::Duration;

#[test]
fn data_is_sent_and_acknowledged() {
    // RFC 9293 §3.10.2: queued data goes out at SND.NXT; an ACK frees the send buffer.
    let mut t = Scenario::established();
    let h = t.handle();
    let cap = t.tcp.send_capacity(h).unwrap();
    t.app_write(b"hello");
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1).psh().payload(b"hello"));
    t.expect_nothing();
    assert_eq!(t.tcp.send_capacity(h).unwrap(), cap - 5);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 6));
    assert_eq!(t.tcp.send_capacity(h).unwrap(), cap);
    assert_eq!(t.conn().snd_una.0, ISS + 6);
}

#[test]
fn received_data_is_delivered_and_acked() {
    // RFC 9293 §3.10.7.4 seventh step: in-order text goes to the user, RCV.NXT advances.
    let mut t = Scenario::established();
    assert_eq!(t.app_read(), Err(SocketError::WouldBlock));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"abc"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 4));
    assert_eq!(t.app_read().unwrap(), b"abc");
}

#[test]
fn out_of_order_data_is_held_and_acked_immediately() {
    // RFC 9293 §3.10.7.4 and RFC 5681 §4.2: an out-of-order segment draws an immediate dup ACK;
    // filling the hole delivers everything.
    let cfg = TcpConfig::default(); // delayed ACKs on
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.peer_sends(seg().seq(IRS + 4).ack(ISS + 1).payload(b"def"));
    t.expect_tx(seg().ack(IRS + 1));
    assert_eq!(t.app_read(), Err(SocketError::WouldBlock));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"abc"));
    t.expect_tx(seg().ack(IRS + 7));
    assert_eq!(t.app_read().unwrap(), b"abcdef");
}

#[test]
fn duplicate_and_overlapping_segments_deliver_once() {
    // RFC 9293 §3.10.7.4: segments are trimmed to the window; old bytes are not delivered twice.
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"abc"));
    t.peer_sends(seg().seq(IRS + 2).ack(ISS + 1).payload(b"bcdef"));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"abc"));
    let _ = t.drain();
    assert_eq!(t.app_read().unwrap(), b"abcdef");
}

#[test]
fn delayed_ack_waits_then_fires() {
    // RFC 9293 §3.8.6.3: one segment's ACK may be delayed (< 0.5 s); here 40 ms.
    let cfg = TcpConfig {
        delayed_ack: Duration::from_millis(40),
        ..TcpConfig::default()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"abc"));
    t.expect_nothing();
    t.advance_ms(39).expect_nothing();
    t.advance_ms(1).expect_tx(seg().ack(IRS + 4));
}

#[test]
fn every_second_full_segment_is_acked_at_once() {
    // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at least every second full-sized segment.
    let cfg = TcpConfig {
        delayed_ack: Duration::from_millis(200),
        ..TcpConfig::default()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    let full = vec![7u8; 1460];
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(&full));
    t.expect_nothing();
    t.peer_sends(seg().seq(IRS + 1461).ack(ISS + 1).payload(&full));
    t.expect_tx(seg().ack(IRS + 2921));
}

#[test]
fn nagle_holds_small_segments_while_data_is_unacked() {
    // RFC 896 / RFC 9293 §3.7.4: one small segment in flight at a time; nodelay turns it off.
    let mut t = Scenario::established();
    t.app_write(b"a");
    t.expect_tx(seg().seq(ISS + 1).payload(b"a"));
    t.app_write(b"b");
    t.expect_nothing();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().seq(ISS + 2).payload(b"b"));
    let h = t.handle();
    t.tcp.set_nodelay(h, true).unwrap();
    t.app_write(b"c");
    t.expect_tx(seg().seq(ISS + 3).payload(b"c"));
}

#[test]
fn large_write_is_segmented_at_the_mss_and_limited_by_the_initial_window() {
    // RFC 9293 §3.7.1 (segments of SMSS), RFC 6928 (IW = 10 segments for MSS 1460).
    let mut t = Scenario::established();
    t.app_write(&vec![1u8; 30_000]);
    let sent = t.drain();
    assert_eq!(sent.len(), 10, "initial window of 10 segments");
    assert!(sent.iter().all(|s| s.payload.len() == 1460));
    assert_eq!(sent[1].seq, ISS + 1 + 1460);
}

#[test]
fn send_buffer_full_returns_would_block() {
    // RFC 9293 §3.10.2 (SEND with a bounded buffer): the send buffer is bounded; a full buffer is WouldBlock, not an error.
    let cfg = TcpConfig {
        send_buffer: 1000,
        delayed_ack: Duration::ZERO,
        ..TcpConfig::default()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    let h = t.handle();
    assert_eq!(t.tcp.send(t.now, h, &[0u8; 1500]), Ok(1000));
    assert_eq!(t.tcp.send(t.now, h, b"x"), Err(SocketError::WouldBlock));
}
