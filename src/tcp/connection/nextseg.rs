//! What a SACK sender sends next in loss recovery: RFC 6675 §4 NextSeg (rule 1, the lowest
//! lost segment; rule 2, new data within cwnd − pipe; rule 4, the rescue retransmission) and
//! limited transmit (RFC 3042) on the first duplicate ACKs. `output.rs` asks. Read next:
//! `timers.rs`.

use super::Connection;
use crate::tcp::seq::SeqNum;

impl Connection {
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
    /// 6937); on the first two duplicate ACKs one more segment each (RFC 3042); F-RTO's two
    /// new segments (`frto.rs`).
    pub(crate) fn lr_usable(&self, usable: u32) -> u32 {
        let rwnd = self
            .snd_una
            .wrapping_add(self.snd_wnd)
            .since(self.snd_nxt)
            .min(self.snd_wnd);
        if let Some(n) = self.frto_usable(rwnd) {
            return n; // F-RTO steps 2-3 (RFC 5682 §2, §3.1), with SACK or without
        }
        if !self.sack_ok {
            return usable;
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
}
