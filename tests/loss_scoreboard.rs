// RFC 6675 §3-4 (scoreboard, IsLost, SetPipe, NextSeg), RFC 2018 §4-8 (SACK blocks, reneging),
// RFC 2883 §4 (D-SACK), RFC 8985 §6.2 (RACK marking): the sender's scoreboard as event sequences.
use tunstack::tcp::sack::{Ambiguity, Delivery, Scoreboard};
use tunstack::tcp::seq::SeqNum;
use tunstack::time::{Duration, Instant};

const MSS: u32 = 1000;
const UNA: u32 = 10_000;

fn s(n: u32) -> SeqNum {
    SeqNum(UNA + n * MSS)
}

/// Ten segments sent at t = 0..9 ms.
fn board() -> Scoreboard {
    let mut sb = Scoreboard::default();
    for i in 0..10 {
        sb.on_transmit(s(i), s(i + 1), Instant::from_millis(u64::from(i)));
    }
    sb
}

fn sack(sb: &mut Scoreboard, blocks: &[(u32, u32)]) -> Delivery {
    let mut d = Delivery::default();
    let b: Vec<Option<(SeqNum, SeqNum)>> =
        blocks.iter().map(|&(l, r)| Some((s(l), s(r)))).collect();
    sb.on_sack_blocks(
        &b,
        s(0),
        s(10),
        Instant::from_millis(50),
        Duration::ZERO,
        &mut d,
    );
    d
}

fn sacked(sb: &Scoreboard) -> Vec<u32> {
    sb.segments()
        .filter(|g| g.sacked)
        .map(|g| (g.start.0 - UNA) / MSS)
        .collect()
}

#[test]
fn blocks_in_every_order_give_the_same_board() {
    // RFC 2018 §4: the receiver lists the most recent block first; the order carries no
    // meaning for the scoreboard.
    let blocks = [(2, 3), (5, 7), (8, 9)];
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for o in orders {
        let mut sb = board();
        let d = sack(&mut sb, &[blocks[o[0]], blocks[o[1]], blocks[o[2]]]);
        assert_eq!(sacked(&sb), vec![2, 5, 6, 8], "order {o:?}");
        assert_eq!(d.sacked, 4 * MSS);
        assert_eq!(sb.pipe(), 6 * MSS); // RFC 6675 SetPipe: nothing lost yet
    }
}

#[test]
fn overlapping_and_repeated_blocks_count_once() {
    let mut sb = board();
    assert_eq!(sack(&mut sb, &[(3, 5)]).sacked, 2 * MSS);
    assert_eq!(sack(&mut sb, &[(4, 6)]).sacked, MSS); // only segment 5 is new
    assert_eq!(sack(&mut sb, &[(3, 6)]).sacked, 0);
    assert_eq!(sacked(&sb), vec![3, 4, 5]);
    // A block edge inside a segment splits it; half a segment SACKed is counted in bytes.
    let mut d = Delivery::default();
    let half = SeqNum(s(8).0 + 500);
    sb.on_sack_blocks(
        &[Some((half, s(9)))],
        s(0),
        s(10),
        Instant::ZERO,
        Duration::ZERO,
        &mut d,
    );
    assert_eq!(d.sacked, 500);
    // Blocks outside (SND.UNA, SND.MAX] are ignored (RFC 2018 §4).
    let mut d = Delivery::default();
    sb.on_sack_blocks(
        &[Some((s(9), s(12)))],
        s(0),
        s(10),
        Instant::ZERO,
        Duration::ZERO,
        &mut d,
    );
    assert_eq!(d.sacked, 0);
}

#[test]
fn dsack_first_block_marks_nothing() {
    // RFC 2883 §4: a first block below the cumulative ACK, or inside the second block, reports
    // a duplicate.
    let mut sb = board();
    let mut d = Delivery::default();
    let below = (SeqNum(UNA - 1000), SeqNum(UNA));
    sb.on_sack_blocks(
        &[Some(below)],
        s(0),
        s(10),
        Instant::ZERO,
        Duration::ZERO,
        &mut d,
    );
    assert!(d.dsack);
    assert_eq!(d.sacked, 0);
    let d = sack(&mut sb, &[(4, 5), (3, 6)]);
    assert!(d.dsack);
    assert_eq!(sacked(&sb), vec![3, 4, 5]); // the second block still counts
    let d = sack(&mut sb, &[(7, 8), (3, 6)]);
    assert!(!d.dsack);
}

#[test]
fn islost_needs_dupthresh_segments_above() {
    // RFC 6675 §4 IsLost: three SACKed segments (or > 2·SMSS bytes) above a hole.
    let mut sb = board();
    sack(&mut sb, &[(1, 3)]);
    assert_eq!(sb.mark_lost_dupthresh(MSS), 0);
    sack(&mut sb, &[(4, 5)]);
    assert_eq!(sb.mark_lost_dupthresh(MSS), 1); // segment 0 has 1, 2, 4 above
    assert_eq!(sb.next_lost(), Some((s(0), MSS))); // NextSeg rule 1
    assert_eq!(sb.pipe(), 6 * MSS); // 3 and 5..9 (0 lost, 1, 2, 4 SACKed)
    // Resending it takes it out of "lost" and puts it back in the pipe.
    sb.on_transmit(s(0), s(1), Instant::from_millis(60));
    assert_eq!(sb.next_lost(), None);
    assert_eq!(sb.pipe(), 7 * MSS);
    sack(&mut sb, &[(5, 6)]);
    assert_eq!(sb.mark_lost_dupthresh(MSS), 0); // segment 3: only 4, 5 above (2·SMSS)
    sack(&mut sb, &[(6, 7)]);
    assert_eq!(sb.mark_lost_dupthresh(MSS), 1); // now three above segment 3
    assert_eq!(sb.next_lost(), Some((s(3), MSS)));
}

