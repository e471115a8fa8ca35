// Conformance probes for RFC 7323 after timestamps were negotiated (PAWS §5.3, segments
// without timestamps §3.2) and for ACKs to unacceptable segments (RFC 9293 §3.10.7.4 first
// step), each with the answer the Linux kernel gives to the same probe.
#[path = "common/tcp_harness.rs"]
mod harness;

use harness::*;

/// ESTABLISHED with timestamps; the peer's TS.Recent is 200 after one data segment "abc".
fn with_ts() -> Scenario {
    let syn = seg().syn().seq(IRS).mss(1460).ts(100, 0);
    let mut t = Scenario::established_with(Scenario::quick_ack_config(), syn);
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 1).ts(200, 0).payload(b"abc"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 4));
    t
}

#[test]
fn paws_drops_old_data_and_acks() {
    // RFC 7323 §5.3 R1: SEG.TSval < TS.Recent: send an ACK and drop.
    let mut t = with_ts();
    t.peer_sends(seg().seq(IRS + 4).ack(ISS + 1).ts(150, 0).payload(b"old"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 4));
    assert_eq!(t.stats().drop_paws, 1);
    assert_eq!(t.app_read().unwrap(), b"abc");
}

#[test]
fn paws_applies_to_pure_acks_that_could_change_state() {
    // RFC 7323 §5.3 R1 has no exemption for ACKs: a pure ACK with an old TSval that could
    // update the window is an old duplicate (Linux answers it with an ACK too).
    let mut t = with_ts();
    t.peer_sends(seg().seq(IRS + 4).ack(ISS + 1).win(100).ts(150, 0));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 4));
    assert_eq!(t.stats().drop_paws, 1);
    assert_eq!(t.conn().snd_wnd, 65535, "window not taken from the old ACK");
}

#[test]
fn reordered_duplicate_ack_passes_paws_quietly() {
    // Linux tcp_disordered_ack: a duplicate ACK at RCV.NXT that changes nothing and lags by
    // less than an RTO is reordering, not an old duplicate: no drop, no answer.
    let mut t = with_ts();
    t.peer_sends(seg().seq(IRS + 4).ack(ISS + 1).ts(205, 0));
    t.peer_sends(seg().seq(IRS + 4).ack(ISS + 1).ts(199, 0));
    t.expect_nothing();
    assert_eq!(t.stats().drop_paws, 0);
}

#[test]
fn rst_with_old_timestamp_is_still_accepted() {
    // RFC 7323 §5.3 R1: only segments without RST are subject to PAWS.
    let mut t = with_ts();
    t.peer_sends(seg().rst().seq(IRS + 4).ts(50, 0));
    t.expect_nothing();
    t.expect_state("CLOSED");
}

#[test]
fn segment_without_timestamps_is_accepted() {
    // RFC 7323 §3.2 says a non-RST segment without TSopt SHOULD be dropped; Linux accepts it
    // (middleboxes strip options) and so do we: data delivered, ACKed.
    let mut t = with_ts();
    t.peer_sends(seg().seq(IRS + 4).ack(ISS + 1).payload(b"def"));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 7));
    assert_eq!(t.app_read().unwrap(), b"abcdef");
}

#[test]
fn acks_for_unacceptable_pure_acks_are_rate_limited() {
    // RFC 9293 §3.10.7.4 first step answers each unacceptable segment; like Linux
    // (tcp_invalid_ratelimit) at most one ACK per 500 ms for segments without data.
    let mut t = Scenario::established();
    t.peer_sends(seg().seq(IRS + 100_000).ack(ISS + 1));
    t.expect_tx(seg().seq(ISS + 1).ack(IRS + 1));
    t.peer_sends(seg().seq(IRS + 100_000).ack(ISS + 1));
    t.expect_nothing();
    assert_eq!(t.stats().oow_acks_limited, 1);
    // Data segments are always answered.
    t.peer_sends(seg().seq(IRS + 100_000).ack(ISS + 1).payload(b"x"));
    t.expect_tx(seg().ack(IRS + 1));
    t.advance_ms(500);
    t.peer_sends(seg().seq(IRS + 100_000).ack(ISS + 1));
    t.expect_tx(seg().ack(IRS + 1));
}

#[test]
fn time_wait_acks_data_straddling_rcv_nxt() {
    // RFC 9293 §3.10.7.4 seventh: TIME-WAIT ignores text; like Linux we ACK it.
    let mut t = Scenario::established();
    t.app_shutdown_write();
    t.expect_tx(seg().fin());
    t.peer_sends(seg().fin().seq(IRS + 1).ack(ISS + 2));
    t.expect_tx(seg().ack(IRS + 2));
    t.peer_sends(seg().seq(IRS + 1).ack(ISS + 2).payload(b"abc"));
    t.expect_tx(seg().seq(ISS + 2).ack(IRS + 2));
    // A bare ACK at RCV.NXT is not answered.
    t.peer_sends(seg().seq(IRS + 2).ack(ISS + 2));
    t.expect_nothing();
    t.expect_state("TIME-WAIT");
}

#[test]
fn ts_recent_is_invalid_after_24_days_idle() {
    // RFC 7323 §5.5: after more than 24 days idle TS.Recent is invalid: no PAWS drop.
    let mut t = with_ts();
    t.advance(tunstack::time::Duration::from_secs(25 * 24 * 3600));
    t.peer_sends(seg().seq(IRS + 4).ack(ISS + 1).ts(150, 0).payload(b"late"));
    t.expect_tx(seg().ack(IRS + 8));
    assert_eq!(t.stats().drop_paws, 0);
    assert_eq!(t.app_read().unwrap(), b"abclate");
}
