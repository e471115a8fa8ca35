// RFC 5681 (slow start, congestion avoidance, fast retransmit/recovery), RFC 3465 (byte
// counting), RFC 6582 (NewReno partial ACKs), RFC 6928 (initial window): controllers as event
// sequences, then the connection driving one.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::tcp::TcpConfig;
use tunstack::tcp::congestion;
use tunstack::tcp::seq::SeqNum;
use tunstack::time::{Duration, Instant};

const MSS: u32 = 1460;
const T0: Instant = Instant::ZERO;

#[test]
fn initial_window_is_rfc6928() {
    // RFC 6928 §2: min(10·MSS, max(2·MSS, 14600)).
    assert_eq!(congestion::new("newreno", MSS).window(), 14600);
    assert_eq!(congestion::new("newreno", 4000).window(), 14600);
    assert_eq!(congestion::new("newreno", 8000).window(), 16000);
}

#[test]
fn slow_start_growth_with_byte_counting() {
    // RFC 5681 §3.1 + RFC 3465 §2.2: cwnd += min(bytes acked, 2·SMSS) per ACK.
    let mut cc = congestion::new("newreno", MSS);
    let w0 = cc.window();
    cc.on_ack(T0, SeqNum(0), 700, w0);
    assert_eq!(cc.window(), w0 + 700);
    cc.on_ack(T0, SeqNum(0), 10 * MSS, w0);
    assert_eq!(cc.window(), w0 + 700 + 2 * MSS);
}

#[test]
fn three_dupacks_halve_window() {
    // RFC 5681 §3.2 (2)-(3): ssthresh = max(FlightSize/2, 2·SMSS), cwnd = ssthresh + 3·SMSS.
    let mut cc = congestion::new("newreno", MSS);
    assert!(cc.on_fast_retransmit(T0, 20 * MSS, SeqNum(100_000)));
    assert_eq!(cc.ssthresh(), 10 * MSS);
    assert_eq!(cc.window(), 13 * MSS);
    cc.on_dup_ack(T0); // (4) inflate
    assert_eq!(cc.window(), 14 * MSS);
}

#[test]
fn rto_resets_to_loss_window() {
    // RFC 5681 §3.1 eq. (4): ssthresh = max(FlightSize/2, 2·SMSS); cwnd = LW = 1 SMSS.
    let mut cc = congestion::new("newreno", MSS);
    cc.on_rto(T0, 8 * MSS);
    assert_eq!(cc.window(), MSS);
    assert_eq!(cc.ssthresh(), 4 * MSS);
    // Then slow start up to ssthresh, then linear growth.
    for _ in 0..3 {
        cc.on_ack(T0, SeqNum(0), MSS, MSS);
    }
    assert_eq!(cc.window(), 4 * MSS);
    for _ in 0..4 {
        cc.on_ack(T0, SeqNum(0), MSS, 4 * MSS);
    }
    assert_eq!(cc.window(), 5 * MSS, "one SMSS per window of ACKed bytes");
}

#[test]
fn newreno_partial_ack() {
    // RFC 6582 §3.2 step 3: a partial ACK retransmits the next hole and keeps recovery; the ACK
    // of `recover` ends it with cwnd = min(ssthresh, FlightSize + SMSS).
    let mut cc = congestion::new("newreno", MSS);
    cc.on_fast_retransmit(T0, 10 * MSS, SeqNum(50_000));
    assert!(cc.on_ack(T0, SeqNum(20_000), 2 * MSS, 10 * MSS));
    assert!(cc.in_recovery());
    assert!(!cc.on_ack(T0, SeqNum(50_001), 8 * MSS, 8 * MSS));
    assert!(!cc.in_recovery());
    assert_eq!(cc.window(), MSS * 2); // min(5·MSS, max(0, MSS) + MSS)
    // Plain Reno leaves recovery on the first new ACK.
    let mut reno = congestion::new("reno", MSS);
    reno.on_fast_retransmit(T0, 10 * MSS, SeqNum(50_000));
    assert!(!reno.on_ack(T0, SeqNum(20_000), 2 * MSS, 10 * MSS));
    assert!(!reno.in_recovery());
}

#[test]
fn none_never_limits_the_sender() {
    // RFC 5681 §3 switched off for labs: "none" leaves only flow control.
    let mut cc = congestion::new("none", MSS);
    cc.on_rto(T0, 100 * MSS);
    assert_eq!(cc.window(), u32::MAX);
}

#[test]
fn connection_fast_retransmit_and_partial_ack_in_action() {
    // RFC 6582 end to end: segments 1 and 3 lost; dupACKs -> retransmit 1; the partial ACK
    // (for 2) retransmits 3 at once, without waiting for more dupACKs or the RTO.
    let mut t = Scenario::established();
    t.app_write(&vec![1u8; 6 * 1460]);
    assert_eq!(t.drain().len(), 6);
    let s = |n: u32| ISS + 1 + n * 1460;
    for _ in 0..3 {
        t.peer_sends(seg().seq(IRS + 1).ack(s(0)));
    }
    t.expect_tx(seg().seq(s(0)).len(1460));
    let ssthresh = t.tcp.info(t.handle()).unwrap().ssthresh;
    assert_eq!(ssthresh, 3 * 1460);
    t.peer_sends(seg().seq(IRS + 1).ack(s(2))); // partial ACK
    t.expect_tx(seg().seq(s(2)).len(1460));
    t.peer_sends(seg().seq(IRS + 1).ack(s(6))); // everything
    assert_eq!(t.conn().snd_una.0, s(6));
    assert!(t.tcp.info(t.handle()).unwrap().cwnd <= ssthresh);
}

