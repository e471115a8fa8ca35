//! Loss recovery with SACK: the scoreboard (RFC 6675), loss detection by RACK (RFC 8985) or
//! DupThresh (RFC 6675 §5), tail loss probes (RFC 8985 §7), the reduction paced by PRR
//! (RFC 6937), limited transmit (RFC 3042) and the undo of spurious reductions (Eifel, RFC
//! 3522). Without SACK the connection keeps RFC 5681/6582 fast recovery (`input.rs`).
//!
//! Per ACK: `lr_read_sack` (before SND.UNA moves) marks what the ACK delivered;
//! `lr_after_ack` updates RACK, marks losses, enters or leaves recovery, computes PRR's
//! allowance, and arms the one retransmission timer as RTO, PTO or RACK reorder timer (as
//! Linux shares it). `output.rs` asks `lr_next_retransmit` and `lr_usable` what may go.
//! Read next: `timers.rs`.

use super::Connection;
use crate::tcp::TcpStats;
use crate::tcp::config::Recovery;
use crate::tcp::prr::Prr;
use crate::tcp::rack;
use crate::tcp::sack::{Ambiguity, Delivery};
use crate::tcp::segment::Segment;
use crate::tcp::seq::SeqNum;
use crate::tcp::timer::Timer;
use crate::time::{Duration, Instant};

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

/// RFC 3522 §3.2 Eifel detection for the last reduction: armed by the reduction, it learns
/// RetransmitTS when the first retransmission goes out; the first ACK for it decides.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Eifel {
    /// (RetransmitTS, the retransmitted segment's start), once sent.
    sent: Option<(u32, SeqNum)>,
    /// The reduction was an RTO.
    rto: bool,
}

/// RFC 8985 §7.4: what the outstanding tail loss probe was.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TlpProbe {
    /// The probe is owed: the next segment sent is it.
    pending: bool,
    /// TLP.is_retrans: the probe resent data (no new data could go).
    retrans: bool,
    /// FlightSize when it was sent (the reduction if it repaired a loss).
    flight: u32,
}

