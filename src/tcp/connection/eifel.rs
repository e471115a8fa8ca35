//! Spurious retransmission undo by timestamps: Eifel detection (RFC 3522). After a reduction
//! (fast recovery or RTO), the ACK of the first retransmission echoing a TSval older than the
//! retransmission's shows the original arrived: the reduction is undone. Without timestamps
//! F-RTO judges RTOs instead (`frto.rs`). Read next: `frto.rs`.

use super::Connection;
use crate::tcp::TcpStats;
use crate::tcp::segment::Segment;
use crate::tcp::seq::SeqNum;
use crate::time::Instant;

/// RFC 3522 §3.2 Eifel detection for the last reduction: armed by the reduction, it learns
/// RetransmitTS when the first retransmission goes out; the first ACK for it decides.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Eifel {
    /// (RetransmitTS, the retransmitted segment's start), once sent.
    sent: Option<(u32, SeqNum)>,
    /// The reduction was an RTO.
    rto: bool,
}

impl Connection {
    /// A reduction happened (recovery or RTO): arm Eifel detection (RFC 3522 §2: an ACK of the
    /// retransmission echoing an older TSval shows the original arrived).
    pub(crate) fn lr_note_reduction(&mut self, _now: Instant, rto: bool) {
        if self.cfg.undo && self.ts_ok {
            self.eifel = Some(Eifel { sent: None, rto });
        }
    }

    /// A timeout reduced (or, `in_fast`, happened inside a fast recovery). Inside one it is part
    /// of that episode (it does not reduce again): only the episode's Eifel test, against its
    /// first retransmission, may undo, and then all of it (Linux: tcp_packet_delayed with the
    /// episode's retrans_stamp); an undo then also ends the timeout's resending. Judged by the
    /// timeout's own resend, the late arrival of a real loss's fast retransmission looked
    /// spurious and restored the window from before the loss.
    pub(crate) fn lr_note_rto(&mut self, now: Instant, in_fast: bool) {
        if !in_fast {
            self.lr_note_reduction(now, true);
        } else if let Some(e) = &mut self.eifel {
            e.rto = true;
        }
    }

    /// A retransmission of [seq, ..) went out: the first after a reduction gives RetransmitTS
    /// (RFC 3522 §3.2 step 1). Eifel assumes it resends the oldest outstanding segment (§1);
    /// when it does not (SACK recovery starting at a hole above SND.UNA), the next ACK would
    /// be for another segment and tell nothing: no detection for this reduction.
    pub(super) fn lr_eifel_on_retransmit(&mut self, now: Instant, seq: SeqNum) {
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
}
