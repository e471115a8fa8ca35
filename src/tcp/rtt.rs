//! Round-trip time estimation and the retransmission timeout (RFC 6298).
//!
//! `RttEstimator` keeps SRTT and RTTVAR, computes RTO = SRTT + max(G, 4·RTTVAR) clamped to the
//! configured bounds, and doubles RTO on each expiry (backoff, §5.5). Karn's rule (§3) is the
//! caller's job: it only samples segments that were never retransmitted, or uses timestamps
//! (RFC 7323 §4). Read next: `send_buffer.rs`.

use crate::time::Duration;

/// RFC 6298 §2.3: alpha = 1/8, beta = 1/4; K = 4.
const K: u64 = 4;
/// Clock granularity G (our clock is 1 µs; timestamps tick in 1 ms).
const GRANULARITY: Duration = Duration::from_millis(1);

#[derive(Clone, Debug)]
pub struct RttEstimator {
    /// `SRTT`, None until the first measurement (RFC 6298 §2.1).
    pub srtt: Option<Duration>,
    /// `RTTVAR`
    pub rttvar: Duration,
    /// RTO before backoff.
    base_rto: Duration,
    /// Number of back-offs since the last new measurement or ACK.
    backoffs: u32,
    min_rto: Duration,
    max_rto: Duration,
}

impl RttEstimator {
    /// RFC 6298 §2.1: before any measurement RTO = initial (1 s).
    pub fn new(initial: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            base_rto: initial.max(min_rto).min(max_rto),
            backoffs: 0,
            min_rto,
            max_rto,
        }
    }

    /// The current RTO, including back-off.
    pub fn rto(&self) -> Duration {
        self.base_rto
            .saturating_mul(1u64 << self.backoffs.min(20))
            .min(self.max_rto)
    }

    /// A new measurement R (RFC 6298 §2.2, §2.3); resets the back-off.
    pub fn sample(&mut self, r: Duration) {
        self.sample_one_of(r, 1);
    }

    /// A measurement that is one of `expected` samples per round trip (timestamps give one per
    /// ACK): RFC 7323 Appendix G scales α and β by 1/ExpectedSamples, so RTTVAR keeps the
    /// variation of a whole round trip instead of decaying to ~0 within one window (which made
    /// RTO ≈ SRTT and fired spurious timeouts while a queue was filling).
    pub fn sample_one_of(&mut self, r: Duration, expected: u64) {
        let e = expected.max(1);
        match self.srtt {
            None => {
                // (2.2) SRTT <- R, RTTVAR <- R/2
                self.srtt = Some(r);
                self.rttvar = Duration::from_micros(r.total_micros() / 2);
            }
            Some(srtt) => {
                // (2.3) RTTVAR <- (1-β) RTTVAR + β |SRTT - R'|, SRTT <- (1-α) SRTT + α R',
                // α = 1/8, β = 1/4, each divided by `e` (RFC 7323 App. G).
                let delta = srtt.total_micros().abs_diff(r.total_micros());
                let var = self.rttvar.total_micros();
                let var = (var * (4 * e - 1) + delta) / (4 * e);
                self.rttvar = Duration::from_micros(var);
                let s = srtt.total_micros();
                self.srtt = Some(Duration::from_micros(
                    (s * (8 * e - 1) + r.total_micros()) / (8 * e),
                ));
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        let var = Duration::from_micros(K * self.rttvar.total_micros()).max(GRANULARITY);
        // (2.4) RTO rounded up to the minimum (RFC: 1 s; configurable), (2.5) capped at max.
        self.base_rto = (srtt + var).max(self.min_rto).min(self.max_rto);
        self.backoffs = 0;
    }

    /// RFC 6298 §5.5: the timer expired; RTO <- RTO * 2 (capped at max).
    pub fn back_off(&mut self) {
        if self.rto() < self.max_rto {
            self.backoffs += 1;
        }
    }

    /// A new ACK arrived after back-off without a sample; keep the backed-off value (RFC 6298
    /// §5.7 lets it collapse only with a new measurement).
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        let mut r = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        assert_eq!(r.rto(), ms(1000));
        r.sample(ms(100));
        assert_eq!(r.srtt, Some(ms(100)));
        assert_eq!(r.rttvar, ms(50));
        assert_eq!(r.rto(), ms(300)); // 100 + 4*50
        r.sample(ms(100));
        // RTTVAR = 3/4*50 + 0 = 37.5 ms; RTO = 100 + 150 = 250 ms
        assert_eq!(r.rto(), ms(250));
    }

    #[test]
    fn appendix_g_scales_the_gains_by_the_samples_per_round_trip() {
        // RFC 7323 App. G: with 10 samples per RTT, α' = 1/80 and β' = 1/40.
        let mut one = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        let mut many = one.clone();
        one.sample(ms(100));
        many.sample_one_of(ms(100), 10);
        one.sample(ms(180));
        many.sample_one_of(ms(180), 10);
        // α = 1/8: SRTT 110 ms, RTTVAR 3/4·50 + 1/4·80 = 57.5 ms
        assert_eq!(one.srtt, Some(ms(110)));
        assert_eq!(one.rttvar, Duration::from_micros(57_500));
        // α = 1/80: SRTT 101 ms; β = 1/40: RTTVAR 39/40·50 + 1/40·80 = 50.75 ms
        assert_eq!(many.srtt, Some(ms(101)));
        assert_eq!(many.rttvar, Duration::from_micros(50_750));
        // A window of equal samples no longer collapses RTTVAR: 40 samples of 100 ms.
        for _ in 0..40 {
            one.sample(ms(100));
            many.sample_one_of(ms(100), 10);
        }
        assert!(one.rttvar < ms(1), "per-ACK β decays: {:?}", one.rttvar);
        assert!(
            many.rttvar > ms(15),
            "App. G keeps a round trip's variation: {:?}",
            many.rttvar
        );
    }

    #[test]
    fn rto_is_clamped_and_backs_off_to_the_max() {
        let mut r = RttEstimator::new(ms(1000), ms(200), ms(3000));
        r.sample(ms(1));
        assert_eq!(r.rto(), ms(200));
        r.back_off();
        assert_eq!(r.rto(), ms(400));
        for _ in 0..10 {
            r.back_off();
        }
        assert_eq!(r.rto(), ms(3000));
        r.sample(ms(1));
        assert_eq!(r.rto(), ms(200));
    }
}
