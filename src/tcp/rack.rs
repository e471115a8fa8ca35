//! RACK-TLP loss detection (RFC 8985).
//!
//! RACK remembers the send time of the most recently sent segment that was delivered
//! (`RACK.xmit_ts`, §6.2 step 2); any segment sent earlier and still unacknowledged after
//! RACK.rtt + reo_wnd is lost (§6.2 step 5). The reordering window starts at min_RTT/4, is zero
//! during recovery or once DupThresh segments are SACKed while no reordering has been seen, and
//! grows by min_RTT/4 per round trip with D-SACKs, decaying after 16 recoveries (§6.2 step 4).
//! The tail loss probe fires after PTO = 2·SRTT (+ WCDelAckT for a single segment in flight),
//! never later than the RTO (§7.2). The scoreboard (`sack.rs`) does the marking.
//! Read next: `prr.rs`.

use super::sack::{DUP_THRESH, Sent};
use super::seq::SeqNum;
use crate::time::{Duration, Instant};

/// RFC 8985 §7.2: worst-case delayed-ACK time.
pub const WC_DEL_ACK_T: Duration = Duration::from_millis(200);
/// §6.2 step 4: the reordering window multiplier decays after this many recoveries.
pub const REO_WND_PERSIST: u32 = 16;

#[derive(Clone, Debug, Default)]
pub struct Rack {
    /// RACK.xmit_ts and RACK.end_seq of the most recently sent delivered segment.
    pub newest: Option<Sent>,
    /// RACK.rtt: the RTT of that segment.
    pub rtt: Duration,
    pub min_rtt: Option<Duration>,
    /// RACK.reord: reordering has been observed.
    pub reord: bool,
    /// RACK.reo_wnd_mult (starts at 1).
    reo_wnd_mult: u32,
    reo_wnd_persist: u32,
    /// RACK.dsack_round: one increase per round trip.
    dsack_round: Option<SeqNum>,
}

impl Rack {
    /// §6.2 step 2: the most recently sent segment this ACK delivered.
    pub fn update(&mut self, now: Instant, newest: Sent) {
        let rtt = now - newest.xmit_ts;
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        if self.newest.is_none_or(|n| newest.after(&n)) {
            self.newest = Some(newest);
            self.rtt = rtt;
        }
    }

    /// An RTT sample from the connection (timestamps): keeps min_RTT current.
    pub fn note_rtt(&mut self, rtt: Duration) {
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
    }

    /// §6.2 step 4: a D-SACK widens the window, at most once per round trip.
    pub fn on_dsack(&mut self, snd_una: SeqNum, snd_max: SeqNum) {
        if self.dsack_round.is_none_or(|r| snd_una.ge(r)) {
            self.dsack_round = Some(snd_max);
            self.reo_wnd_mult = self.reo_wnd_mult.max(1) + 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// A recovery ended: the widened window decays after 16 of them (§6.2 step 4).
    pub fn on_recovery_end(&mut self) {
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 1;
            }
        }
    }

    /// §6.2 step 4: RACK.reo_wnd.
    pub fn reo_wnd(&self, in_recovery: bool, sacked_segments: u32, srtt: Duration) -> Duration {
        if !self.reord && (in_recovery || sacked_segments >= DUP_THRESH) {
            return Duration::ZERO;
        }
        let Some(min_rtt) = self.min_rtt else {
            return Duration::ZERO;
        };
        let w = Duration::from_micros(min_rtt.total_micros() / 4)
            .saturating_mul(u64::from(self.reo_wnd_mult.max(1)));
        w.min(srtt)
    }
}

/// Added to 2·SRTT when more than one segment is in flight: Linux's TCP_TIMEOUT_MIN_US
/// (tcp_schedule_loss_probe). On a sub-millisecond path (a TUN: SRTT of tens of µs) a bare
/// 2·SRTT fires probes between two turns of the event loop, thousands per second.
pub const PTO_MIN_EXTRA: Duration = Duration::from_millis(2);

