//! CUBIC (RFC 9438), cwnd in bytes, with HyStart++ (RFC 9406) in slow start.
//!
//! After a congestion event the window follows W_cubic(t) = C·(t − K)³ + W_max (§4.2, in
//! segments, t in seconds since the epoch began), concave up to the old maximum W_max, then
//! convex beyond it; K = ∛((W_max − cwnd_epoch)/C). Where standard TCP would be faster, the
//! Reno-friendly estimate W_est wins (§4.3). A loss multiplies cwnd by β = 0.7 (§4.6), with
//! fast convergence lowering W_max when the window was still below the last one (§4.7). Fast
//! recovery itself (partial ACKs, deflation) is NewReno's (RFC 6582), as in RFC 9438 §4.6.
//! Read next: `congestion/hystart.rs`.

use super::hystart::{HyStart, L_NON_PACED};
use super::{CongestionControl, initial_window};
use crate::tcp::seq::SeqNum;
use crate::time::{Duration, Instant};

/// RFC 9438 §5: C = 0.4 (segments / s³), β_cubic = 0.7.
pub const C: f64 = 0.4;
pub const BETA: f64 = 0.7;
/// §4.3: α_cubic = 3·(1 − β)/(1 + β).
pub const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// §4.2 eq. (2): K = ∛((W_max − cwnd_epoch)/C), seconds (segments in, never negative).
pub fn k(w_max: f64, cwnd_epoch: f64) -> f64 {
    ((w_max - cwnd_epoch).max(0.0) / C).cbrt()
}

/// §4.2 eq. (1): W_cubic(t) = C·(t − K)³ + W_max, segments.
pub fn w_cubic(t: f64, k: f64, w_max: f64) -> f64 {
    C * (t - k).powi(3) + w_max
}

/// One congestion-avoidance epoch (§4.2: it starts with the first ACK in congestion avoidance).
#[derive(Clone, Copy, Debug)]
struct Epoch {
    start: Instant,
    k: f64,
    /// Segments.
    w_max: f64,
    w_est: f64,
}

/// What a reduction changed, so a spurious one can be undone (RFC 3522 §2, RFC 5682 §3.1).
#[derive(Clone, Copy, Debug)]
struct Prior {
    cwnd: f64,
    ssthresh: u32,
    w_max: f64,
}

#[derive(Debug)]
pub struct Cubic {
    smss: u32,
    /// Bytes, fractional (per-ACK increments are smaller than a byte at large windows).
    cwnd: f64,
    ssthresh: u32,
    /// W_max in segments (§4.7: the window before the last reduction).
    w_max: f64,
    /// cwnd_prior (§4.6), segments: α_cubic becomes 1 once W_est reaches it (§4.3).
    cwnd_prior: f64,
    epoch: Option<Epoch>,
    /// The first epoch after a timeout uses K = 0 and W_max = cwnd (§4.8).
    after_rto: bool,
    srtt: Option<Duration>,
    hystart: Option<HyStart>,
    recover: Option<SeqNum>,
    last_recover: Option<SeqNum>,
    prior: Option<Prior>,
    /// Highest sequence number sent (HyStart++ rounds), from `on_ack_sample`.
    snd_nxt: SeqNum,
    sample: Option<Duration>,
}

impl Cubic {
    pub fn new(smss: u32, hystart: bool) -> Self {
        Cubic {
            smss: smss.max(1),
            cwnd: f64::from(initial_window(smss.max(1))),
            ssthresh: u32::MAX,
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch: None,
            after_rto: false,
            srtt: None,
            hystart: hystart.then(HyStart::default),
            recover: None,
            last_recover: None,
            prior: None,
            snd_nxt: SeqNum(0),
            sample: None,
        }
    }

    fn seg(&self) -> f64 {
        f64::from(self.smss)
    }

    /// The K of the current epoch (seconds), for tests and `--stats`.
    pub fn epoch_k(&self) -> Option<f64> {
        self.epoch.map(|e| e.k)
    }

    pub fn w_max(&self) -> f64 {
        self.w_max
    }

    /// §4.6 + §4.7: multiplicative decrease with fast convergence.
    fn reduce(&mut self, flight_size: u32) {
        self.prior = Some(Prior {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            w_max: self.w_max,
        });
        let cwnd_seg = self.cwnd / self.seg();
        // §4.7: fast convergence releases bandwidth for newer flows.
        self.w_max = if cwnd_seg < self.w_max {
            cwnd_seg * (1.0 + BETA) / 2.0
        } else {
            cwnd_seg
        };
        self.cwnd_prior = cwnd_seg;
        // §4.6: ssthresh = flight_size · β (at least 2 SMSS).
        let ss = (f64::from(flight_size) * BETA) as u32;
        self.ssthresh = ss.max(2 * self.smss);
        self.epoch = None;
        if let Some(h) = &mut self.hystart {
            h.on_congestion();
        }
    }

