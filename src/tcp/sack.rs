//! The sender's SACK scoreboard (RFC 6675 §3-4, RFC 2018 §5, RFC 2883, RFC 8985 §5.2).
//!
//! One record per transmitted segment above SND.UNA: its range, when it was last sent, whether
//! it was retransmitted, SACKed, or is deemed lost. SACK blocks split records at their edges and
//! mark what they cover; a first block below SND.UNA or inside the second is a D-SACK (RFC 2883
//! §4) and marks nothing. Loss marking comes from RFC 6675 `IsLost` (DupThresh) or from RACK
//! (`rack.rs`); `pipe()` is RFC 6675 SetPipe and `next_lost()` is NextSeg rule 1. Records are
//! bounded: beyond `MAX_RECORDS` new data extends the last record. Read next: `rack.rs`.

use std::collections::VecDeque;

use super::seq::SeqNum;
use crate::time::{Duration, Instant};

/// Most records kept (a peer SACKing one-byte islands cannot make us split without bound;
/// 32 bytes each). A full board cannot split a record a SACK block covers in part, and RACK
/// then resends all of it: 4096 was less than one window of 100 Mbit/s × 400 ms (3500
/// segments, more records with holes) and cost thousands of spurious retransmissions.
pub const MAX_RECORDS: usize = 16384;
/// RFC 6675 §2: DupThresh = 3.
pub const DUP_THRESH: u32 = 3;

/// One transmission as RACK orders them (RFC 8985 §6.2 RACK_sent_after): its time, and its
/// place in the send order. The RFC breaks ties of equal timestamps by end sequence number,
/// which is wrong for a retransmission sent in the same clock tick as (after) new data; the
/// transmission counter is the finer clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub xmit_ts: Instant,
    pub order: u64,
    pub end: SeqNum,
}

impl Sent {
    /// RACK_sent_after(self, other).
    pub fn after(&self, other: &Sent) -> bool {
        self.order > other.order
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentSeg {
    pub start: SeqNum,
    pub end: SeqNum,
    /// When it was last (re)transmitted (RACK's Segment.xmit_ts, RFC 8985 §5.2).
    pub xmit_ts: Instant,
    /// The scoreboard's transmission count at that send (the send order).
    pub order: u64,
    /// Retransmitted at least once.
    pub retrans: bool,
    /// Retransmitted in the current recovery episode (RFC 6675 HighRxt, per segment).
    pub rtx_episode: bool,
    pub sacked: bool,
    /// Deemed lost and not yet retransmitted.
    pub lost: bool,
}

impl SentSeg {
    pub fn bytes(&self) -> u32 {
        self.end.since(self.start)
    }

    pub fn sent(&self) -> Sent {
        Sent {
            xmit_ts: self.xmit_ts,
            order: self.order,
            end: self.end,
        }
    }
}

/// What one ACK delivered (cumulatively or by SACK).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Bytes newly SACKed (PRR's DeliveredData adds the cumulative part, RFC 6937 §3).
    pub sacked: u32,
    /// The most recently sent segment delivered whose timing is unambiguous.
    pub newest: Option<Sent>,
    /// A never-retransmitted segment was delivered below the highest SACKed one (RFC 8985
    /// §6.2 step 3: reordering).
    pub reordered: bool,
    /// The ACK carried a D-SACK block (RFC 2883).
    pub dsack: bool,
    /// That block.
    pub dsack_block: Option<(SeqNum, SeqNum)>,
    /// The end of the highest never-retransmitted segment this ACK delivered (F-RTO, RFC
    /// 5682 §3.1 step 3b).
    pub original_end: Option<SeqNum>,
    /// When the earliest-sent never-retransmitted segment this ACK newly SACKed was sent: an
    /// unambiguous RTT sample (RFC 6298 §3, Karn), as Linux takes `sack_rtt_us`.
    pub sack_rtt_from: Option<Instant>,
}

/// What tells whether an ACK of a retransmitted segment may be for an earlier copy (RFC 8985
/// §6.2 step 2): RACK.min_rtt, and the ACK's TSecr as milliseconds of our clock (TSecr minus
/// our timestamp offset) when timestamps are on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ambiguity {
    pub min_rtt: Duration,
    pub echo_ms: Option<u32>,
}

