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
        match self.srtt {
            None => {
                // (2.2) SRTT <- R, RTTVAR <- R/2
                self.srtt = Some(r);
                self.rttvar = Duration::from_micros(r.total_micros() / 2);
            }
            Some(srtt) => {
                // (2.3) RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|, SRTT <- 7/8 SRTT + 1/8 R'
                let delta = srtt.total_micros().abs_diff(r.total_micros());
                self.rttvar = Duration::from_micros((3 * self.rttvar.total_micros() + delta) / 4);
                self.srtt = Some(Duration::from_micros(
                    (7 * srtt.total_micros() + r.total_micros()) / 8,
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
