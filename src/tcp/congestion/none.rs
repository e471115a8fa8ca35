//! No congestion control: the window is unlimited, so only the peer's receive window (flow
//! control) limits the sender. For labs that want to isolate flow control; never for real use
//! (RFC 5681 §3 makes congestion control a MUST). Read next: `timer.rs`.

use super::CongestionControl;
use crate::tcp::seq::SeqNum;
use crate::time::Instant;

#[derive(Debug, Default)]
pub struct NoCongestionControl;

impl CongestionControl for NoCongestionControl {
    fn name(&self) -> &'static str {
        "none"
    }
    fn window(&self) -> u32 {
        u32::MAX
    }
    fn ssthresh(&self) -> u32 {
        u32::MAX
    }
    fn in_recovery(&self) -> bool {
        false
    }
    fn on_ack(&mut self, _: Instant, _: SeqNum, _: u32, _: u32) -> bool {
        false
    }
    fn on_fast_retransmit(&mut self, _: Instant, _: u32, _: SeqNum) -> bool {
        true
    }
    fn on_dup_ack(&mut self, _: Instant) {}
    fn on_rto(&mut self, _: Instant, _: u32) {}
    fn set_smss(&mut self, _: u32) {}
}
