// ACKs when a driver hands the engine several segments before asking what to send (the TUN
// runtime reads a batch, then flushes): a later cumulative ACK supersedes earlier pure ACKs
// (RFC 9293 §3.8.6.3 allows ACKing less often than every segment within a burst), but every
// out-of-order segment keeps its own duplicate ACK (RFC 5681 §4.2), so a sender still counts
// them (RFC 5681 §3.2 DupThresh, RFC 6675).
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;

fn sack_conn() -> Scenario {
    let syn = seg().syn().seq(IRS).mss(1460).sack_perm();
    Scenario::established_with(Scenario::quick_ack_config(), syn)
}

fn pure_acks(sent: &[Sent]) -> Vec<u32> {
    sent.iter()
        .filter(|s| s.payload.is_empty())
        .map(|s| s.ack)
        .collect()
}

#[test]
fn in_order_segments_of_one_batch_get_one_cumulative_ack() {
    let mut t = Scenario::established();
    for k in 0..5u32 {
        t.peer_sends(seg().seq(IRS + 1 + k * 100).ack(ISS + 1).payload(&[1; 100]));
    }
    let sent = t.drain();
    assert_eq!(pure_acks(&sent), vec![IRS + 501], "{}", t.dump());
}

#[test]
fn each_out_of_order_segment_of_a_batch_gets_its_duplicate_ack() {
    let mut t = sack_conn();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(&[1; 100]));
    // 100 bytes missing, then three segments beyond the hole.
    for k in 2..5u32 {
        t.peer_sends(seg().seq(IRS + 1 + k * 100).ack(ISS + 1).payload(&[2; 100]));
    }
    let sent = t.drain();
    // The first ACK moves the cumulative point; the other three duplicate it.
    assert_eq!(pure_acks(&sent), vec![IRS + 101; 4], "{}", t.dump());
    for s in &sent {
        let first = s.options.sack_blocks[0].map(|(l, r)| (l.0, r.0));
        assert_eq!(first, Some((IRS + 201, IRS + 501)), "{}", t.dump());
    }
    t.expect_nothing();
}

#[test]
fn filling_the_hole_supersedes_the_duplicates_owed() {
    let mut t = sack_conn();
    for k in [2u32, 3, 4] {
        t.peer_sends(seg().seq(IRS + 1 + k * 100).ack(ISS + 1).payload(&[2; 100]));
    }
    // The hole [1, 201) is filled within the same batch: one ACK for everything, no
    // duplicates of the old RCV.NXT (they would look like losses to the sender).
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(&[1; 200]));
    let sent = t.drain();
    assert_eq!(pure_acks(&sent), vec![IRS + 501], "{}", t.dump());
}

#[test]
fn duplicate_acks_follow_data_that_carried_the_ack() {
    let mut t = sack_conn();
    t.app_write(&[9; 300]);
    for k in [2u32, 3] {
        t.peer_sends(seg().seq(IRS + 1 + k * 100).ack(ISS + 1).payload(&[2; 100]));
    }
    let sent = t.drain();
    // Our data segment acknowledges too, but a sender counts only pure ACKs as duplicates
    // (RFC 5681 §2): both out-of-order segments still get one each.
    assert!(sent.iter().any(|s| !s.payload.is_empty()), "{}", t.dump());
    assert_eq!(pure_acks(&sent), vec![IRS + 1; 2], "{}", t.dump());
}