/// RFC 5682 §3.1 (SACK-enhanced F-RTO) after an RTO; `recovery_point` = SND.MAX at the RTO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Frto {
    /// Step 2: wait for the ACK of the retransmission; nothing else is resent.
    Step2 { recovery_point: SeqNum },
    /// Step 3: up to two new segments (below `new_limit`) went out instead of resends; the
    /// next ACK decides.
    Step3 {
        recovery_point: SeqNum,
        new_limit: SeqNum,
    },
}

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

    fn rack_on(&self) -> bool {
        self.sack_ok && self.cfg.recovery == Recovery::Rack
    }

    /// In SACK-based recovery (RFC 6675 §5): until `RecoveryPoint` is acknowledged.
    pub(crate) fn lr_in_recovery(&self) -> bool {
        self.rec_end.is_some()
    }

    /// Fast recovery or the loss recovery after an RTO (RFC 8985 §6.2 step 4: "Fast or RTO
    /// recovery").
    fn lr_any_recovery(&self) -> bool {
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
            self.lr_tlp_acked(now, e, d);
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
    fn lr_detect(&mut self, now: Instant) {
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
    fn lr_enter_recovery(&mut self, now: Instant, stats: &mut TcpStats) {
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
    fn lr_set_rec_cwnd(&mut self, delivered: u32, entering: bool) {
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

    /// A reduction happened (recovery or RTO): arm Eifel detection (RFC 3522 §2: an ACK of the
    /// retransmission echoing an older TSval shows the original arrived).
    pub(crate) fn lr_note_reduction(&mut self, _now: Instant, rto: bool) {
        if self.cfg.undo && self.ts_ok {
            self.eifel = Some(Eifel { sent: None, rto });
        }
    }

    /// A retransmission of [seq, ..) went out: the first after a reduction gives RetransmitTS
    /// (RFC 3522 §3.2 step 1). Eifel assumes it resends the oldest outstanding segment (§1);
    /// when it does not (SACK recovery starting at a hole above SND.UNA), the next ACK would
    /// be for another segment and tell nothing: no detection for this reduction.
    fn lr_eifel_on_retransmit(&mut self, now: Instant, seq: SeqNum) {
        let ts = self.ts_now(now);
        let una = self.snd_una;
        if let Some(e) = &mut self.eifel
            && e.sent.is_none()
        {
            if seq == una {
                e.sent = Some((ts, seq));
            } else {
                self.eifel = None;
            }
        }
    }

    /// RFC 3522 §3.2 steps 2-4: the first ACK of the retransmitted segment echoes a timestamp
    /// older than RetransmitTS: the original arrived; undo the reduction and stop resending
    /// what was marked lost (it was not).
    pub(crate) fn lr_check_spurious(&mut self, seg: &Segment<'_>, stats: &mut TcpStats) {
        let Some(Eifel {
            sent: Some((ts, seq)),
            rto,
        }) = self.eifel
        else {
            return;
        };
        if !seg.ack.gt(seq) {
            return;
        }
        self.eifel = None;
        let Some((_, ecr)) = seg.options.timestamps else {
            return;
        };
        if ecr != 0 && (ecr.wrapping_sub(ts) as i32) < 0 {
            stats.spurious_undos += 1;
            self.cc.undo();
            self.rec_end = None;
            self.prr = None;
            self.rto_recover = None;
            self.sb.clear_lost();
            if rto {
                self.snd_nxt = self.snd_max;
            }
        }
    }

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
    fn lr_tlp_allowed(&self) -> bool {
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
    fn lr_tlp_acked(&mut self, now: Instant, end: SeqNum, d: Delivery) {
        self.tlp_end = None;
        let probe = std::mem::take(&mut self.tlp);
        let redundant = d.dsack_block.is_some_and(|(_, r)| r == end);
        if !probe.retrans || redundant || self.lr_any_recovery() {
            return;
        }
        log::debug!("tail loss probe repaired a loss: reduce (RFC 8985 §7.4.2)");
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
            self.lr_note_reduction(now, true);
        }
        // RFC 5682 §3.1 step 1: only for a new timeout (not while an RTO recovery is still
        // underway), and where Eifel cannot judge (no timestamps).
        self.frto =
            (first && self.cfg.frto && self.cfg.undo && !self.ts_ok).then_some(Frto::Step2 {
                recovery_point: self.snd_max,
            });
        true
    }

    /// RFC 5682 §3.1 steps 2-3, on each ACK after the RTO (SACK information already read).
    fn lr_frto_on_ack(&mut self, d: Delivery, new_ack: bool, stats: &mut TcpStats) {
        match self.frto {
            Some(Frto::Step2 { recovery_point }) if new_ack => {
                // Step 2a: everything sent before the timeout is acknowledged: nothing to
                // judge, conventional RTO recovery. Step 2b: send up to two new segments
                // instead of resending; without new data (or window) to send, give up.
                let data_end = self.buf_seq.wrapping_add(self.send_buf.len() as u32);
                let room = self.snd_una.wrapping_add(self.snd_wnd).since(self.snd_max);
                self.frto =
                    (self.snd_una.lt(recovery_point) && data_end.gt(self.snd_max) && room > 0)
                        .then(|| Frto::Step3 {
                            recovery_point,
                            new_limit: self.snd_max.wrapping_add(2 * self.smss),
                        });
            }
            Some(Frto::Step2 { .. }) => {} // duplicate ACKs: stay in step 2
            Some(Frto::Step3 { recovery_point, .. }) => {
                self.frto = None;
                // Step 3b: the ACK delivers data sent before the timeout and never resent:
                // the originals were not lost, the timeout was spurious. Step 3a otherwise
                // (a duplicate ACK, or only the new data or the resend acknowledged).
                if d.original_end.is_some_and(|e| e.le(recovery_point)) {
                    stats.spurious_undos += 1;
                    self.cc.undo();
                    self.rto_recover = None;
                    self.sb.clear_lost();
                }
            }
            None => {}
        }
    }

    /// RFC 6675 §5 NextSeg rule 1: the lowest lost segment, if the allowance permits it (in
    /// fast recovery PRR's, after an RTO cwnd − pipe, RFC 6675 §5.1).
    pub(crate) fn lr_next_retransmit(&mut self, max_payload: u32) -> Option<(SeqNum, u32)> {
        if !self.sack_ok || !self.lr_any_recovery() || self.frto.is_some() {
            return None; // F-RTO steps 2-3 send new data, not resends (RFC 5682 §3.1)
        }
        let room = self.lr_allowance().saturating_sub(self.sb.pipe());
        let Some((start, len)) = self.sb.next_lost() else {
            return self.lr_rescue(max_payload, room);
        };
        let start = start.max(self.snd_una);
        let len = len.min(max_payload);
        (room >= len.min(self.smss)).then_some((start, len))
    }

    /// RFC 6675 §4 NextSeg rule 4, the rescue retransmission: in fast recovery, nothing deemed
    /// lost and no new data to send (rule 2), resend once per episode the segment holding the
    /// highest unSACKed sequence number (nothing above it can be SACKed to mark it lost).
    /// RescueRxt = RecoveryPoint; HighRxt is not updated. (Rule 3, resending segments not yet
    /// deemed lost, is left out: RACK would mark a real loss soon, and it risks spurious copies.)
    fn lr_rescue(&mut self, max_payload: u32, room: u32) -> Option<(SeqNum, u32)> {
        let rp = self.rec_end?;
        let data_end = self.buf_seq.wrapping_add(self.send_buf.len() as u32);
        let rwnd_end = self.snd_una.wrapping_add(self.snd_wnd);
        let new_data = data_end.gt(self.snd_max) && rwnd_end.gt(self.snd_max);
        if new_data || room == 0 || self.rescue_rxt == Some(rp) {
            return None;
        }
        let last = self
            .sb
            .segments()
            .filter(|s| !s.sacked && !s.rtx_episode)
            .last()
            .copied()?;
        self.rescue_rxt = Some(rp);
        // Data up to the record's end (a FIN after it goes along, `output.rs`).
        let top = last.end.min(data_end);
        let start = top
            .wrapping_sub(max_payload)
            .max(last.start)
            .max(self.snd_una);
        Some((start, top.since(start).max(1)))
    }

    /// What pipe may reach: PRR's allowance in fast recovery, cwnd otherwise.
    fn lr_allowance(&self) -> u32 {
        if self.lr_in_recovery() {
            self.rec_cwnd
        } else {
            self.cc.window()
        }
    }

    /// How much new data may go beyond SND.NXT: in recovery cwnd − pipe (RFC 6675 §5, RFC
    /// 6937); on the first two duplicate ACKs one more segment each (RFC 3042).
    pub(crate) fn lr_usable(&self, usable: u32) -> u32 {
        if !self.sack_ok {
            return usable;
        }
        let rwnd = self
            .snd_una
            .wrapping_add(self.snd_wnd)
            .since(self.snd_nxt)
            .min(self.snd_wnd);
        match self.frto {
            Some(Frto::Step2 { .. }) => return 0,
            // RFC 5682 §3.1 step 2b: two new segments, whatever cwnd says.
            Some(Frto::Step3 { new_limit, .. }) => {
                return (new_limit.diff(self.snd_nxt).max(0) as u32).min(rwnd);
            }
            None => {}
        }
        if self.lr_any_recovery() {
            return self.lr_allowance().saturating_sub(self.sb.pipe()).min(rwnd);
        }
        if (1..=2).contains(&self.dupacks) && self.rto_recover.is_none() {
            // RFC 3042 §2: FlightSize may exceed cwnd by up to 2·SMSS.
            let extra = self.dupacks * self.smss;
            return usable.max(
                self.snd_una
                    .wrapping_add(self.cc.window().saturating_add(extra))
                    .since(self.snd_nxt)
                    .min(rwnd),
            );
        }
        usable
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