impl From<Duration> for Ambiguity {
    fn from(min_rtt: Duration) -> Self {
        Ambiguity {
            min_rtt,
            echo_ms: None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    segs: VecDeque<SentSeg>,
    /// Highest SACKed (or cumulatively acknowledged) sequence number: RACK.fack.
    fack: Option<SeqNum>,
    /// Transmissions so far (`SentSeg::order`).
    sends: u64,
    /// Records marked SACKed, and marked lost: with neither, the per-ACK queries below answer
    /// without walking a window of records (`counts_ok` checks them in debug builds).
    n_sacked: u32,
    n_lost: u32,
}

impl Scoreboard {
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.segs.len()
    }

    pub fn segments(&self) -> impl Iterator<Item = &SentSeg> {
        self.segs.iter()
    }

    /// Index of the first record ending after `at`.
    fn index_after(&self, at: SeqNum) -> usize {
        self.segs.partition_point(|s| s.end.le(at))
    }

    /// Split the record that strictly contains `at` into two.
    fn split_at(&mut self, at: SeqNum) {
        if self.segs.len() >= MAX_RECORDS {
            return;
        }
        let i = self.index_after(at);
        if let Some(s) = self.segs.get(i).copied()
            && s.start.lt(at)
            && at.lt(s.end)
        {
            let mut right = s;
            right.start = at;
            if let Some(left) = self.segs.get_mut(i) {
                left.end = at;
            }
            self.segs.insert(i + 1, right);
            self.n_sacked += u32::from(s.sacked);
            self.n_lost += u32::from(s.lost);
        }
    }

    /// [start, end) was (re)transmitted at `now`.
    pub fn on_transmit(&mut self, start: SeqNum, end: SeqNum, now: Instant) {
        if !start.lt(end) {
            return;
        }
        self.sends += 1;
        let order = self.sends;
        let last_end = self.segs.back().map(|s| s.end);
        if last_end.is_none_or(|e| start.ge(e)) {
            let fresh = SentSeg {
                start,
                end,
                xmit_ts: now,
                order,
                retrans: false,
                rtx_episode: false,
                sacked: false,
                lost: false,
            };
            let full = self.segs.len() >= MAX_RECORDS;
            match self.segs.back_mut() {
                Some(b) if full && b.end == start => {
                    b.end = end;
                    b.xmit_ts = now;
                    b.order = order;
                }
                _ => self.segs.push_back(fresh),
            }
            return;
        }
        // A retransmission (RFC 8985 §6.1: update xmit_ts, mark retransmitted).
        self.split_at(start);
        self.split_at(end);
        let from = self.index_after(start);
        for s in self.segs.iter_mut().skip(from) {
            if !s.start.lt(end) {
                break;
            }
            s.xmit_ts = now;
            s.order = order;
            s.retrans = true;
            s.rtx_episode = true;
            self.n_lost -= u32::from(std::mem::take(&mut s.lost));
        }
        debug_assert!(self.counts_ok());
        if let Some(e) = last_end
            && end.gt(e)
        {
            self.sends -= 1; // the same transmission
            self.on_transmit(e, end, now);
        }
    }

    /// SND.UNA advanced to `una`: drop what it covers. `amb` decides whether a retransmitted
    /// segment's delivery is ambiguous (RFC 8985 §6.2 step 2).
    pub fn on_cum_ack(
        &mut self,
        una: SeqNum,
        now: Instant,
        amb: impl Into<Ambiguity>,
        d: &mut Delivery,
    ) {
        let amb = amb.into();
        while let Some(s) = self.segs.front().copied() {
            if s.start.ge(una) {
                break;
            }
            if !s.sacked {
                self.delivered(&s, now, amb, true, d);
            }
            if s.end.le(una) {
                self.segs.pop_front();
                self.n_sacked -= u32::from(s.sacked);
                self.n_lost -= u32::from(s.lost);
            } else if let Some(f) = self.segs.front_mut() {
                f.start = una;
                break;
            }
        }
        if self.fack.is_none_or(|f| f.lt(una)) {
            self.fack = Some(una);
        }
        debug_assert!(self.counts_ok());
    }

    /// RFC 8985 §6.2 steps 2-3 for one newly delivered segment (`cum`: by the cumulative ACK).
    fn delivered(&self, s: &SentSeg, now: Instant, amb: Ambiguity, cum: bool, d: &mut Delivery) {
        // Step 3: an original delivered below RACK.fack as it was before this ACK (the RFC's
        // ascending walk gives exactly that) was reordered.
        if !s.retrans && self.fack.is_some_and(|f| s.end.lt(f)) {
            d.reordered = true;
        }
        if !s.retrans && d.original_end.is_none_or(|e| s.end.gt(e)) {
            d.original_end = Some(s.end);
        }
        // Step 2: skip a retransmission whose ACK may be for an earlier copy: acknowledged
        // sooner than min_RTT after the resend, or (cumulative ACKs only: the receiver echoes
        // the TSval of the segment that advanced RCV.NXT, RFC 7323 §4.3, not that of an
        // out-of-order one) echoing a timestamp older than the resend.
        if s.retrans {
            let soon = now - s.xmit_ts < amb.min_rtt;
            let sent_ms = s.xmit_ts.total_millis() as u32;
            let older_echo = cum
                && amb
                    .echo_ms
                    .is_some_and(|e| (e.wrapping_sub(sent_ms) as i32) < 0);
            if soon || older_echo {
                return;
            }
        }
        if d.newest.is_none_or(|n| s.sent().after(&n)) {
            d.newest = Some(s.sent());
        }
    }

    /// The SACK blocks of one ACK (RFC 2018 §4 validity: within (SND.UNA, SND.MAX]).
    pub fn on_sack_blocks(
        &mut self,
        blocks: &[Option<(SeqNum, SeqNum)>],
        una: SeqNum,
        snd_max: SeqNum,
        now: Instant,
        amb: impl Into<Ambiguity>,
        d: &mut Delivery,
    ) {
        if blocks.iter().all(Option::is_none) {
            return; // most ACKs: nothing to walk
        }
        let amb = amb.into();
        let mut fack = self.fack;
        let list: Vec<(SeqNum, SeqNum)> = blocks.iter().flatten().copied().collect();
        for (i, &(l, r)) in list.iter().enumerate() {
            if i == 0 {
                // RFC 2883 §4: the first block is a D-SACK if below the cumulative ACK or
                // inside the second block.
                let inside_second = list.get(1).is_some_and(|&(l2, r2)| l2.le(l) && r.le(r2));
                if r.le(una) || inside_second {
                    d.dsack = true;
                    d.dsack_block = Some((l, r));
                    continue;
                }
            }
            if !(una.lt(r) && l.lt(r) && r.le(snd_max)) {
                continue;
            }
            let l = l.max(una);
            self.split_at(l);
            self.split_at(r);
            let from = self.index_after(l);
            let mut newly = Vec::new();
            for s in self.segs.iter_mut().skip(from) {
                if !s.start.lt(r) {
                    break;
                }
                if l.le(s.start) && s.end.le(r) && !s.sacked {
                    s.sacked = true;
                    self.n_sacked += 1;
                    self.n_lost -= u32::from(std::mem::take(&mut s.lost));
                    newly.push(*s);
                }
            }
            for s in newly {
                d.sacked += s.bytes();
                if !s.retrans && d.sack_rtt_from.is_none_or(|t| s.xmit_ts < t) {
                    d.sack_rtt_from = Some(s.xmit_ts);
                }
                self.delivered(&s, now, amb, false, d);
            }
            if fack.is_none_or(|f| f.lt(r)) {
                fack = Some(r);
            }
        }
        self.fack = fack;
        debug_assert!(self.counts_ok());
    }

    /// RFC 2018 §8 / RFC 6675 §5.1: forget SACK marks (after an RTO, or when the receiver
    /// reneged: SND.UNA reached a segment it had SACKed).
    pub fn clear_sacks(&mut self) {
        for s in &mut self.segs {
            s.sacked = false;
            s.lost = false;
        }
        (self.n_sacked, self.n_lost) = (0, 0);
        self.fack = None;
    }

    /// The receiver reneged if the first record above SND.UNA is marked SACKed: a SACKed
    /// block starting at RCV.NXT would have been acknowledged cumulatively.
    pub fn reneged(&self) -> bool {
        self.segs.front().is_some_and(|s| s.sacked)
    }

    /// A new recovery episode: nothing has been retransmitted in it yet.
    pub fn start_episode(&mut self) {
        for s in &mut self.segs {
            s.rtx_episode = false;
        }
    }

    /// Mark everything outstanding and not SACKed as lost (RFC 6675 §5.1 after an RTO).
    pub fn mark_all_lost(&mut self) {
        for s in &mut self.segs {
            if !s.sacked {
                s.lost = true;
            }
        }
        self.n_lost = self.segs.iter().filter(|s| s.lost).count() as u32;
    }

    /// RFC 8985 §6.3 after an RTO: the first outstanding segment is lost, and every other one
    /// not SACKed that was sent at least `wait` (RACK.rtt + reo_wnd) ago; later ones may still
    /// arrive. Returns how many are marked.
    pub fn mark_lost_on_rto(&mut self, now: Instant, wait: Duration) -> u32 {
        let mut marked = 0;
        for (i, s) in self.segs.iter_mut().enumerate() {
            if !s.sacked && !s.lost && (i == 0 || s.xmit_ts + wait <= now) {
                s.lost = true;
                marked += 1;
            }
        }
        self.n_lost += marked;
        marked
    }

    /// The losses were spurious (RFC 3522 / RFC 5682 undo): nothing is deemed lost any more.
    pub fn clear_lost(&mut self) {
        for s in &mut self.segs {
            s.lost = false;
        }
        self.n_lost = 0;
    }

    /// RFC 6675 §4 IsLost: DupThresh SACKed segments, or more than (DupThresh − 1)·SMSS SACKed
    /// bytes, above a segment mark it lost (unless already resent in this episode). Returns
    /// how many were newly marked.
    pub fn mark_lost_dupthresh(&mut self, smss: u32) -> u32 {
        if self.n_sacked == 0 {
            return 0; // nothing SACKed above anything
        }
        let (mut bytes, mut count, mut marked) = (0u32, 0u32, 0u32);
        for s in self.segs.iter_mut().rev() {
            if s.sacked {
                bytes = bytes.saturating_add(s.bytes());
                count += 1;
            } else if (count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss)
                && !s.lost
                && !s.rtx_episode
            {
                s.lost = true;
                marked += 1;
            }
        }
        self.n_lost += marked;
        marked
    }

    /// Mark the first outstanding segment lost (three duplicate ACKs, RFC 5681 §3.2).
    pub fn mark_first_lost(&mut self) {
        if let Some(s) = self.segs.front_mut()
            && !s.sacked
            && !s.rtx_episode
        {
            self.n_lost += u32::from(!std::mem::replace(&mut s.lost, true));
        }
    }

    /// RFC 8985 §6.2 step 5: a segment sent before RACK.xmit_ts is lost once it is older than
    /// RACK.rtt + reo_wnd. Returns (newly lost, the longest wait before a candidate times out).
    pub fn mark_lost_rack(
        &mut self,
        now: Instant,
        rack: Sent,
        rtt: Duration,
        reo_wnd: Duration,
    ) -> (u32, Option<Duration>) {
        let (mut marked, mut timeout) = (0u32, None::<Duration>);
        for s in &mut self.segs {
            if !s.retrans && !rack.after(&s.sent()) {
                // Originals go out in sequence order and a resend only raises a record's
                // order, so no record above this one was sent before RACK.xmit_ts either.
                break;
            }
            if s.sacked || s.lost || !rack.after(&s.sent()) {
                continue;
            }
            let deadline = s.xmit_ts + rtt + reo_wnd;
            if deadline <= now {
                s.lost = true;
                marked += 1;
            } else {
                let wait = deadline - now;
                timeout = Some(timeout.map_or(wait, |t| t.max(wait)));
            }
        }
        self.n_lost += marked;
        (marked, timeout)
    }

    /// RFC 6675 §4 SetPipe: bytes believed in the network (not SACKed, not lost).
    pub fn pipe(&self) -> u32 {
        self.segs
            .iter()
            .filter(|s| !s.sacked && !s.lost)
            .map(SentSeg::bytes)
            .sum()
    }

    pub fn sacked_bytes(&self) -> u32 {
        if self.n_sacked == 0 {
            return 0;
        }
        self.segs
            .iter()
            .filter(|s| s.sacked)
            .map(SentSeg::bytes)
            .sum()
    }

    pub fn sacked_segments(&self) -> u32 {
        self.n_sacked
    }

    pub fn has_lost(&self) -> bool {
        self.n_lost > 0
    }

    /// The counters agree with the records.
    fn counts_ok(&self) -> bool {
        let sacked = self.segs.iter().filter(|s| s.sacked).count() as u32;
        let lost = self.segs.iter().filter(|s| s.lost).count() as u32;
        (sacked, lost) == (self.n_sacked, self.n_lost)
    }

    /// RFC 6675 §4 NextSeg rule 1: the lowest segment deemed lost: (start, length).
    pub fn next_lost(&self) -> Option<(SeqNum, u32)> {
        if self.n_lost == 0 {
            return None;
        }
        self.segs
            .iter()
            .find(|s| s.lost && !s.sacked)
            .map(|s| (s.start, s.bytes()))
    }

    /// The last segment sent (the tail loss probe's retransmission, RFC 8985 §7.3).
    pub fn last(&self) -> Option<&SentSeg> {
        self.segs.back()
    }
}
