//! The connection's side of pacing (`../pacing.rs`): its rate from the window and SRTT, the
//! gate `output.rs` asks before new data, and the release time that joins `next_deadline`.
//!
//! What is paced: new data and go-back-N resends through the window (as Linux paces
//! `tcp_write_xmit`). What is never held back (but still charged to the clock, so what follows
//! stays paced): the NewReno fast retransmission (RFC 5681 §3.2 step 3: "retransmit"), SACK
//! recovery's NextSeg retransmissions — PRR (RFC 6937 §1) already spreads them over the ACK
//! clock — the tail loss probe (RFC 8985 §7.3: sent when the PTO fires), window probes, and
//! the RTO retransmission: an RTO resets the clock (RFC 6298 §5.4: retransmit "the earliest
//! segment"; Linux's `tcp_retransmit_timer` sends it directly). Read next: `timers.rs`.

use super::Connection;
use crate::tcp::pacing::{self, UNPACED_SEGMENTS};
use crate::time::Instant;

impl Connection {
    /// Bytes per second, or 0 when this connection is not paced (off, no SRTT yet, or still
    /// in its first 10 segments).
    pub fn pacing_rate(&self) -> u64 {
        if !self.cfg.pacing || self.segs_out < UNPACED_SEGMENTS {
            return 0;
        }
        let cwnd = if self.lr_in_recovery() {
            self.rec_cwnd
        } else {
            self.cc.window()
        };
        let flight = self.snd_max.since(self.snd_una);
        let w = cwnd.min(self.snd_wnd).max(flight);
        // Linux: slow start while cwnd < ssthresh/2 (approaching ssthresh, slow down).
        let ss = self.cc.window() < self.cc.ssthresh() / 2;
        pacing::rate(u64::from(w), self.rtt.srtt, ss)
    }

    /// The release time a held-back segment waits for (part of `next_deadline`).
    pub fn pacing_release(&self) -> Option<Instant> {
        self.pace_wait
    }

    /// May a paced segment go at `now`? If not, remember the release time for the deadline.
    pub(crate) fn pace_ready(&mut self, now: Instant) -> bool {
        let rate = self.pacing_rate();
        if self.pacer.ready(now, rate, self.smss) {
            self.pace_wait = None;
            true
        } else {
            self.pace_wait = Some(self.pacer.release_at());
            false
        }
    }

    /// Every data segment sent (paced or not) moves the clock.
    pub(crate) fn pace_on_send(&mut self, len: u32) {
        if len == 0 {
            return;
        }
        let rate = self.pacing_rate();
        self.pacer.on_send(len, rate);
        self.segs_out += 1;
    }

    /// The release time passed (from `handle_timeout`): output will be asked again.
    pub(crate) fn pace_expired(&mut self, now: Instant) {
        if self.pace_wait.is_some_and(|t| t <= now) {
            self.pace_wait = None;
        }
    }

    /// After an RTO nothing waits behind the clock.
    pub(crate) fn pace_reset(&mut self) {
        self.pacer.reset();
        self.pace_wait = None;
    }

    /// Per-connection switch (`TcpLayer::set_pacing`).
    pub(crate) fn set_pacing(&mut self, on: bool) {
        self.cfg.pacing = on;
        if !on {
            self.pace_reset();
        }
    }
}
