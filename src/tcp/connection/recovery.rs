//! Loss recovery with SACK, per ACK: the scoreboard (RFC 6675), loss detection by RACK (RFC
//! 8985 §6) or DupThresh (RFC 6675 §5), the reduction paced by PRR (RFC 6937), and the SACK
//! sender's RTO (RFC 6675 §5.1, RFC 8985 §6.3). Without SACK the connection keeps RFC
//! 5681/6582 fast recovery (`input.rs`).
//!
//! Per ACK: `lr_read_sack` (before SND.UNA moves) marks what the ACK delivered;
//! `lr_after_ack` updates RACK, marks losses, enters or leaves recovery, computes PRR's
//! allowance, and arms the one retransmission timer (`tlp.rs`). `output.rs` asks
//! `nextseg.rs` what may go. The undo of spurious reductions: `eifel.rs` (RFC 3522) and
//! `frto.rs` (RFC 5682). Read next: `tlp.rs`.

use super::Connection;
use crate::tcp::TcpStats;
use crate::tcp::config::Recovery;
use crate::tcp::prr::Prr;
use crate::tcp::sack::{Ambiguity, Delivery};
use crate::tcp::segment::Segment;
use crate::tcp::seq::SeqNum;
use crate::time::{Duration, Instant};

use super::tlp::RtxKind;

/// An ACK's SACK information, taken before SND.UNA moves.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AckInfo {
    d: Delivery,
    una_before: SeqNum,
    sacked_before: u32,
}

impl AckInfo {
    /// The ACK changed the scoreboard (new SACK or a D-SACK).
    pub(crate) fn has_news(&self) -> bool {
        self.d.sacked > 0 || self.d.dsack
    }
}

impl Connection {
    /// Per-connection switch (`TcpLayer::set_congestion_control`).
    pub(crate) fn set_cc(&mut self, name: &str) {
        self.cfg.cc = name.to_string();
        self.cc = crate::tcp::congestion::with_options(name, self.smss, self.cfg.hystart);
        self.cc.set_smss(self.smss);
    }

