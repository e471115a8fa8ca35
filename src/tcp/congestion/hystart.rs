//! HyStart++ (RFC 9406): leave slow start before the first loss when the RTT starts to grow.
//!
//! Rounds are delimited by `windowEnd` (SND.NXT when the round began, §4.2). Each round keeps
//! the minimum RTT of its first samples; when a round's minimum exceeds the last round's by
//! `RttThresh` (§4.2: clamp(lastRoundMinRTT / 8, 4 ms, 16 ms)), slow start ends and
//! Conservative Slow Start (CSS) grows cwnd at a quarter of the rate. CSS returns to slow start
//! if the RTT falls back below the baseline, or ends in congestion avoidance after CSS_ROUNDS
//! rounds. The controller asks `growth_divisor()` on every ACK and `take_exit()` once CSS is
//! over. Read next: `congestion/cubic.rs`.

use crate::tcp::seq::SeqNum;
use crate::time::Duration;

/// RFC 9406 §4.3 constants.
pub const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
pub const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
pub const MIN_RTT_DIVISOR: u64 = 8;
pub const N_RTT_SAMPLE: u32 = 8;
pub const CSS_GROWTH_DIVISOR: u32 = 4;
pub const CSS_ROUNDS: u32 = 5;
/// Without pacing, L = 8 (§4.3): at most 8·SMSS of growth per ACK.
pub const L_NON_PACED: u32 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    SlowStart,
    /// Conservative Slow Start (§4.2).
    Css,
    /// Left CSS after CSS_ROUNDS: the caller sets ssthresh = cwnd (congestion avoidance).
    Done,
}

#[derive(Clone, Debug)]
pub struct HyStart {
    pub phase: Phase,
    window_end: Option<SeqNum>,
    last_round_min: Option<Duration>,
    cur_round_min: Option<Duration>,
    samples: u32,
    css_baseline: Option<Duration>,
    css_rounds: u32,
    /// CSS just ended after CSS_ROUNDS (not by a loss): the caller sets ssthresh = cwnd once.
    exit_pending: bool,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart {
            phase: Phase::SlowStart,
            window_end: None,
            last_round_min: None,
            cur_round_min: None,
            samples: 0,
            css_baseline: None,
            css_rounds: 0,
            exit_pending: false,
        }
    }
}

/// §4.2: RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH)).
pub fn rtt_thresh(last_round_min: Duration) -> Duration {
    Duration::from_micros(last_round_min.total_micros() / MIN_RTT_DIVISOR)
        .min(MAX_RTT_THRESH)
        .max(MIN_RTT_THRESH)
}

