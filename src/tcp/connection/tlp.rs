//! The shared retransmission timer (as Linux shares it): RTO (RFC 6298), tail loss probe
//! timeout (PTO, RFC 8985 §7) or RACK's reordering timer (RFC 8985 §6.3), and the tail loss
//! probe itself: when it may be scheduled (§7.1), what it sends (`output.rs`, §7.3) and what
//! its acknowledgment shows (§7.4). Read next: `eifel.rs`.

use super::Connection;
use crate::tcp::TcpStats;
use crate::tcp::rack;
use crate::tcp::sack::Delivery;
use crate::tcp::seq::SeqNum;
use crate::tcp::timer::Timer;
use crate::time::Instant;

/// What the shared retransmission timer means when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum RtxKind {
    #[default]
    Rto,
    /// RFC 8985 §7: the tail loss probe timeout.
    Tlp,
    /// RFC 8985 §6.3: RACK's reordering timer.
    Reorder,
}

/// RFC 8985 §7.4: what the outstanding tail loss probe was.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TlpProbe {
    /// The probe is owed: the next segment sent is it.
    pub(super) pending: bool,
    /// TLP.is_retrans: the probe resent data (no new data could go).
    pub(super) retrans: bool,
    /// FlightSize when it was sent (the reduction if it repaired a loss).
    flight: u32,
}

impl Connection {
    /// Arm the shared timer: RACK reorder timer, else PTO (RFC 8985 §7.2), else RTO.
    /// `restart` restarts a PTO, `rearm_rto` an RTO.
    pub(crate) fn lr_arm_timer(&mut self, now: Instant, restart: bool, rearm_rto: bool) {
        if !self.sack_ok || self.snd_una == self.snd_max || self.snd_wnd == 0 {
            return;
        }
        if let Some(wait) = self.rack_timeout {
            self.timers.set(Timer::Retransmit, now + wait);
            self.rtx_kind = RtxKind::Reorder;
        } else if self.lr_tlp_allowed() {
            if restart || self.rtx_kind != RtxKind::Tlp {
                let one = self.snd_max.since(self.snd_una) <= self.smss;
                let pto = rack::pto(self.rtt.srtt, one, self.rtt.rto());
                self.timers.set(Timer::Retransmit, now + pto);
                self.rtx_kind = RtxKind::Tlp;
            }
        } else if rearm_rto
            || self.rtx_kind != RtxKind::Rto
            || !self.timers.is_set(Timer::Retransmit)
        {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            self.rtx_kind = RtxKind::Rto;
        }
    }

    /// RFC 8985 §7.1: a probe is scheduled only with RACK and SACK, an RTT sample, outside
    /// recovery, and with no probe outstanding.
    pub(super) fn lr_tlp_allowed(&self) -> bool {
        self.rack_on()
            && self.rtt.srtt.is_some()
            && !self.lr_in_recovery()
            && self.rto_recover.is_none()
            && self.tlp_end.is_none()
            && self.state.is_synchronized()
    }

    /// RFC 8985 §7.4.2 TLP_process_ack: the ACK covers the probe (TLP.end_seq). A probe of
    /// new data, or a resend the receiver reports as a duplicate (a D-SACK ending at
    /// TLP.end_seq), repaired nothing; otherwise the resend repaired a tail loss that no
    /// other mechanism saw, and congestion control must still reduce the window (once).
    pub(super) fn lr_tlp_acked(
        &mut self,
        now: Instant,
        end: SeqNum,
        d: Delivery,
        stats: &mut TcpStats,
    ) {
        self.tlp_end = None;
        let probe = std::mem::take(&mut self.tlp);
        let redundant = d.dsack_block.is_some_and(|(_, r)| r == end);
        if !probe.retrans || redundant || self.lr_any_recovery() {
            return;
        }
        log::debug!("tail loss probe repaired a loss: reduce (RFC 8985 §7.4.2)");
        stats.tlp_repairs += 1;
        self.cc.on_fast_retransmit(now, probe.flight, self.snd_max);
        self.rtt_probe = None;
    }

    /// The shared timer fired as PTO or reorder timer; false when it is a real RTO.
    pub(crate) fn lr_on_timer(&mut self, now: Instant, stats: &mut TcpStats) -> bool {
        match std::mem::take(&mut self.rtx_kind) {
            RtxKind::Rto => false,
            RtxKind::Tlp => {
                // §7.3: send one probe; the RTO takes over.
                stats.tlp_probes += 1;
                self.tlp_now = true;
                self.tlp = TlpProbe {
                    pending: true,
                    retrans: false,
                    flight: self.snd_max.since(self.snd_una),
                };
                self.timers.set(Timer::Retransmit, now + self.rtt.rto());
                true
            }
            RtxKind::Reorder => {
                // §6.3: the reordering window passed: mark what is now lost.
                stats.rack_reorder_timeouts += 1;
                self.lr_detect(now);
                if !self.lr_in_recovery() && self.rto_recover.is_none() && self.sb.has_lost() {
                    self.lr_enter_recovery(now, stats);
                    self.lr_set_rec_cwnd(0, true);
                }
                self.rtx_kind = RtxKind::Rto;
                self.timers.stop(Timer::Retransmit);
                self.lr_arm_timer(now, true, false);
                true
            }
        }
    }
}
