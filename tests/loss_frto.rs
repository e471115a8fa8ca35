// RFC 5682 §3.1 (SACK-enhanced F-RTO) as event sequences: without timestamps (so Eifel, RFC
// 3522, cannot judge) a timeout is shown spurious when, after the retransmission and two new
// segments, the next ACK acknowledges data sent before the timeout that was never resent.
// Then the basic F-RTO (RFC 5682 §2) for connections without SACK, at the end of the file.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::tcp::TcpConfig;

const MSS: u32 = 1460; // no timestamp option

fn at(k: u32) -> u32 {
    ISS + 1 + k * MSS
}

/// ESTABLISHED with SACK, no timestamps, after a 100 ms handshake (SRTT 100 ms, RTO 300 ms).
/// Ten segments go out at 100 ms (IW10); the tail loss probe resends segment 9
/// (RFC 8985 §7) at 302 ms; nothing is acknowledged and the RTO fires at 602 ms: step 1 resends
/// segment 0 and nothing else. Four more segments are queued meanwhile; step 2 holds them.
fn timeout(frto: bool) -> Scenario {
    let cfg = TcpConfig {
        cc: "newreno".into(),
        frto,
        ..TcpConfig::default()
    };
    let mut t = Scenario::listening(cfg);
    t.peer_sends(seg().syn().seq(IRS).mss(1460).sack_perm());
    t.pop_tx().expect("SYN,ACK");
    t.advance_ms(100);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    let l = t.listener.expect("listener");
    t.h = Some(t.tcp.accept(l).expect("accept"));
    t.app_write(&vec![1u8; 10 * MSS as usize]);
    assert_eq!(t.drain().len(), 10, "{}", t.dump());
    t.advance_ms(202);
    t.expect_tx(seg().seq(at(9)).len(MSS as usize)); // the probe (PTO = 2·SRTT + 2 ms)
    t.advance_ms(300);
    t.expect_tx(seg().seq(at(0)).len(MSS as usize)); // RTO: step 1
    assert_eq!(t.stats().rto_expirations, 1, "{}", t.dump());
    t.app_write(&vec![2u8; 4 * MSS as usize]);
    t.expect_nothing();
    t
}

#[test]
fn frto_sends_new_data_after_the_first_ack_and_undoes_a_spurious_timeout() {
    // Step 2b: the ACK of the retransmission advances SND.UNA but not to RecoveryPoint
    // (segment 10): send two new segments instead of resending 2..9. Step 3b: the next ACK
    // acknowledges 2..5, sent before the timeout and never resent: they were only delayed;
    // the timeout was spurious and its reduction is undone (ssthresh back to its initial
    // value).
    let mut t = timeout(true);
    t.advance_ms(50);
    t.peer_sends(seg().seq(IRS + 1).ack(at(2)));
    t.expect_tx(seg().seq(at(10)).len(MSS as usize));
    t.expect_tx(seg().seq(at(11)).len(MSS as usize));
    t.expect_nothing();
    t.advance_ms(10);
    t.peer_sends(seg().seq(IRS + 1).ack(at(6)));
    assert_eq!(t.stats().spurious_undos, 1, "{}", t.dump());
    assert_eq!(t.conn().info().ssthresh, u32::MAX, "{}", t.dump());
}

#[test]
fn frto_keeps_the_reduction_when_only_new_data_arrives() {
    // Step 3a: the next ACK is a duplicate that SACKs only the two new segments: the data
    // sent before the timeout is missing, the timeout was genuine; conventional recovery
    // resumes with the lost segments (segment 2 first).
    let mut t = timeout(true);
    t.advance_ms(50);
    t.peer_sends(seg().seq(IRS + 1).ack(at(2)));
    assert_eq!(t.drain().len(), 2, "{}", t.dump());
    t.advance_ms(10);
    t.peer_sends(seg().seq(IRS + 1).ack(at(2)).sack(at(10), at(12)));
    t.expect_tx(seg().seq(at(2)).len(MSS as usize));
    assert_eq!(t.stats().spurious_undos, 0, "{}", t.dump());
    assert_eq!(t.conn().info().ssthresh, 5 * MSS, "{}", t.dump());
}

#[test]
fn without_frto_the_timeout_resends() {
    // frto: false: after the first ACK the sender resends the next lost segment (RFC 6675
    // §5.1 / RFC 8985 §6.3) and never undoes the timeout.
    let mut t = timeout(false);
    t.advance_ms(50);
    t.peer_sends(seg().seq(IRS + 1).ack(at(2)));
    t.expect_tx(seg().seq(at(2)).len(MSS as usize));
    t.advance_ms(10);
    t.peer_sends(seg().seq(IRS + 1).ack(at(6)));
    assert_eq!(t.stats().spurious_undos, 0, "{}", t.dump());
}

// RFC 5682 §2, the basic F-RTO, for connections without SACK (and without timestamps): the
// first ACK after the RTO's retransmission decides whether new data goes out (step 2), the
// second whether the timeout was spurious (step 3); duplicate ACKs mean a real loss.