    fn slow_start(&mut self, acked: u32) {
        let (limit, div) = match &self.hystart {
            // RFC 9406 §4.2: L·SMSS per ACK, divided in CSS.
            Some(h) => (L_NON_PACED * self.smss, h.growth_divisor()),
            // RFC 3465 §2.2: L = 2.
            None => (2 * self.smss, 1),
        };
        self.cwnd += f64::from(acked.min(limit) / div);
        // §4.2: CSS is over: congestion avoidance from here. Only at that moment: a slow start
        // after an RTO (HyStart++ already Done by the loss) must run up to its ssthresh.
        if self.hystart.as_mut().is_some_and(HyStart::take_exit) {
            self.ssthresh = self.ssthresh.min(self.cwnd as u32);
        }
    }

    fn congestion_avoidance(&mut self, now: Instant, acked: u32) {
        let seg = self.seg();
        let cwnd_seg = self.cwnd / seg;
        let after_rto = std::mem::take(&mut self.after_rto);
        let (w_max, cwnd_prior) = (self.w_max, self.cwnd_prior);
        let e = *self.epoch.get_or_insert_with(|| {
            // §4.8: after a timeout, K = 0 and W_max = the cwnd at the start of the epoch.
            let w = if after_rto {
                cwnd_seg
            } else {
                w_max.max(cwnd_seg)
            };
            Epoch {
                start: now,
                k: k(w, cwnd_seg),
                w_max: w,
                w_est: cwnd_seg,
            }
        });
        let t = (now - e.start).as_secs_f64();
        let rtt = self.srtt.map_or(0.0, Duration::as_secs_f64);
        let acked_seg = f64::from(acked) / seg;
        // §4.3: W_est grows like Reno with α_cubic (1 once it passes cwnd_prior).
        let alpha = if e.w_est >= cwnd_prior { 1.0 } else { ALPHA };
        let w_est = e.w_est + alpha * acked_seg / cwnd_seg;
        if let Some(ep) = &mut self.epoch {
            ep.w_est = w_est;
        }
        if w_cubic(t, e.k, e.w_max) < w_est {
            // §4.3: the Reno-friendly region.
            self.cwnd = self.cwnd.max(w_est * seg);
        } else {
            // §4.4-4.5: target = W_cubic(t + RTT) within [cwnd, 1.5·cwnd];
            // cwnd += (target − cwnd)/cwnd per acknowledged segment.
            let target = w_cubic(t + rtt, e.k, e.w_max).clamp(cwnd_seg, 1.5 * cwnd_seg);
            self.cwnd += (target - cwnd_seg) / cwnd_seg * acked_seg * seg;
        }
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }
    fn window(&self) -> u32 {
        self.cwnd.min(f64::from(u32::MAX)) as u32
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    fn in_recovery(&self) -> bool {
        self.recover.is_some()
    }

    fn on_ack_sample(&mut self, _now: Instant, snd_nxt: SeqNum, rtt: Option<Duration>) {
        self.snd_nxt = snd_nxt;
        self.sample = rtt;
        if let Some(r) = rtt {
            // The RTT of §4.4's W_cubic(t + RTT): smoothed as RFC 6298 does.
            let s = self.srtt.map_or(r, |s| {
                Duration::from_micros((7 * s.total_micros() + r.total_micros()) / 8)
            });
            self.srtt = Some(s);
        }
    }

    fn on_ack(&mut self, now: Instant, ack: SeqNum, newly_acked: u32, flight_size: u32) -> bool {
        if let Some(recover) = self.recover {
            if ack.ge(recover) {
                // RFC 6582 §3.2 step 3 case 1: deflate to min(ssthresh, max(FlightSize, SMSS) + SMSS).
                let after = flight_size.saturating_sub(newly_acked);
                let w = self.ssthresh.min(after.max(self.smss) + self.smss);
                self.cwnd = f64::from(w);
                self.recover = None;
                return false;
            }
            // Case 2: partial ACK: deflate by what was acknowledged, add back one SMSS.
            let mut w = (self.cwnd as u32).saturating_sub(newly_acked);
            if newly_acked >= self.smss {
                w += self.smss;
            }
            self.cwnd = f64::from(w.max(self.smss));
            return true;
        }
        if (self.cwnd as u32) < self.ssthresh {
            if let Some(h) = &mut self.hystart {
                h.on_ack(ack, self.snd_nxt, self.sample.take());
            }
            self.slow_start(newly_acked);
        } else {
            self.congestion_avoidance(now, newly_acked);
        }
        false
    }

    fn on_fast_retransmit(&mut self, _now: Instant, flight_size: u32, recover: SeqNum) -> bool {
        if self.recover.is_some() || self.last_recover.is_some_and(|l| recover.le(l)) {
            return false; // RFC 6582 §4.1
        }
        self.reduce(flight_size);
        // RFC 5681 §3.2 step 3 with CUBIC's ssthresh: cwnd = ssthresh + 3·SMSS.
        self.cwnd = f64::from(self.ssthresh + 3 * self.smss);
        self.recover = Some(recover);
        self.last_recover = Some(recover);
        true
    }

    fn on_dup_ack(&mut self, _now: Instant) {
        if self.recover.is_some() {
            self.cwnd += self.seg(); // RFC 5681 §3.2 step 4
        }
    }

    fn on_rto(&mut self, _now: Instant, flight_size: u32) {
        // §4.8: ssthresh as in §4.6, cwnd = 1 SMSS; only the first timeout of a series reduces
        // (RFC 5681 §3.1). A timeout inside a fast recovery answers the same congestion event
        // that recovery already reduced for (§4.6: one reduction per event): ssthresh and W_max
        // stay (as Linux's tcp_enter_loss, which reduces only outside Recovery).
        if self.recover.is_none() && self.window() > self.smss {
            self.reduce(flight_size);
        }
        self.cwnd = self.seg();
        self.recover = None;
        self.after_rto = true;
    }

    fn on_congestion_signal(&mut self, _now: Instant, flight_size: u32) {
        // RFC 3168 §6.1.2 / RFC 9438 §4.6: ECE reduces once, without a retransmission.
        self.reduce(flight_size);
        self.cwnd = f64::from(self.ssthresh);
    }

    fn undo(&mut self) {
        // RFC 3522 §2 / RFC 5682 §3.1: the retransmission was spurious: restore the window.
        if let Some(p) = self.prior.take() {
            self.cwnd = self.cwnd.max(p.cwnd);
            self.ssthresh = p.ssthresh;
            self.w_max = p.w_max;
            self.recover = None;
            self.epoch = None;
            self.after_rto = false;
        }
    }

    fn on_idle_restart(&mut self, _now: Instant) {
        // RFC 5681 §4.1; RFC 9438 §5.8: the epoch restarts after idle.
        self.cwnd = self.cwnd.min(f64::from(initial_window(self.smss)));
        self.epoch = None;
    }

    fn set_smss(&mut self, smss: u32) {
        self.smss = smss.max(1);
        self.cwnd = f64::from(initial_window(self.smss));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn k_and_w_follow_rfc9438() {
        // §4.2: W_max = 100 segments, cwnd_epoch = β·W_max = 70: K = ∛(100·0.3/0.4) = ∛75.
        let kk = k(100.0, 70.0);
        assert!((kk - 75f64.cbrt()).abs() < 1e-9);
        assert!((kk - 4.2172).abs() < 1e-3);
        assert!((w_cubic(0.0, kk, 100.0) - 70.0).abs() < 1e-9); // starts at β·W_max
        assert!((w_cubic(kk, kk, 100.0) - 100.0).abs() < 1e-9); // plateau at W_max
        assert!((w_cubic(kk + 1.0, kk, 100.0) - 100.4).abs() < 1e-9); // C·1³ above
        assert!((ALPHA - 0.9 / 1.7).abs() < 1e-12); // §4.3: 3(1−β)/(1+β) ≈ 0.529
    }

    #[test]
    fn loss_multiplies_by_beta_with_fast_convergence() {
        // §4.6: ssthresh = 0.7 · flight; §4.7: a second loss below W_max lowers W_max further.
        let mut cc = Cubic::new(MSS, false);
        cc.cwnd = 100_000.0;
        assert!(cc.on_fast_retransmit(at(0), 100_000, SeqNum(200_000)));
        assert_eq!(cc.ssthresh(), 70_000);
        assert_eq!(cc.window(), 73_000);
        assert!((cc.w_max() - 100.0).abs() < 1e-9);
        cc.on_ack(at(10), SeqNum(200_001), 70_000, 70_000);
        assert!(!cc.in_recovery());
        cc.cwnd = 80_000.0;
        cc.on_fast_retransmit(at(20), 80_000, SeqNum(400_000));
        assert!((cc.w_max() - 80.0 * 1.7 / 2.0).abs() < 1e-9); // 68 segments
        assert_eq!(cc.ssthresh(), 56_000);
    }

    #[test]
    fn cubic_concave_then_convex() {
        // §4.4-4.5: after a loss at W_max = 100 segments the growth per RTT shrinks while
        // approaching W_max (concave) and grows again after K ≈ 4.2 s (convex).
        let mut cc = Cubic::new(MSS, false);
        cc.cwnd = 100_000.0;
        cc.on_fast_retransmit(at(0), 100_000, SeqNum(1));
        cc.on_ack(at(0), SeqNum(2), 0, 0); // full ACK: leave recovery
        cc.cwnd = 70_000.0;
        cc.srtt = Some(Duration::from_millis(100));
        let mut per_rtt = Vec::new();
        let mut now = 0u64;
        for _ in 0..100 {
            let before = cc.window();
            // One RTT worth of ACKs (one per segment).
            for _ in 0..cc.window() / MSS {
                cc.on_ack(at(now), SeqNum(0), MSS, cc.window());
            }
            now += 100;
            per_rtt.push(cc.window() - before);
        }
        let k_ms = cc.epoch_k().unwrap() * 1000.0;
        assert!((k_ms - 4217.0).abs() < 2.0, "K = {k_ms} ms");
        // Near t = K (the 42nd RTT) the window is close to W_max = 100 segments.
        let w_at_k = 70_000 + per_rtt[..42].iter().sum::<u32>();
        assert!((95_000..=105_000).contains(&w_at_k), "W(K) = {w_at_k}");
        // Concave: growth early is larger than just before K; convex: larger again after.
        assert!(per_rtt[2] > per_rtt[38], "{per_rtt:?}");
        assert!(per_rtt[80] > per_rtt[46], "{per_rtt:?}");
    }

    #[test]
    fn reno_friendly_region_at_small_windows() {
        // §4.3: at a small W_max and short RTT, W_est (Reno-like) exceeds W_cubic.
        let mut cc = Cubic::new(MSS, false);
        cc.cwnd = 10_000.0;
        cc.on_fast_retransmit(at(0), 10_000, SeqNum(1));
        cc.on_ack(at(0), SeqNum(2), 0, 0);
        cc.cwnd = 7_000.0;
        cc.srtt = Some(Duration::from_millis(1));
        for i in 0..7 {
            cc.on_ack(at(i), SeqNum(0), MSS, 7000);
        }
        // W_est grew by α ≈ 0.53 segment; W_cubic after 7 ms barely moved.
        let w = cc.window();
        assert!((7_500..7_600).contains(&w), "cwnd {w}");
    }

    #[test]
    fn rto_then_epoch_with_k_zero_and_undo() {
        // §4.8: cwnd = 1 SMSS; the next epoch starts at K = 0.
        let mut cc = Cubic::new(MSS, false);
        cc.cwnd = 50_000.0;
        cc.on_rto(at(0), 50_000);
        assert_eq!((cc.window(), cc.ssthresh()), (MSS, 35_000));
        cc.cwnd = 35_000.0;
        cc.on_ack(at(100), SeqNum(0), MSS, 35_000);
        assert_eq!(cc.epoch_k(), Some(0.0));
        cc.undo(); // RFC 3522: spurious timeout
        assert_eq!((cc.window(), cc.ssthresh()), (50_000, u32::MAX));
    }

    #[test]
    fn rto_during_recovery_does_not_reduce_again() {
        // §4.6: one reduction per congestion event; the timeout repairs the same losses.
        let mut cc = Cubic::new(MSS, true);
        cc.cwnd = 100_000.0;
        assert!(cc.on_fast_retransmit(at(0), 100_000, SeqNum(200_000)));
        cc.on_rto(at(300), 100_000);
        assert_eq!((cc.window(), cc.ssthresh()), (MSS, 70_000));
        assert!((cc.w_max() - 100.0).abs() < 1e-9, "W_max {}", cc.w_max());
    }

    #[test]
    fn slow_start_after_rto_runs_up_to_ssthresh() {
        // RFC 9406 §4.2: HyStart++ ends with the first loss; RFC 5681 §3.1: after the timeout
        // slow start (cwnd < ssthresh) grows cwnd by the bytes acknowledged up to ssthresh.
        let mut cc = Cubic::new(MSS, true);
        cc.cwnd = 50_000.0;
        cc.on_rto(at(0), 50_000);
        assert_eq!((cc.window(), cc.ssthresh()), (MSS, 35_000));
        let mut sent = 0u32;
        for i in 0..40 {
            sent += MSS;
            cc.on_ack_sample(
                at(i),
                SeqNum(sent + 10 * MSS),
                Some(Duration::from_millis(100)),
            );
            cc.on_ack(at(i), SeqNum(sent), MSS, cc.window());
        }
        assert_eq!(
            cc.ssthresh(),
            35_000,
            "slow start must not end before ssthresh"
        );
        assert!(cc.window() >= 35_000, "cwnd {}", cc.window());
    }
}
