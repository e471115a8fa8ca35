//! Reno and NewReno (RFC 5681, RFC 6582), with byte counting in congestion avoidance (RFC 3465).
//!
//! Slow start grows cwnd by the bytes acknowledged (at most L = 2·SMSS per ACK, RFC 3465 §2.2);
//! congestion avoidance adds one SMSS per cwnd of acknowledged bytes (RFC 3465 §2.1). Three
//! duplicate ACKs halve the flight into ssthresh and start fast recovery; NewReno stays in
//! recovery through partial ACKs (RFC 6582 §3.2), plain Reno leaves it on the first new ACK.
//! An RTO drops cwnd to one segment (RFC 5681 §3.1 eq. (4)). Read next: `congestion/none.rs`.

use super::{CongestionControl, initial_window};
use crate::tcp::seq::SeqNum;
use crate::time::Instant;

#[derive(Debug)]
pub struct NewReno {
    smss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// RFC 3465 §2.1: bytes acknowledged since cwnd last grew in congestion avoidance.
    bytes_acked: u32,
    /// RFC 6582 §3.2: `recover`, set while in fast recovery.
    recover: Option<SeqNum>,
    /// Last `recover` point, to avoid a second fast retransmit for the same loss (RFC 6582 §3.2
    /// step 1 / §4.1).
    last_recover: Option<SeqNum>,
    /// NewReno (true) or Reno (false).
    partial_acks: bool,
    /// (cwnd, ssthresh) before the last reduction, for undo (RFC 3522 §2, RFC 5682 §3.1).
    prior: Option<(u32, u32)>,
}

impl NewReno {
    pub fn new(smss: u32, partial_acks: bool) -> Self {
        NewReno {
            smss,
            cwnd: initial_window(smss),
            // RFC 5681 §3.1: the initial ssthresh SHOULD be arbitrarily high.
            ssthresh: u32::MAX,
            bytes_acked: 0,
            recover: None,
            last_recover: None,
            partial_acks,
            prior: None,
        }
    }

