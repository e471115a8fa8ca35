//! Sender pacing (issue 4): spread a window over the round trip instead of sending it in one
//! burst that a shallow bottleneck queue has to absorb.
//!
//! Rate = gain × W / SRTT, with W = max(min(cwnd, SND.WND), FlightSize) and gain 2 while
//! cwnd < ssthresh/2 (slow start), else 1.2 — Linux `tcp_update_pacing_rate()`
//! (net/ipv4/tcp_input.c, sysctls `tcp_pacing_ss_ratio` = 200, `tcp_pacing_ca_ratio` = 120);
//! RFC 9002 §7.7 gives the same rule for QUIC (N × cwnd / smoothed_rtt, N slightly above 1).
//! Linux paces cwnd alone; we take min(cwnd, SND.WND) so a flow limited by the peer's window
//! (or `--cc none`) is paced by what it may actually send. No SRTT yet: no pacing.
//!
//! Segments are released in quanta of max(2 segments, 1 ms at the rate), at most 64 KiB —
//! Linux `tcp_tso_autosize()` (`sk_pacing_shift` 10 ≈ 1 ms, `tcp_min_tso_segs` 2, 64 KiB GSO)
//! — so a flow at several Gbit/s wakes once per quantum, not once per segment. The pacing
//! clock is the earliest departure of the next quantum (Linux's EDT `tcp_wstamp_ns`); every
//! byte sent moves it by bytes/rate. It may lag `now` by at most half a quantum: a late timer
//! is made up for, idle time is not banked (Linux `tcp_update_skb_after_send()`).
//! Read next: `connection/output.rs` (where the gate sits).

use crate::time::{Duration, Instant};

/// Gains in percent (Linux `tcp_pacing_ss_ratio`, `tcp_pacing_ca_ratio`).
pub const SS_GAIN_PCT: u64 = 200;
pub const CA_GAIN_PCT: u64 = 120;
/// Upper bound on one quantum (Linux: the 64 KiB GSO limit).
pub const MAX_QUANTUM: u32 = 64 * 1024;
/// Linux's unpaced start: the first 10 data segments go at once (`tcp_update_skb_after_send`:
/// `data_segs_out >= 10`), like RFC 6928's initial window.
pub const UNPACED_SEGMENTS: u64 = 10;

/// The pacing rate in bytes per second, or 0 (do not pace) without an RTT sample.
pub fn rate(window: u64, srtt: Option<Duration>, slow_start: bool) -> u64 {
    let Some(srtt) = srtt else { return 0 };
    let gain = if slow_start { SS_GAIN_PCT } else { CA_GAIN_PCT };
    let us = srtt.total_micros().max(1);
    // bytes/s = gain/100 × window / (srtt µs / 1e6); u128 so a huge window cannot overflow.
    let r = u128::from(window) * u128::from(gain) * 10_000 / u128::from(us);
    r.min(u128::from(u64::MAX)) as u64
}

/// Bytes released at once: max(2 segments, 1 ms of data), at most 64 KiB.
pub fn quantum(rate: u64, smss: u32) -> u32 {
    let ms = (rate / 1000).min(u64::from(MAX_QUANTUM)) as u32;
    ms.max(2 * smss).min(MAX_QUANTUM.max(smss))
}

/// Nanoseconds that `bytes` take at `rate` bytes/s.
fn ns_for(bytes: u32, rate: u64) -> u64 {
    if rate == 0 {
        return 0;
    }
    (u128::from(bytes) * 1_000_000_000 / u128::from(rate)) as u64
}

/// The pacing clock of one connection.
#[derive(Clone, Debug, Default)]
pub struct Pacer {
    /// Earliest departure of the next quantum, in ns since the driver's epoch.
    clock_ns: u64,
    /// Bytes left in the quantum being released.
    credit: u32,
}

impl Pacer {
    /// May a paced segment leave at `now`? Opens a new quantum when the clock has come.
    pub fn ready(&mut self, now: Instant, rate: u64, smss: u32) -> bool {
        if rate == 0 || self.credit > 0 {
            return true;
        }
        let now_ns = now.total_micros().saturating_mul(1000);
        if now_ns < self.clock_ns {
            return false;
        }
        let q = quantum(rate, smss);
        // At most half a quantum of lateness is made up for (no banking of idle time).
        self.clock_ns = self
            .clock_ns
            .max(now_ns.saturating_sub(ns_for(q, rate) / 2));
        self.credit = q;
        true
    }