impl HyStart {
    /// One ACK in slow start or CSS: `ack` is SEG.ACK, `snd_nxt` the highest sequence sent,
    /// `rtt` the sample this ACK gave (if any).
    pub fn on_ack(&mut self, ack: SeqNum, snd_nxt: SeqNum, rtt: Option<Duration>) {
        if self.phase == Phase::Done {
            return;
        }
        // §4.2: a round ends when the ACK passes windowEnd; the next one starts.
        if self.window_end.is_none_or(|end| ack.ge(end)) {
            self.window_end = Some(snd_nxt);
            self.last_round_min = self.cur_round_min;
            self.cur_round_min = None;
            self.samples = 0;
            if self.phase == Phase::Css {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    self.phase = Phase::Done;
                    self.exit_pending = true;
                    return;
                }
            }
        }
        let Some(rtt) = rtt else { return };
        self.cur_round_min = Some(self.cur_round_min.map_or(rtt, |m| m.min(rtt)));
        self.samples += 1;
        if self.samples < N_RTT_SAMPLE {
            return;
        }
        let (Some(cur), Some(last)) = (self.cur_round_min, self.last_round_min) else {
            return;
        };
        match self.phase {
            Phase::SlowStart if cur >= last + rtt_thresh(last) => {
                // §4.2: delay increase detected: enter CSS.
                self.css_baseline = Some(cur);
                self.css_rounds = 0;
                self.phase = Phase::Css;
            }
            Phase::Css if self.css_baseline.is_some_and(|b| cur < b) => {
                // §4.2: the increase was spurious: resume slow start.
                self.css_baseline = None;
                self.phase = Phase::SlowStart;
            }
            _ => {}
        }
    }

    /// §4.2: CSS grows cwnd by (bytes acked) / CSS_GROWTH_DIVISOR.
    pub fn growth_divisor(&self) -> u32 {
        if self.phase == Phase::Css {
            CSS_GROWTH_DIVISOR
        } else {
            1
        }
    }

    /// True once, when CSS has just ended after CSS_ROUNDS (§4.2: "enter congestion avoidance
    /// by setting the ssthresh to the current cwnd").
    pub fn take_exit(&mut self) -> bool {
        std::mem::take(&mut self.exit_pending)
    }

    /// A loss or ECE ends slow start and CSS (§4.2: "enter congestion avoidance"). HyStart++
    /// is for the initial slow start only (§4.2); a later slow start (after an RTO) is standard
    /// slow start up to the ssthresh the loss set.
    pub fn on_congestion(&mut self) {
        self.phase = Phase::Done;
        self.exit_pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feed one round of `n` ACKs with `rtt`, ending at `end`.
    fn round(h: &mut HyStart, start: u32, n: u32, rtt: Duration) -> u32 {
        let mut at = start;
        for _ in 0..n {
            at += 1000;
            h.on_ack(SeqNum(at), SeqNum(start + 2 * n * 1000 + 1000), Some(rtt));
        }
        start + 2 * n * 1000 + 1000
    }

    #[test]
    fn rtt_thresh_is_clamped_per_rfc9406() {
        // §4.2: lastRoundMinRTT/8 between 4 ms and 16 ms.
        assert_eq!(rtt_thresh(ms(10)), ms(4));
        assert_eq!(rtt_thresh(ms(80)), ms(10));
        assert_eq!(rtt_thresh(ms(400)), ms(16));
    }

    #[test]
    fn hystart_exits_on_delay_increase() {
        // RFC 9406 §4.2: 100 ms, then a round whose min RTT is 100 + 12.5 ms (> thresh 12.5).
        let mut h = HyStart::default();
        let mut end = round(&mut h, 0, 10, ms(100));
        end = round(&mut h, end, 10, ms(100));
        assert_eq!(h.phase, Phase::SlowStart);
        end = round(&mut h, end, 10, ms(112)); // below 100 + 12.5 ms: stay
        assert_eq!(h.phase, Phase::SlowStart);
        let _ = round(&mut h, end, 10, ms(126)); // >= 112 + 14 ms
        assert_eq!(h.phase, Phase::Css);
        assert_eq!(h.growth_divisor(), 4);
    }

    #[test]
    fn css_returns_to_slow_start_when_rtt_drops() {
        let mut h = HyStart::default();
        let mut end = round(&mut h, 0, 10, ms(50));
        end = round(&mut h, end, 10, ms(60));
        assert_eq!(h.phase, Phase::Css);
        let _ = round(&mut h, end, 10, ms(55)); // below the 60 ms baseline
        assert_eq!(h.phase, Phase::SlowStart);
    }

    #[test]
    fn css_ends_after_css_rounds() {
        // §4.2: after CSS_ROUNDS rounds in CSS, congestion avoidance.
        let mut h = HyStart::default();
        let mut end = round(&mut h, 0, 10, ms(50));
        end = round(&mut h, end, 10, ms(60));
        assert_eq!(h.phase, Phase::Css);
        for i in 0..CSS_ROUNDS {
            assert_eq!(h.phase, Phase::Css, "round {i}");
            end = round(&mut h, end, 10, ms(60));
        }
        assert_eq!(h.phase, Phase::Done);
    }

    #[test]
    fn fewer_than_eight_samples_never_exit() {
        let mut h = HyStart::default();
        let mut end = round(&mut h, 0, 7, ms(50));
        end = round(&mut h, end, 7, ms(200));
        let _ = round(&mut h, end, 7, ms(400));
        assert_eq!(h.phase, Phase::SlowStart);
    }
}