    /// The congestion controller's name ("cubic", ...).
    pub fn cc_name(&self) -> &'static str {
        self.cc.name()
    }

    /// Per-connection switch (`TcpLayer::set_loss_recovery`).
    pub(crate) fn set_recovery(&mut self, recovery: Recovery, prr: bool, undo: bool) {
        self.cfg.recovery = recovery;
        self.cfg.prr = prr;
        self.cfg.undo = undo;
    }

    pub(super) fn rack_on(&self) -> bool {
        self.sack_ok && self.cfg.recovery == Recovery::Rack
    }

    /// In SACK-based recovery (RFC 6675 §5): until `RecoveryPoint` is acknowledged.
    pub(crate) fn lr_in_recovery(&self) -> bool {
        self.rec_end.is_some()
    }

    /// Fast recovery or the loss recovery after an RTO (RFC 8985 §6.2 step 4: "Fast or RTO
    /// recovery").
    pub(super) fn lr_any_recovery(&self) -> bool {
        self.rec_end.is_some() || self.rto_recover.is_some()
    }

    /// Read the ACK's cumulative point and SACK blocks into the scoreboard (RFC 2018 §5).
    pub(crate) fn lr_read_sack(&mut self, now: Instant, seg: &Segment<'_>) -> AckInfo {
        let mut info = AckInfo {
            una_before: self.snd_una,
            sacked_before: self.sb.sacked_bytes(),
            ..AckInfo::default()
        };
        if !self.sack_ok {
            return info;
        }
        let amb = Ambiguity {
            min_rtt: self.rack.min_rtt.unwrap_or(Duration::ZERO),
            echo_ms: seg
                .options
                .timestamps
                .filter(|&(_, ecr)| self.ts_ok && ecr != 0)
                .map(|(_, ecr)| ecr.wrapping_sub(self.ts_offset)),
        };
        if seg.ack.gt(self.snd_una) {
            self.sb.on_cum_ack(seg.ack, now, amb, &mut info.d);
        }
        let una = self.snd_una.max(seg.ack);
        let blocks = seg.options.sack_blocks;
        self.sb
            .on_sack_blocks(&blocks, una, self.snd_max, now, amb, &mut info.d);
        info
    }

    /// After the ACK was applied: detect losses, run recovery, arm the timer.
    pub(crate) fn lr_after_ack(
        &mut self,
        now: Instant,
        info: AckInfo,
        new_ack: bool,
        stats: &mut TcpStats,
    ) {
        if !self.sack_ok {
            return;
        }
        let d = info.d;
        if d.dsack {
            stats.dsacks_received += 1;
            self.rack.on_dsack(self.snd_una, self.snd_max);
        }
        if d.reordered {
            self.rack.reord = true;
        }
        if let Some(n) = d.newest {
            self.rack.update(now, n);
        }
        let rearm_rto = !new_ack && self.lr_sack_rtt(now, d);
        if self.sb.reneged() {
            // RFC 2018 §8: the receiver discarded SACKed data: retransmit it as unSACKed.
            stats.sack_reneged += 1;
            self.sb.clear_sacks();
        }
        if self.rto_recover.is_some_and(|r| self.snd_una.ge(r)) {
            // The RTO recovery ended (RFC 8985 §6.2 step 4 counts it like a fast recovery).
            self.rto_recover = None;
            self.rack.on_recovery_end();
        }
        if let Some(e) = self.tlp_end
            && self.snd_una.ge(e)
        {
            self.lr_tlp_acked(now, e, d, stats);
        }
        if self.frto.is_some() {
            self.lr_frto_on_ack(d, new_ack, stats);
        }
        if let Some(end) = self.rec_end
            && self.snd_una.ge(end)
        {
            // RFC 6675 §5: recovery ends when RecoveryPoint is cumulatively acknowledged.
            self.rec_end = None;
            self.prr = None;
            self.rack.on_recovery_end();
        }
        self.lr_detect(now);
        let was = self.lr_in_recovery();
        if !was && self.rto_recover.is_none() && self.sb.has_lost() {
            self.lr_enter_recovery(now, stats);
        }
        if self.lr_in_recovery() {
            let acked = self.snd_una.since(info.una_before);
            let sacked_now = self.sb.sacked_bytes();
            let delivered = (i64::from(acked) + i64::from(sacked_now)
                - i64::from(info.sacked_before))
            .max(0) as u32;
            self.lr_set_rec_cwnd(delivered, !was);
        }
        self.lr_arm_timer(now, new_ack, rearm_rto);
    }

    /// An ACK that SACKs but does not advance SND.UNA: an RTT sample from the earliest-sent
    /// never-retransmitted segment it SACKed (RFC 6298 §3: any unambiguous measurement; one of
    /// ⌈FlightSize/(2·SMSS)⌉ per round trip, RFC 7323 App. G), as Linux does in recovery
    /// (`tcp_ack_update_rtt` with `sack_rtt_us`). Without it SRTT freezes at the start of a
    /// recovery while the queue, and the retransmission's RTT, keep growing: the RTO then
    /// fired before the first retransmission could be acknowledged. True if the RTO should
    /// restart: the segment was sent before the first outstanding one was last (re)sent, so
    /// the path still delivers what was sent before it (Linux `tcp_clean_rtx_queue`).
    fn lr_sack_rtt(&mut self, now: Instant, d: Delivery) -> bool {
        let Some(sent) = d.sack_rtt_from else {
            return false;
        };
        let r = now - sent;
        let flight = self.snd_max.since(self.snd_una);
        let smss = self.smss.max(1);
        self.rtt
            .sample_one_of(r, u64::from(flight.div_ceil(2 * smss)));
        self.rack.note_rtt(r);
        self.sb.segments().next().is_some_and(|h| sent < h.xmit_ts)
    }

    /// Mark losses by RACK (RFC 8985 §6.2 step 5) or DupThresh (RFC 6675 §4 IsLost).
    pub(super) fn lr_detect(&mut self, now: Instant) {
        self.rack_timeout = None;
        if self.rack_on() {
            let Some(newest) = self.rack.newest else {
                return;
            };
            let srtt = self.rtt.srtt.unwrap_or(self.rack.rtt);
            let reo = self
                .rack
                .reo_wnd(self.lr_any_recovery(), self.sb.sacked_segments(), srtt);
            let (_, wait) = self.sb.mark_lost_rack(now, newest, self.rack.rtt, reo);
            self.rack_timeout = wait;
        } else if self.sb.mark_lost_dupthresh(self.smss) == 0 && self.dupacks >= 3 {
            // RFC 6675 §5: DupThresh duplicate ACKs also start recovery.
            self.sb.mark_first_lost();
        }
    }

    /// The flight a reduction starts from. With SACK: min(cwnd, FlightSize), as Linux reduces
    /// from cwnd (`tcp_reno_ssthresh`, `bictcp_recalc_ssthresh`; RFC 9438 §4.6 allows cwnd).
    /// FlightSize alone counts data the receiver SACKed, which on a lossy path is far more
    /// than cwnd, and the window never came down; FlightSize less SACKed bytes backed off
    /// further than Linux at high loss (docs/loss-recovery.md, "Real TUN"). Without SACK,
    /// FlightSize (RFC 5681 §3.2).
    pub(crate) fn lr_flight(&self) -> u32 {
        let flight = self.snd_max.since(self.snd_una);
        if self.sack_ok {
            flight.min(self.cc.window())
        } else {
            flight
        }
    }

    /// RFC 6675 §5 step 4 / RFC 8985 §6.2: enter recovery and reduce the window once.
    pub(super) fn lr_enter_recovery(&mut self, now: Instant, stats: &mut TcpStats) {
        let flight = self.lr_flight();
        self.sb.start_episode();
        self.cc.on_fast_retransmit(now, flight, self.snd_max);
        self.rec_end = Some(self.snd_max);
        self.prr = self.cfg.prr.then(|| Prr::start(flight));
        self.rtt_probe = None;
        stats.fast_recoveries += 1;
        self.lr_note_reduction(now, false);
    }

    /// The allowance in recovery: PRR's pipe + sndcnt (RFC 6937 §3), else cwnd = ssthresh
    /// (RFC 6675 §5 step 4.2). On entry at least the first retransmission may go.
    pub(super) fn lr_set_rec_cwnd(&mut self, delivered: u32, entering: bool) {
        let pipe = self.sb.pipe();
        let ssthresh = self.cc.ssthresh();
        let smss = self.smss;
        self.rec_cwnd = match &mut self.prr {
            Some(p) => pipe.saturating_add(p.on_ack(delivered, pipe, ssthresh, smss)),
            None => ssthresh,
        };
        if entering {
            self.rec_cwnd = self.rec_cwnd.max(pipe.saturating_add(smss));
        }
    }

    /// After an RTO, with SACK (false without: the caller goes back to SND.UNA). The SACK
    /// marks are kept unless the receiver reneged (RFC 2018 §8; RFC 6675 §5.1 lets a sender
    /// with a reneging test keep them, as Linux does): the unSACKed segments are marked lost
    /// (RFC 8985 §6.3 with RACK, all of them with DupThresh), the first is resent at once and
    /// the rest as the window opens (`lr_next_retransmit`). No fast recovery starts until the
    /// data sent before the timeout is acknowledged.
    pub(crate) fn lr_on_rto(&mut self, now: Instant, stats: &mut TcpStats) -> bool {
        if !self.sack_ok {
            return false;
        }
        let first = self.rto_recover.is_none();
        let in_fast = self.rec_end.is_some();
        if self.sb.reneged() {
            stats.sack_reneged += 1;
            self.sb.clear_sacks();
        }
        self.rec_end = None;
        self.prr = None;
        self.tlp_end = None;
        self.rto_recover = Some(self.snd_max);
        self.rtx_kind = RtxKind::Rto;
        self.sb.start_episode();
        if self.rack_on() && self.rack.newest.is_some() {
            let srtt = self.rtt.srtt.unwrap_or(self.rack.rtt);
            let reo = self.rack.reo_wnd(true, self.sb.sacked_segments(), srtt);
            self.sb.mark_lost_on_rto(now, self.rack.rtt + reo);
        } else {
            self.sb.mark_all_lost();
        }
        if first {
            self.lr_note_rto(now, in_fast);
        }
        self.frto_on_rto(first, in_fast);
        true
    }

    /// Bookkeeping for every data segment sent (scoreboard record, PRR's prr_out).
    pub(crate) fn lr_on_send(&mut self, now: Instant, seq: SeqNum, end: SeqNum, new_data: bool) {
        if !new_data {
            self.lr_eifel_on_retransmit(now, seq);
        }
        if !self.sack_ok {
            return;
        }
        if std::mem::take(&mut self.tlp.pending) {
            self.tlp.retrans = !new_data; // §7.3: TLP.is_retrans
        }
        self.sb.on_transmit(seq, end, now);
        if let Some(p) = &mut self.prr {
            p.on_sent(end.since(seq));
        }
        if new_data && self.rtx_kind != RtxKind::Reorder && self.lr_tlp_allowed() {
            // RFC 8985 §7.2: restart the PTO after sending new data.
            self.lr_arm_timer(now, true, false);
        }
    }
}