#[test]
fn rack_marks_by_send_time_with_a_reorder_window() {
    // RFC 8985 §6.2 step 5: segment sent at 0 ms, newest delivered sent at 5 ms, RACK.rtt
    // 40 ms, reo_wnd 10 ms: lost at 0 + 40 + 10 = 50 ms, not before.
    let mut sb = board();
    sack(&mut sb, &[(5, 6)]);
    let rack = sb
        .segments()
        .find(|g| g.start == s(5))
        .map(|g| g.sent())
        .expect("segment 5");
    assert_eq!(rack.xmit_ts, Instant::from_millis(5));
    let rtt = Duration::from_millis(40);
    let wnd = Duration::from_millis(10);
    let (n, wait) = sb.mark_lost_rack(Instant::from_millis(45), rack, rtt, wnd);
    assert_eq!(n, 0);
    // §6.2 step 5 returns the longest wait: segment 4 (sent at 4 ms) is due at 54 ms.
    assert_eq!(wait, Some(Duration::from_millis(9)));
    let (n, _) = sb.mark_lost_rack(Instant::from_millis(50), rack, rtt, wnd);
    assert_eq!(n, 1);
    let (n, wait) = sb.mark_lost_rack(Instant::from_millis(54), rack, rtt, wnd);
    assert_eq!(n, 4); // 1..4; segments sent after 5 ms wait for newer deliveries
    assert_eq!(wait, None);
}

#[test]
fn reneging_clears_sack_marks() {
    // RFC 2018 §8: SACKed data may be discarded by the receiver; the sender must keep it and
    // retransmit. The cumulative ACK reaching a SACKed segment without covering it shows that.
    let mut sb = board();
    sack(&mut sb, &[(2, 4)]);
    let mut d = Delivery::default();
    sb.on_cum_ack(s(2), Instant::from_millis(50), Duration::ZERO, &mut d);
    assert!(sb.reneged());
    sb.clear_sacks();
    assert!(!sb.reneged());
    assert_eq!(sb.pipe(), 8 * MSS);
    assert_eq!(sb.sacked_bytes(), 0);
}

#[test]
fn cumulative_ack_delivers_and_detects_reordering() {
    // RFC 8985 §6.2 step 3: an original (never retransmitted) segment delivered below the
    // highest SACKed one was reordered, not lost.
    let mut sb = board();
    let d = sack(&mut sb, &[(1, 3)]);
    let n = d.newest.expect("newest");
    assert_eq!((n.xmit_ts, n.end), (Instant::from_millis(2), s(3)));
    let mut d = Delivery::default();
    sb.on_cum_ack(s(3), Instant::from_millis(51), Duration::ZERO, &mut d);
    assert!(d.reordered);
    assert_eq!(sb.len(), 7);
}

#[test]
fn rack_orders_by_transmission_not_by_sequence_in_one_tick() {
    // RFC 8985 §6.2 RACK_sent_after: in one tick (20 ms) new data 10 and 11 go out, then the
    // resend of segment 0, then 12. RACK.xmit_ts from segment 11 (sent before the resend)
    // must not mark the resend lost although 11 ends at a higher sequence number; from 12
    // (sent after it), with RACK.rtt 30 ms passed, it does.
    let mut sb = board();
    let t = Instant::from_millis(20);
    sb.on_transmit(s(10), s(11), t);
    sb.on_transmit(s(11), s(12), t);
    sb.on_transmit(s(0), s(1), t); // the resend, last in this tick
    sb.on_transmit(s(12), s(13), t);
    let newest = |sb: &Scoreboard, k: u32| {
        sb.segments()
            .find(|g| g.start == s(k))
            .map(|g| g.sent())
            .expect("segment")
    };
    let rtt = Duration::from_millis(30);
    let now = Instant::from_millis(50);
    let before = newest(&sb, 11);
    sb.mark_lost_rack(now, before, rtt, Duration::ZERO);
    assert!(sb.segments().all(|g| !(g.start == s(0) && g.lost)));
    let after = newest(&sb, 12);
    sb.mark_lost_rack(now, after, rtt, Duration::ZERO);
    assert_eq!(sb.next_lost(), Some((s(0), MSS)));
}

#[test]
fn an_ack_echoing_the_original_does_not_time_the_resend() {
    // RFC 8985 §6.2 step 2: segment 0 (sent at 0 ms) is resent at 100 ms; a cumulative ACK at
    // 130 ms comes 30 ms after the resend (more than min_RTT 20 ms, so the time test passes)
    // but echoes TSval 5 ms: it acknowledges the original, and RACK must not take the resend's
    // send time (RACK.rtt would be 30 ms instead of 130). Echoing 100 ms, it may.
    for (echo, timed) in [(5u32, false), (100, true)] {
        let mut sb = board();
        sb.on_transmit(s(0), s(1), Instant::from_millis(100));
        let mut d = Delivery::default();
        let amb = Ambiguity {
            min_rtt: Duration::from_millis(20),
            echo_ms: Some(echo),
        };
        sb.on_cum_ack(s(1), Instant::from_millis(130), amb, &mut d);
        let got = d.newest.map(|n| n.xmit_ts);
        let want = timed.then_some(Instant::from_millis(100));
        assert_eq!(got, want, "echo {echo} ms");
    }
}
