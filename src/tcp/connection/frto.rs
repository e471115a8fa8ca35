//! F-RTO, spurious RTO detection without timestamps (RFC 5682 §3.1, the SACK-enhanced
//! variant): after the RTO's retransmission, send new data instead of resending; if the next
//! ACK acknowledges data sent before the timeout and never resent, the timeout was spurious
//! and its reduction is undone. Read next: `nextseg.rs`.

use super::Connection;
use crate::tcp::TcpStats;
use crate::tcp::sack::Delivery;
use crate::tcp::seq::SeqNum;

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

impl Connection {
    /// RFC 5682 §3.1 step 1: only for a new timeout (not while an RTO recovery is still
    /// underway), and where Eifel cannot judge (no timestamps); not inside a fast recovery
    /// (as Linux's tcp_enter_loss: its SACKed originals would always look spurious).
    pub(super) fn frto_on_rto(&mut self, first: bool, in_fast: bool) {
        self.frto = (first && !in_fast && self.cfg.frto && self.cfg.undo && !self.ts_ok).then_some(
            Frto::Step2 {
                recovery_point: self.snd_max,
            },
        );
    }

    /// RFC 5682 §3.1 steps 2-3, on each ACK after the RTO (SACK information already read).
    pub(super) fn lr_frto_on_ack(&mut self, d: Delivery, new_ack: bool, stats: &mut TcpStats) {
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

    /// New data F-RTO lets go beyond SND.NXT (None: F-RTO is not running).
    pub(super) fn frto_usable(&self, rwnd: u32) -> Option<u32> {
        match self.frto {
            Some(Frto::Step2 { .. }) => Some(0),
            // RFC 5682 §3.1 step 2b: two new segments, whatever cwnd says.
            Some(Frto::Step3 { new_limit, .. }) => {
                Some((new_limit.diff(self.snd_nxt).max(0) as u32).min(rwnd))
            }
            None => None,
        }
    }
}