    /// `bytes` left (paced or not): they use up credit and move the clock.
    pub fn on_send(&mut self, bytes: u32, rate: u64) {
        if rate == 0 {
            return;
        }
        self.credit = self.credit.saturating_sub(bytes);
        self.clock_ns = self.clock_ns.saturating_add(ns_for(bytes, rate));
    }

    /// When the next quantum may go (rounded up to our µs clock).
    pub fn release_at(&self) -> Instant {
        Instant::from_micros(self.clock_ns.div_ceil(1000))
    }

    /// Forget the clock (after an RTO: the retransmission and what follows are not held back).
    pub fn reset(&mut self) {
        *self = Pacer::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1448;

    #[test]
    fn rate_is_gain_times_window_over_srtt() {
        // cwnd 20 segments, SRTT 100 ms: 289,600 B/s; ×1.2 in CA, ×2 in slow start.
        let w = 20 * u64::from(MSS);
        let srtt = Some(Duration::from_millis(100));
        assert_eq!(rate(w, srtt, false), 347_520);
        assert_eq!(rate(w, srtt, true), 579_200);
        assert_eq!(rate(w, None, false), 0);
    }

    #[test]
    fn quantum_is_two_segments_or_one_ms_capped_at_64k() {
        assert_eq!(quantum(347_520, MSS), 2 * MSS); // 347 B per ms < 2 segments
        assert_eq!(quantum(12_500_000, MSS), 12_500); // 100 Mbit/s: 1 ms = 12.5 kB
        assert_eq!(quantum(1_250_000_000, MSS), 65_536); // 10 Gbit/s: capped
    }

    #[test]
    fn quanta_leave_at_quantum_over_rate() {
        // cwnd 20, SRTT 100 ms, CA (gain 1.2): 2896 B every 2896/347520 s = 8333.3 µs.
        let r = rate(20 * u64::from(MSS), Some(Duration::from_millis(100)), false);
        let mut p = Pacer::default();
        let mut now = Instant::from_secs(1);
        let mut departures = Vec::new();
        for _ in 0..12 {
            if !p.ready(now, r, MSS) {
                now = p.release_at();
                assert!(p.ready(now, r, MSS), "ready at its own release time");
            }
            departures.push(now.total_micros());
            p.on_send(MSS, r);
        }
        let gaps: Vec<u64> = departures.windows(2).map(|w| w[1] - w[0]).collect();
        // Two segments per quantum: 0 µs inside a quantum, 8333-8334 µs between quanta; the
        // second quantum after idle comes half an interval early (lateness credit).
        for (i, g) in gaps.iter().enumerate() {
            match i {
                1 => assert_eq!(*g, 4167, "{gaps:?}"),
                _ if i % 2 == 0 => assert_eq!(*g, 0, "{gaps:?}"),
                _ => assert!((8333..=8334).contains(g), "{gaps:?}"),
            }
        }
        // No drift: quanta 2 to 6 take 4 × 8333.3 µs.
        assert_eq!(departures[10] - departures[2], 33_333);
    }

    #[test]
    fn idle_time_is_not_banked_and_lateness_at_most_half_a_quantum() {
        let r = 347_520;
        let mut p = Pacer::default();
        assert!(p.ready(Instant::ZERO, r, MSS));
        p.on_send(2 * MSS, r);
        assert!(!p.ready(Instant::from_micros(8000), r, MSS));
        assert_eq!(p.release_at(), Instant::from_micros(8334));
        // Idle for a second: one quantum goes, then the next waits about a full interval
        // minus half an interval of lateness credit.
        let t = Instant::from_secs(1);
        assert!(p.ready(t, r, MSS));
        p.on_send(2 * MSS, r);
        assert!(!p.ready(t, r, MSS));
        let wait = p.release_at() - t;
        assert!(wait >= Duration::from_micros(4166) && wait <= Duration::from_micros(4167));
    }

    #[test]
    fn rate_zero_never_holds_back() {
        let mut p = Pacer::default();
        for _ in 0..100 {
            assert!(p.ready(Instant::ZERO, 0, MSS));
            p.on_send(MSS, 0);
        }
    }
}