/// §7.2: PTO = 2·SRTT, plus WCDelAckT when only one segment is in flight (else plus
/// `PTO_MIN_EXTRA`, as Linux), capped by the RTO. Without an RTT sample, the initial RTO.
pub fn pto(srtt: Option<Duration>, one_segment: bool, rto: Duration) -> Duration {
    let Some(srtt) = srtt else { return rto };
    let mut p = srtt.saturating_mul(2);
    p = p + if one_segment {
        WC_DEL_ACK_T
    } else {
        PTO_MIN_EXTRA
    };
    p.min(rto)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The `order`-th transmission, at `at_ms`, ending at `end`.
    fn sent(at_ms: u64, order: u64, end: u32) -> Sent {
        Sent {
            xmit_ts: Instant::from_millis(at_ms),
            order,
            end: SeqNum(end),
        }
    }

    #[test]
    fn reorder_window_is_a_quarter_of_min_rtt() {
        // RFC 8985 §6.2 step 4: reo_wnd = min(reo_wnd_mult · min_RTT / 4, SRTT).
        let mut r = Rack::default();
        r.update(Instant::from_millis(100), sent(0, 1, 1000));
        assert_eq!(r.min_rtt, Some(ms(100)));
        assert_eq!(r.reo_wnd(false, 0, ms(120)), ms(25));
        // In recovery or with DupThresh SACKed segments and no reordering seen: zero.
        assert_eq!(r.reo_wnd(true, 0, ms(120)), Duration::ZERO);
        assert_eq!(r.reo_wnd(false, 3, ms(120)), Duration::ZERO);
        r.reord = true;
        assert_eq!(r.reo_wnd(true, 3, ms(120)), ms(25));
        // D-SACK: once per round trip the multiplier grows; capped by SRTT.
        r.on_dsack(SeqNum(0), SeqNum(5000));
        r.on_dsack(SeqNum(100), SeqNum(6000)); // same round: ignored
        assert_eq!(r.reo_wnd(false, 0, ms(120)), ms(50));
        r.on_dsack(SeqNum(5000), SeqNum(9000));
        assert_eq!(r.reo_wnd(false, 0, ms(60)), ms(60));
        for _ in 0..REO_WND_PERSIST {
            r.on_recovery_end();
        }
        assert_eq!(r.reo_wnd(false, 0, ms(120)), ms(25));
    }

    #[test]
    fn pto_is_two_srtt_plus_wcdelackt_for_one_segment_else_plus_two_ms() {
        // RFC 8985 §7.2.
        assert_eq!(pto(Some(ms(50)), false, ms(1000)), ms(102));
        assert_eq!(pto(Some(ms(50)), true, ms(1000)), ms(300));
        // A TUN path: SRTT 30 µs gives 2.06 ms, not 60 µs.
        let us = Duration::from_micros;
        assert_eq!(pto(Some(us(30)), false, ms(200)), us(2060));
        assert_eq!(pto(Some(ms(400)), false, ms(600)), ms(600));
        assert_eq!(pto(None, false, ms(1000)), ms(1000));
    }

    #[test]
    fn newest_delivered_segment_wins() {
        let mut r = Rack::default();
        r.update(Instant::from_millis(50), sent(10, 2, 2000));
        r.update(Instant::from_millis(60), sent(5, 1, 1000));
        assert_eq!(r.newest, Some(sent(10, 2, 2000)));
        assert_eq!(r.rtt, ms(40));
        assert_eq!(r.min_rtt, Some(ms(40)));
        // §6.2 RACK_sent_after: in one clock tick the later transmission wins, even with a
        // lower sequence number (a retransmission sent after new data).
        r.update(Instant::from_millis(80), sent(20, 4, 1000));
        r.update(Instant::from_millis(80), sent(20, 3, 9000));
        assert_eq!(r.newest, Some(sent(20, 4, 1000)));
    }
}