#[test]
fn only_the_first_partial_ack_restarts_the_retransmission_timer() {
    // RFC 6582 §3.2 step 5 ("Impatient", §4): segments 0, 2 and 4 of 8 lost, no SACK. The first
    // partial ACK restarts the timer; the second does not, so the RTO comes one RTO after the
    // first partial ACK and its slow start repairs the rest, instead of one hole per round trip.
    let mut t = Scenario::established();
    t.app_write(&vec![1u8; 8 * 1460]);
    assert_eq!(t.drain().len(), 8);
    let s = |n: u32| ISS + 1 + n * 1460;
    for _ in 0..3 {
        t.peer_sends(seg().seq(IRS + 1).ack(s(0)));
    }
    t.expect_tx(seg().seq(s(0)).len(1460));
    t.drain();
    let rto = t.tcp.info(t.handle()).unwrap().rto;
    assert!(rto >= Duration::from_millis(400), "rto {rto:?}");
    t.peer_sends(seg().seq(IRS + 1).ack(s(2))); // first partial ACK: timer restarts
    t.expect_tx(seg().seq(s(2)).len(1460));
    t.drain();
    let first = t.now;
    t.advance(Duration::from_micros(rto.total_micros() / 2));
    t.peer_sends(seg().seq(IRS + 1).ack(s(4))); // second partial ACK: the timer stands
    t.expect_tx(seg().seq(s(4)).len(1460));
    t.drain();
    // Just before the deadline set by the first partial ACK: nothing.
    t.advance(first + rto - t.now - Duration::from_millis(1));
    t.expect_nothing();
    assert_eq!(t.tcp.stats().rto_expirations, 0);
    // At it: the RTO resends SND.UNA (Slow-but-Steady would wait another RTO/2).
    t.advance_ms(2);
    t.expect_tx(seg().seq(s(4)).len(1460));
    assert_eq!(t.tcp.stats().rto_expirations, 1);
}

#[test]
fn duplicate_acks_below_the_timeouts_recover_start_no_fast_retransmit() {
    // RFC 6582 §3.2 steps 2 and 4, no SACK: a timeout records recover = the highest sequence
    // sent; duplicate ACKs that do not cover it answer our own go-back-N resends (the receiver
    // already holds that data) and must not start a fast retransmit, whose ssthresh would come
    // from the whole old flight. Past recover, three duplicates do start one again.
    let mut t = Scenario::established();
    t.app_write(&vec![1u8; 8 * 1460]);
    assert_eq!(t.drain().len(), 8);
    let s = |n: u32| ISS + 1 + n * 1460;
    let rto = t.tcp.info(t.handle()).unwrap().rto;
    t.advance(rto);
    t.expect_tx(seg().seq(s(0)).len(1460)); // the timeout's go-back-N resend
    t.drain();
    assert_eq!(t.tcp.stats().rto_expirations, 1);
    t.peer_sends(seg().seq(IRS + 1).ack(s(1))); // s1..s7 were held back by the loss of s0...
    t.drain();
    for _ in 0..3 {
        t.peer_sends(seg().seq(IRS + 1).ack(s(1))); // ...and our resends of them are duplicates
    }
    t.expect_nothing();
    assert_eq!(t.tcp.stats().retransmits_fast, 0);
    // Everything up to recover acknowledged; new data and a new loss recover as usual.
    t.peer_sends(seg().seq(IRS + 1).ack(s(8)));
    t.drain();
    t.app_write(&vec![2u8; 8 * 1460]);
    t.drain();
    for _ in 0..3 {
        t.peer_sends(seg().seq(IRS + 1).ack(s(8)));
    }
    t.expect_tx(seg().seq(s(8)).len(1460));
    assert_eq!(t.tcp.stats().retransmits_fast, 1);
}

#[test]
fn cc_none_sends_the_whole_receive_window() {
    // With "none" only the peer's window limits the first flight (no RFC 6928 IW).
    let cfg = TcpConfig {
        cc: "none".into(),
        ..Scenario::quick_ack_config()
    };
    let mut t = Scenario::established_with(cfg, seg().syn().seq(IRS).mss(1460));
    t.app_write(&vec![0u8; 28 * 1460]); // whole segments: Nagle holds no tail
    let sent: usize = t.drain().iter().map(|s| s.payload.len()).sum();
    assert_eq!(sent, 28 * 1460);
}

#[test]
fn sack_recovery_fills_a_second_hole_without_waiting_a_round_trip() {
    // RFC 2018 §5 / RFC 6675 §5 (simplified): during recovery each further dupACK resends the
    // next SACKed-around hole; plain NewReno would wait for the partial ACK.
    let syn = seg().syn().seq(IRS).mss(1460).sack_perm();
    let mut t = Scenario::established_with(Scenario::quick_ack_config(), syn);
    t.app_write(&vec![1u8; 6 * 1460]);
    assert_eq!(t.drain().len(), 6);
    let s = |n: u32| ISS + 1 + n * 1460;
    // Segments 0 and 2 are lost; 1, 3, 4, 5 arrive and are SACKed.
    t.peer_sends(seg().seq(IRS + 1).ack(s(0)).sack(s(1), s(2)));
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(s(0))
            .sack(s(3), s(4))
            .sack(s(1), s(2)),
    );
    t.expect_nothing();
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(s(0))
            .sack(s(3), s(5))
            .sack(s(1), s(2)),
    );
    t.expect_tx(seg().seq(s(0)).len(1460)); // fast retransmit
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(s(0))
            .sack(s(3), s(6))
            .sack(s(1), s(2)),
    );
    t.expect_tx(seg().seq(s(2)).len(1460)); // the second hole, at once
    t.peer_sends(seg().seq(IRS + 1).ack(s(6)));
    assert_eq!(t.conn().snd_una.0, s(6));
}
