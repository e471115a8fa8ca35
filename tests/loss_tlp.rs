// RFC 8985 §7.4 tail loss probe loss detection, as event sequences: a probe that resent data
// and was answered without a D-SACK repaired a loss (reduce the window once); a probe of new
// data, or one the receiver reports as a duplicate, repaired nothing (no reduction).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;
use tunstack::tcp::TcpConfig;

const MSS: u32 = 1448; // 1460 minus the timestamp option

fn cfg() -> TcpConfig {
    TcpConfig {
        cc: "newreno".into(),
        ..TcpConfig::default()
    }
}

/// ESTABLISHED with SACK and timestamps after a 100 ms handshake (SRTT 100 ms).
fn established() -> Scenario {
    let mut t = Scenario::listening(cfg());
    t.peer_sends(seg().syn().seq(IRS).mss(1460).sack_perm().ts(100, 0));
    let synack = t.pop_tx().expect("SYN,ACK");
    let v = synack.options.timestamps.map_or(0, |(v, _)| v);
    t.advance_ms(100);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).ts(101, v));
    let l = t.listener.expect("listener");
    t.h = Some(t.tcp.accept(l).expect("accept"));
    t
}

/// Three segments sent at 100 ms, the first two ACKed at 200 ms (SRTT 100 ms), the third
/// outstanding. The probe (PTO = min(2·SRTT + WCDelAckT,
/// RTO), §7.2) resends it, as nothing new is queued. Returns the scenario and the probe's
/// TSval.
fn probe_of_the_last_segment() -> (Scenario, u32) {
    let mut t = established();
    t.app_write(&vec![7u8; 3 * MSS as usize]);
    let sent = t.drain();
    assert_eq!(sent.len(), 3, "{}", t.dump());
    let ts0 = sent[0].options.timestamps.map_or(0, |(v, _)| v);
    t.advance_ms(100);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1 + 2 * MSS).ts(101, ts0));
    let x = t.drain();
    assert!(x.is_empty(), "{}", t.dump());
    assert_eq!(t.conn().info().ssthresh, u32::MAX);
    t.advance_ms(400);
    let probe = t.pop_tx().expect("a tail loss probe");
    assert_eq!(probe.seq, ISS + 1 + 2 * MSS, "{}", t.dump());
    assert_eq!(probe.payload.len(), MSS as usize);
    assert_eq!(t.stats().tlp_probes, 1);
    assert_eq!(t.stats().rto_expirations, 0);
    (t, probe.options.timestamps.map_or(0, |(v, _)| v))
}

#[test]
fn a_probe_that_repaired_a_tail_loss_reduces_the_window() {
    // §7.4.2: the ACK covers TLP.end_seq, the probe was a retransmission and no D-SACK says
    // it was redundant: the original was lost and only the probe repaired it. Congestion
    // control reduces (NewReno: ssthresh = max(FlightSize/2, 2·SMSS) = 2·SMSS, RFC 5681 §3.2).
    let (mut t, ts) = probe_of_the_last_segment();
    t.advance_ms(100);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1 + 3 * MSS).ts(102, ts));
    assert_eq!(t.conn().info().ssthresh, 2 * MSS, "{}", t.dump());
    assert_eq!(t.stats().tlp_repairs, 1, "counted as a repair");
}

#[test]
fn a_probe_reported_as_duplicate_keeps_the_window() {
    // §7.4.2: both the original and the probe arrived; the receiver D-SACKs the probe
    // (RFC 2883 §4: a block below the cumulative ACK, ending at TLP.end_seq): no loss.
    let (mut t, ts) = probe_of_the_last_segment();
    t.advance_ms(100);
    t.peer_sends(
        seg()
            .seq(IRS + 1)
            .ack(ISS + 1 + 3 * MSS)
            .ts(102, ts)
            .sack(ISS + 1 + 2 * MSS, ISS + 1 + 3 * MSS),
    );
    assert_eq!(t.conn().info().ssthresh, u32::MAX, "{}", t.dump());
    assert_eq!(
        t.stats().tlp_repairs,
        0,
        "a redundant probe repaired nothing"
    );
}

#[test]
fn a_probe_of_new_data_keeps_the_window() {
    // §7.3: with new data queued the probe sends it (TLP.is_retrans false); an ACK covering
    // it shows the tail arrived: nothing was lost, no reduction. The new data is a short
    // segment Nagle holds back (RFC 9293 §3.7.4) while a full one is unacknowledged.
    let mut t = established();
    t.app_write(&vec![7u8; MSS as usize]);
    let sent = t.drain();
    assert_eq!(sent.len(), 1, "{}", t.dump());
    t.app_write(&[8u8; 100]);
    t.expect_nothing();
    t.advance_ms(400);
    let probe = t.pop_tx().expect("a tail loss probe");
    assert_eq!(
        (probe.seq, probe.payload.len()),
        (ISS + 1 + MSS, 100),
        "{}",
        t.dump()
    );
    assert_eq!(t.stats().tlp_probes, 1);
    let ts = probe.options.timestamps.map_or(0, |(v, _)| v);
    t.advance_ms(100);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1 + MSS + 100).ts(102, ts));
    assert_eq!(t.conn().info().ssthresh, u32::MAX, "{}", t.dump());
    assert_eq!(t.stats().tlp_repairs, 0, "new data repaired nothing");
}
