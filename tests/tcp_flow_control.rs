// RFC 9293 §3.8.6 (flow control): zero window and persist probes (§3.8.6.1, RFC 1122
// §4.2.2.17), sender and receiver SWS avoidance (§3.8.6.2), window updates (§3.10.7.4).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::tcp::TcpConfig;

fn small_buffer() -> Scenario {
    let cfg = TcpConfig {
        recv_buffer: 4000,
        ..Scenario::quick_ack_config()
    };
    Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460))
}

#[test]
fn receive_window_shrinks_with_buffered_data_to_zero() {
    // RFC 9293 §3.8.6: the window offered is the free receive-buffer space.
    let mut t = small_buffer();
    let chunk = vec![5u8; 1460];
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(&chunk));
    t.expect_tx(seg().ack(IRS + 1461).win(2540));
    t.peer_sends(seg().seq(IRS + 1461).ack(ISS + 1).payload(&chunk));
    t.expect_tx(seg().ack(IRS + 2921).win(1080));
    t.peer_sends(seg().seq(IRS + 2921).ack(ISS + 1).payload(&chunk[..1080]));
    t.expect_tx(seg().ack(IRS + 4001).win(0));
    // Data beyond a zero window is not accepted; the ACK repeats the window.
    t.peer_sends(seg().seq(IRS + 4001).ack(ISS + 1).payload(b"x"));
    t.expect_tx(seg().ack(IRS + 4001).win(0));
    assert_eq!(t.conn().rcv_wnd(), 0);
}

#[test]
fn receiver_sws_avoidance_and_window_update_after_read() {
    // RFC 9293 §3.8.6.2.2: open the window only by min(RCV.BUFF/2, MSS) or more, and announce
    // it when the application's read makes that possible.
    let mut t = small_buffer();
    let chunk = vec![5u8; 4000];
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(&chunk[..1460]));
    t.peer_sends(seg().seq(IRS + 1461).ack(ISS + 1).payload(&chunk[..1460]));
    t.peer_sends(seg().seq(IRS + 2921).ack(ISS + 1).payload(&chunk[..1080]));
    let _ = t.drain();
    let h = t.handle();
    let mut buf = [0u8; 100];
    assert_eq!(t.tcp.recv(t.now, h, &mut buf), Ok(100));
    t.expect_nothing(); // 100 bytes free: too small to offer (SWS)
    let mut big = [0u8; 1400];
    assert_eq!(t.tcp.recv(t.now, h, &mut big), Ok(1400));
    t.expect_tx(seg().ack(IRS + 4001).win(1500));
}

#[test]
fn zero_window_is_probed_with_backoff() {
    // RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17: probe a zero window; intervals grow
    // exponentially; probes never time the connection out.
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(0));
    t.app_write(b"hello");
    t.expect_nothing();
    t.advance_ms(999).expect_nothing();
    t.advance_ms(1).expect_tx(seg().seq(ISS + 1).payload(b"h"));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(0));
    t.advance_ms(1999).expect_nothing();
    t.advance_ms(1).expect_tx(seg().seq(ISS + 1).payload(b"h"));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(0));
    t.advance_ms(3999).expect_nothing();
    t.advance_ms(1).expect_tx(seg().seq(ISS + 1).payload(b"h"));
    assert_eq!(t.stats().window_probes, 3);
    // The window opens: everything goes, from SND.UNA.
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(1000));
    t.expect_tx(seg().seq(ISS + 1).payload(b"hello"));
    t.expect_state("ESTABLISHED");
}

#[test]
fn many_zero_window_probes_do_not_abort() {
    // RFC 1122 §4.2.2.17: "MUST NOT close the connection while the receiver keeps ACKing".
    let cfg = TcpConfig {
        max_retries: 2,
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(0));
    t.app_write(b"data");
    for _ in 0..6 {
        t.advance_ms(60_000);
        let probes = t.drain();
        assert!(!probes.is_empty());
        t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(0));
    }
    t.expect_state("ESTABLISHED");
}

#[test]
fn sender_sws_holds_a_tiny_window_until_the_override_timer() {
    // RFC 9293 §3.8.6.2.1: don't send a small segment into a small window unless it is at least
    // half the largest window seen; the override timeout sends it eventually.
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(100));
    t.app_write(&[1u8; 1000]);
    t.expect_nothing();
    t.advance_ms(1000);
    t.expect_tx(seg().seq(ISS + 1).len(100));
}

#[test]
fn window_update_uses_only_newer_segments() {
    // RFC 9293 §3.10.7.4: update SND.WND only if SND.WL1 < SEG.SEQ or (= and SND.WL2 =< SEG.ACK).
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(b"abc").win(3000));
    let _ = t.drain();
    assert_eq!(t.conn().snd_wnd, 3000);
    // An older segment (reordered) does not shrink it back.
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(1000));
    assert_eq!(t.conn().snd_wnd, 3000);
}

#[test]
fn peer_shrinking_its_window_is_survived() {
    // RFC 9293 §3.8.6.2.1: the sender MUST be robust against a window that shrinks below data
    // already sent: no crash, no new data beyond it, the data goes once the window reopens.
    let mut t = Scenario::established();
    t.app_write(&[7u8; 2920]);
    assert_eq!(t.drain().len(), 2);
    // The peer acknowledges nothing and offers only 100 bytes.
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).win(100));
    t.expect_nothing();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2921).win(65535));
    assert_eq!(t.conn().snd_una.0, ISS + 2921);
    t.expect_state("ESTABLISHED");
}

#[test]
fn a_receive_buffer_set_directly_holds_a_window_of_out_of_order_segments() {
    // RFC 1122 §4.2.2.20: out-of-order segments SHOULD be queued. A 1 MB receive buffer set
    // without `set_buffers` still holds one piece per 1000 bytes (here 1000), not the default 256:
    // 400 one-byte islands are all kept, and the stream reads back intact once the gaps fill.
    let cfg = TcpConfig {
        recv_buffer: 1 << 20,
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460).wscale(7));
    let byte = |i: u32| b'a' + (i % 26) as u8;
    for i in (1..=800u32).step_by(2) {
        t.peer_sends(seg().seq(IRS + 1 + i).ack(ISS + 1).payload(&[byte(i)]));
    }
    t.drain();
    assert_eq!(t.tcp.stats().drop_reassembly_full, 0, "{}", t.dump());
    for i in (0..=800u32).step_by(2) {
        t.peer_sends(seg().seq(IRS + 1 + i).ack(ISS + 1).payload(&[byte(i)]));
    }
    let got = t.app_read().expect("read");
    let want: Vec<u8> = (0..=800u32).map(byte).collect();
    assert_eq!(got, want);
}
