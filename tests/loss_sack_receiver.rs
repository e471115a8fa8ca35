// RFC 2018 §3-4 (SACK blocks a receiver sends) and RFC 2883 §4 (D-SACK): scenarios against one
// connection, the peer's segments crafted by hand.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;

fn sack_conn() -> Scenario {
    let syn = seg().syn().seq(IRS).mss(1460).sack_perm();
    Scenario::established_with(Scenario::quick_ack_config(), syn)
}

fn blocks(s: &Sent) -> Vec<(u32, u32)> {
    s.options
        .sack_blocks
        .iter()
        .flatten()
        .map(|(l, r)| (l.0, r.0))
        .collect()
}

#[test]
fn four_blocks_without_timestamps_most_recent_first() {
    // RFC 2018 §3: up to 4 blocks fit without timestamps; §4: the block holding the most
    // recently received segment comes first, then the others.
    let mut t = sack_conn();
    for k in [1u32, 3, 5, 7, 9] {
        t.peer_sends(seg().seq(IRS + 1 + k * 10).ack(ISS + 1).payload(&[7; 5]));
        let ack = t.pop_tx().unwrap();
        let b = blocks(&ack);
        assert_eq!(b[0], (IRS + 1 + k * 10, IRS + 6 + k * 10), "newest first");
        assert_eq!(b.len(), (k as usize).div_ceil(2).min(4));
    }
}

#[test]
fn duplicate_below_rcv_nxt_is_reported_as_dsack() {
    // RFC 2883 §4 (example 4.1.1): a duplicate of acknowledged data: first block below the
    // cumulative ACK.
    let mut t = sack_conn();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(&[1; 100]));
    let _ = t.pop_tx();
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).payload(&[1; 100]));
    let ack = t.pop_tx().unwrap();
    assert_eq!(ack.ack, IRS + 101);
    assert_eq!(blocks(&ack), vec![(IRS + 1, IRS + 101)]);
    // Reported once.
    t.peer_sends(seg().seq(IRS + 101).ack(ISS + 1).payload(&[1; 10]));
    let ack = t.pop_tx().unwrap();
    assert!(blocks(&ack).is_empty(), "{:?}", blocks(&ack));
}

#[test]
fn duplicate_of_held_out_of_order_data_is_dsack_then_sack() {
    // RFC 2883 §4 (example 4.2): a duplicate above RCV.NXT: the D-SACK block first, then the
    // SACK block that holds it.
    let mut t = sack_conn();
    t.peer_sends(seg().seq(IRS + 201).ack(ISS + 1).payload(&[2; 100]));
    let _ = t.pop_tx();
    t.peer_sends(seg().seq(IRS + 201).ack(ISS + 1).payload(&[2; 100]));
    let ack = t.pop_tx().unwrap();
    assert_eq!(ack.ack, IRS + 1);
    assert_eq!(
        blocks(&ack),
        vec![(IRS + 201, IRS + 301), (IRS + 201, IRS + 301)]
    );
}
