//! Congestion control behind one small trait (RFC 5681, RFC 6582, RFC 3465, RFC 6928).
//!
//! A controller owns `cwnd` and `ssthresh` (both in bytes) and is handed facts by the
//! connection: bytes newly acknowledged, the flight size, a duplicate ACK, a timeout. It never
//! sees the connection itself, so each algorithm is unit-tested as a sequence of events. The
//! connection may send `min(cwnd, snd_wnd) - flight_size` (RFC 5681 §3.1). Adding an algorithm
//! is one file plus one arm in `new`. CUBIC (RFC 9438) with HyStart++ (RFC 9406) is the
//! default. Read next: `congestion/newreno.rs`, then `congestion/cubic.rs`.

pub mod cubic;
pub mod hystart;
pub mod newreno;
pub mod none;

use super::seq::SeqNum;
use crate::time::{Duration, Instant};

/// The controller names `new` accepts (the CLI's `--cc` values).
pub const NAMES: [&str; 4] = ["cubic", "newreno", "reno", "none"];

/// `Send` because the runtime moves the whole stack into its driver thread.
pub trait CongestionControl: core::fmt::Debug + Send {
    fn name(&self) -> &'static str;
    /// `cwnd`, bytes.
    fn window(&self) -> u32;
    fn ssthresh(&self) -> u32;
    /// In fast recovery (between a fast retransmit and the ACK of `recover`).
    fn in_recovery(&self) -> bool;
    /// `ack` acknowledged `newly_acked` new bytes; `flight_size` is what was outstanding before.
    /// Returns true when the ACK is a NewReno partial ACK and the first unacknowledged segment
    /// must be retransmitted now (RFC 6582 §3.2 step 3).
    fn on_ack(&mut self, now: Instant, ack: SeqNum, newly_acked: u32, flight_size: u32) -> bool;
    /// The third duplicate ACK: fast retransmit and enter recovery until `recover` (the highest
    /// sequence number sent) is acknowledged (RFC 5681 §3.2 steps 2-3, RFC 6582 §3.2 step 2).
    /// Returns false when the controller declines (RFC 6582 §4.1: dupACKs after a timeout).
    fn on_fast_retransmit(&mut self, now: Instant, flight_size: u32, recover: SeqNum) -> bool;
    /// A further duplicate ACK during recovery (RFC 5681 §3.2 step 4: inflate by SMSS).
    fn on_dup_ack(&mut self, now: Instant);
    /// The retransmission timer expired (RFC 5681 §3.1 eq. (4), cwnd = loss window).
    fn on_rto(&mut self, now: Instant, flight_size: u32);
    /// The sender MSS became known (after option negotiation).
    fn set_smss(&mut self, smss: u32);
    /// Sending resumes after an idle period longer than RTO (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, _now: Instant) {}
    /// Every ACK of new data, before `on_ack`: the highest sequence number sent and the RTT
    /// sample this ACK gave (HyStart++ rounds, RFC 9406 §4.2; CUBIC's RTT, RFC 9438 §4.4).
    fn on_ack_sample(&mut self, _now: Instant, _snd_nxt: SeqNum, _rtt: Option<Duration>) {}
    /// A congestion signal without loss (ECN-Echo, RFC 3168 §6.1.2): reduce once, no retransmit.
    fn on_congestion_signal(&mut self, _now: Instant, _flight_size: u32) {}
    /// The last reduction was caused by a spurious retransmission (RFC 3522 §2, RFC 5682 §3.1):
    /// restore cwnd and ssthresh as they were before it.
    fn undo(&mut self) {}
}

/// RFC 6928 §2: IW = min(10·MSS, max(2·MSS, 14600)).
pub fn initial_window(smss: u32) -> u32 {
    (10 * smss).min((2 * smss).max(14600))
}

/// Build a controller by name: "cubic" (default, with HyStart++ unless `hystart` is false),
/// "newreno", "reno", "none". Unknown names fall back to CUBIC (and the caller logs it).
pub fn new(name: &str, smss: u32) -> Box<dyn CongestionControl> {
    with_options(name, smss, true)
}

/// As `new`, choosing whether CUBIC uses HyStart++ (RFC 9406).
pub fn with_options(name: &str, smss: u32, hystart: bool) -> Box<dyn CongestionControl> {
    match name {
        "none" => Box::new(none::NoCongestionControl),
        "reno" => Box::new(newreno::NewReno::new(smss, false)),
        "newreno" => Box::new(newreno::NewReno::new(smss, true)),
        _ => Box::new(cubic::Cubic::new(smss, hystart)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_follows_rfc6928() {
        assert_eq!(initial_window(1460), 14600);
        assert_eq!(initial_window(536), 5360);
        assert_eq!(initial_window(9000), 18000);
        assert_eq!(new("reno", 1460).name(), "reno");
        assert_eq!(new("none", 1460).window(), u32::MAX);
        assert_eq!(new("x", 1460).name(), "cubic");
        assert_eq!(new("newreno", 1460).name(), "newreno");
    }
}