    fn grow(&mut self, acked: u32) {
        if self.cwnd < self.ssthresh {
            // Slow start, RFC 3465 §2.2: cwnd += min(N, L·SMSS), L = 2.
            self.cwnd = self.cwnd.saturating_add(acked.min(2 * self.smss));
        } else {
            // Congestion avoidance, RFC 3465 §2.1: one SMSS per cwnd bytes acknowledged.
            self.bytes_acked = self.bytes_acked.saturating_add(acked);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.smss);
            }
        }
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        if self.partial_acks { "newreno" } else { "reno" }
    }
    fn window(&self) -> u32 {
        self.cwnd
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    fn in_recovery(&self) -> bool {
        self.recover.is_some()
    }

    fn on_ack(&mut self, _now: Instant, ack: SeqNum, newly_acked: u32, flight_size: u32) -> bool {
        let Some(recover) = self.recover else {
            self.grow(newly_acked);
            return false;
        };
        // `recover` is SND.MAX at entry (one past the highest byte sent): an ACK reaching it
        // acknowledges "all of the data up to and including recover" (RFC 6582 §3.2 step 3).
        if !self.partial_acks || ack.ge(recover) {
            // Full ACK (RFC 6582 §3.2 step 3 case 1; Reno: any new ACK, RFC 5681 §3.2 step 6):
            // deflate to min(ssthresh, max(FlightSize, SMSS) + SMSS).
            let flight_after = flight_size.saturating_sub(newly_acked);
            self.cwnd = self.ssthresh.min(flight_after.max(self.smss) + self.smss);
            self.recover = None;
            self.bytes_acked = 0;
            return false;
        }
        // Partial ACK (RFC 6582 §3.2 step 3 case 2): deflate by the amount acknowledged, add back
        // SMSS if that was at least SMSS, and retransmit the first unacknowledged segment.
        self.cwnd = self.cwnd.saturating_sub(newly_acked);
        if newly_acked >= self.smss {
            self.cwnd += self.smss;
        }
        self.cwnd = self.cwnd.max(self.smss);
        true
    }

    fn on_fast_retransmit(&mut self, _now: Instant, flight_size: u32, recover: SeqNum) -> bool {
        if self.recover.is_some() {
            return false;
        }
        if let Some(last) = self.last_recover
            && self.partial_acks
            && recover.le(last)
        {
            // RFC 6582 §4.1: these dupACKs may belong to the loss we already recovered from.
            return false;
        }
        // RFC 5681 §3.2 eq. (4): ssthresh = max(FlightSize / 2, 2·SMSS); cwnd = ssthresh + 3·SMSS.
        self.prior = Some((self.cwnd, self.ssthresh));
        self.ssthresh = (flight_size / 2).max(2 * self.smss);
        self.cwnd = self.ssthresh + 3 * self.smss;
        self.recover = Some(recover);
        self.last_recover = Some(recover);
        true
    }

    fn on_dup_ack(&mut self, _now: Instant) {
        if self.recover.is_some() {
            // RFC 5681 §3.2 step 4: each further dupACK means a segment left the network.
            self.cwnd = self.cwnd.saturating_add(self.smss);
        }
    }

    fn on_rto(&mut self, _now: Instant, flight_size: u32) {
        // RFC 5681 §3.1 eq. (4) and "LW" of §3.1: cwnd = 1 SMSS. Only the first timeout of a
        // series halves ssthresh (§3.1: "...the value of ssthresh is not changed on subsequent").
        // A timeout inside a fast recovery answers the congestion event that recovery already
        // halved for: ssthresh (and what an undo restores) stay, as in CUBIC (RFC 9438 §4.6)
        // and Linux's tcp_enter_loss ("reduce ssthresh if it has not yet been made inside this
        // window").
        if self.recover.is_none() && self.cwnd > self.smss {
            self.prior = Some((self.cwnd, self.ssthresh));
            self.ssthresh = (flight_size / 2).max(2 * self.smss);
        }
        self.cwnd = self.smss;
        self.bytes_acked = 0;
        self.recover = None;
    }

    fn on_congestion_signal(&mut self, _now: Instant, flight_size: u32) {
        // RFC 3168 §6.1.2: react to ECE as to a loss (halve), without retransmitting.
        self.prior = Some((self.cwnd, self.ssthresh));
        self.ssthresh = (flight_size / 2).max(2 * self.smss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    fn undo(&mut self) {
        // RFC 3522 §2 / RFC 5682 §3.1: restore what the spurious reduction took.
        if let Some((cwnd, ssthresh)) = self.prior.take() {
            self.cwnd = self.cwnd.max(cwnd);
            self.ssthresh = ssthresh;
            self.recover = None;
        }
    }

    fn on_idle_restart(&mut self, _now: Instant) {
        // RFC 5681 §4.1: cwnd = RW = min(IW, cwnd) after an idle period of more than one RTO.
        self.cwnd = self.cwnd.min(initial_window(self.smss));
    }

    fn set_smss(&mut self, smss: u32) {
        self.smss = smss.max(1);
        self.cwnd = initial_window(self.smss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;
    fn t() -> Instant {
        Instant::ZERO
    }

    #[test]
    fn slow_start_grows_by_bytes_acked_capped_at_two_smss() {
        let mut cc = NewReno::new(MSS, true);
        assert_eq!(cc.window(), 10_000);
        cc.on_ack(t(), SeqNum(500), 500, 10_000);
        assert_eq!(cc.window(), 10_500);
        cc.on_ack(t(), SeqNum(5500), 5000, 10_000); // a stretch ACK counts at most 2·SMSS
        assert_eq!(cc.window(), 12_500);
    }

    #[test]
    fn congestion_avoidance_adds_one_smss_per_window() {
        let mut cc = NewReno::new(MSS, true);
        cc.on_rto(t(), 8000); // ssthresh 4000, cwnd 1000
        assert_eq!((cc.window(), cc.ssthresh()), (1000, 4000));
        for _ in 0..3 {
            cc.on_ack(t(), SeqNum(0), 1000, 1000);
        }
        assert_eq!(cc.window(), 4000); // slow start up to ssthresh
        for _ in 0..3 {
            cc.on_ack(t(), SeqNum(0), 1000, 4000);
        }
        assert_eq!(cc.window(), 4000);
        cc.on_ack(t(), SeqNum(0), 1000, 4000);
        assert_eq!(cc.window(), 5000);
    }

    #[test]
    fn three_dupacks_halve_window() {
        let mut cc = NewReno::new(MSS, true);
        assert!(cc.on_fast_retransmit(t(), 10_000, SeqNum(20_000)));
        assert_eq!(cc.ssthresh(), 5000);
        assert_eq!(cc.window(), 8000); // ssthresh + 3·SMSS
        assert!(cc.in_recovery());
        cc.on_dup_ack(t());
        assert_eq!(cc.window(), 9000);
        assert!(!cc.on_ack(t(), SeqNum(20_001), 10_000, 10_000)); // full ACK
        assert_eq!(cc.window(), 2000); // min(ssthresh, max(0, SMSS) + SMSS)
        assert!(!cc.in_recovery());
    }

    #[test]
    fn newreno_partial_ack_retransmits_and_stays_in_recovery() {
        let mut cc = NewReno::new(MSS, true);
        cc.on_fast_retransmit(t(), 10_000, SeqNum(20_000));
        assert!(cc.on_ack(t(), SeqNum(12_000), 2000, 10_000));
        assert!(cc.in_recovery());
        assert_eq!(cc.window(), 8000 - 2000 + 1000);
        let mut reno = NewReno::new(MSS, false);
        reno.on_fast_retransmit(t(), 10_000, SeqNum(20_000));
        assert!(!reno.on_ack(t(), SeqNum(12_000), 2000, 10_000));
        assert!(!reno.in_recovery());
    }

    #[test]
    fn idle_restart_caps_cwnd_at_the_initial_window() {
        let mut cc = NewReno::new(MSS, true);
        for _ in 0..20 {
            cc.on_ack(t(), SeqNum(0), 2 * MSS, 10 * MSS);
        }
        assert!(cc.window() > initial_window(MSS));
        cc.on_idle_restart(t());
        assert_eq!(cc.window(), initial_window(MSS));
    }

    #[test]
    fn rto_resets_to_loss_window() {
        let mut cc = NewReno::new(MSS, true);
        cc.on_rto(t(), 10_000);
        assert_eq!((cc.window(), cc.ssthresh()), (MSS, 5000));
        cc.on_rto(t(), 10_000); // a second expiry does not halve again
        assert_eq!((cc.window(), cc.ssthresh()), (MSS, 5000));
    }

    #[test]
    fn rto_during_recovery_does_not_halve_again() {
        // One reduction per congestion event (as RFC 9438 §4.6 for CUBIC, Linux
        // tcp_enter_loss for reno): the timeout repairs the losses recovery already halved for,
        // and an undo of the episode restores the window from before it.
        let mut cc = NewReno::new(MSS, true);
        cc.cwnd = 20_000;
        assert!(cc.on_fast_retransmit(t(), 20_000, SeqNum(40_000)));
        assert_eq!(cc.ssthresh(), 10_000);
        cc.on_rto(t(), 16_000); // FlightSize has changed since: it must not matter
        assert_eq!((cc.window(), cc.ssthresh()), (MSS, 10_000));
        cc.undo();
        assert_eq!((cc.window(), cc.ssthresh()), (20_000, u32::MAX));
    }
}
