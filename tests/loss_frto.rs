// RFC 5682 §3.1 (SACK-enhanced F-RTO) as event sequences: without timestamps (so Eifel, RFC
// 3522, cannot judge) a timeout is shown spurious when, after the retransmission and two new
// segments, the next ACK acknowledges data sent before the timeout that was never resent.
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