/// ESTABLISHED without SACK and without timestamps (the peer's SYN offers neither), after a
/// 100 ms handshake (SRTT 100 ms, RTO 300 ms). Ten segments go out at 100 ms (IW10); without
/// SACK there is no tail loss probe (RFC 8985 §7.1), so the RTO fires at 400 ms and resends
/// segment 0 (step 1) and nothing else (cwnd is one segment). Four more segments are queued.
fn basic_timeout(cc: &str, frto: bool) -> Scenario {
    let cfg = TcpConfig {
        cc: cc.into(),
        frto,
        ..TcpConfig::default()
    };
    let mut t = Scenario::listening(cfg);
    t.peer_sends(seg().syn().seq(IRS).mss(1460));
    t.pop_tx().expect("SYN,ACK");
    t.advance_ms(100);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1));
    let l = t.listener.expect("listener");
    t.h = Some(t.tcp.accept(l).expect("accept"));
    assert!(!t.conn().info().sack && !t.conn().info().timestamps);
    t.app_write(&vec![1u8; 10 * MSS as usize]);
    assert_eq!(t.drain().len(), 10, "{}", t.dump());
    t.advance_ms(300);
    t.expect_tx(seg().seq(at(0)).len(MSS as usize)); // step 1
    assert_eq!(t.stats().rto_expirations, 1, "{}", t.dump());
    t.app_write(&vec![2u8; 4 * MSS as usize]);
    t.expect_nothing();
    t
}

fn ack(n: u32) -> harness::Seg {
    seg().seq(IRS + 1).ack(n)
}

#[test]
fn basic_frto_undoes_a_spurious_timeout_without_sack() {
    for cc in ["newreno", "cubic"] {
        // Switched off (`frto: false`): the ACK of the retransmission starts the go-back-N
        // resends of segments 2.. (RFC 5681 §3.1, RFC 6298 §5.4).
        let mut t = basic_timeout(cc, false);
        t.advance_ms(50);
        t.peer_sends(ack(at(2)));
        t.expect_tx(seg().seq(at(2)).len(MSS as usize));

        let mut t = basic_timeout(cc, true);
        // Step 2b: the first ACK acknowledges the retransmission and stays below `recover`
        // (segment 10): two new segments go out instead of resends.
        t.advance_ms(50);
        t.peer_sends(ack(at(2)));
        t.expect_tx(seg().seq(at(10)).len(MSS as usize));
        t.expect_tx(seg().seq(at(11)).len(MSS as usize));
        t.expect_nothing();
        // Step 3b: the second ACK acknowledges more of the data sent before the timeout: it
        // was only delayed; the timeout was spurious and its reduction is undone (RFC 5682 §4,
        // RFC 4015 §3.2: ssthresh back to its initial value, cwnd restored).
        t.advance_ms(10);
        t.peer_sends(ack(at(6)));
        assert_eq!(t.stats().spurious_undos, 1, "{cc}: {}", t.dump());
        assert_eq!(t.conn().info().ssthresh, u32::MAX, "{cc}: {}", t.dump());
        // RFC 4015 §3.2 step 4: transmission resumes with unsent data; nothing below the
        // new data is resent, and the rest of the window's ACKs resend nothing either.
        let sent = t.drain();
        let seqs: Vec<u32> = sent.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, [at(12), at(13)], "{cc}: {}", t.dump());
        t.advance_ms(10);
        t.peer_sends(ack(at(12)));
        t.peer_sends(ack(at(14)));
        t.expect_nothing();
        assert_eq!(t.stats().retransmits, 1, "{cc}: {}", t.dump());
    }
}

/// The first ACK after the retransmission, with a duplicate ACK before it or not.
fn step_2(dupack_first: bool) -> Scenario {
    let mut t = basic_timeout("newreno", true);
    t.advance_ms(50);
    if dupack_first {
        t.peer_sends(ack(at(0)));
        t.expect_nothing();
    }
    t.peer_sends(ack(at(2)));
    t
}

#[test]
fn basic_frto_dupack_in_step_2_falls_back_to_go_back_n() {
    // Without the duplicate ACK, step 2b sends new data (segment 10).
    let mut t = step_2(false);
    t.expect_tx(seg().seq(at(10)).len(MSS as usize));
    // Step 2a: the first ACK after the RTO's retransmission is a duplicate (a segment is
    // missing at the receiver): a real loss. Conventional RTO recovery: slow start resends
    // from SND.UNA (go-back-N: segments 2, 3, 4 with cwnd 3·SMSS), no new data, no undo.
    let mut t = step_2(true);
    for k in 2..5 {
        t.expect_tx(seg().seq(at(k)).len(MSS as usize));
    }
    t.expect_nothing();
    t.advance_ms(50);
    t.peer_sends(ack(at(5)));
    t.expect_tx(seg().seq(at(5)).len(MSS as usize));
    assert_eq!(t.stats().spurious_undos, 0, "{}", t.dump());
    assert_eq!(t.conn().info().ssthresh, 5 * MSS, "{}", t.dump());
}

#[test]
fn basic_frto_dupack_in_step_3_keeps_the_reduction() {
    // Step 2b sent segments 10 and 11; step 3a: the second ACK is a duplicate (they arrived,
    // the data sent before the timeout did not): the timeout was genuine. cwnd is at most
    // 3·SMSS and slow start resends the unacknowledged segments from SND.UNA (2, 3, 4).
    let mut t = basic_timeout("newreno", true);
    t.advance_ms(50);
    t.peer_sends(ack(at(2)));
    assert_eq!(t.drain().len(), 2, "{}", t.dump());
    t.advance_ms(10);
    t.peer_sends(ack(at(2)));
    assert!(t.conn().info().cwnd <= 3 * MSS, "{}", t.dump());
    for k in 2..5 {
        t.expect_tx(seg().seq(at(k)).len(MSS as usize));
    }
    t.expect_nothing();
    assert_eq!(t.stats().spurious_undos, 0, "{}", t.dump());
    assert_eq!(t.conn().info().ssthresh, 5 * MSS, "{}", t.dump());
    // The resends' duplicate ACKs (segments 10, 11 already held) start no fast retransmit:
    // RFC 6582 §3.2 step 2, `recover` covers what was sent up to the fallback.
    for _ in 0..3 {
        t.peer_sends(ack(at(2)));
    }
    t.expect_nothing();
    assert_eq!(t.stats().retransmits_fast, 0, "{}", t.dump());
}
