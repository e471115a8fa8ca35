//! F-RTO, spurious RTO detection without timestamps (RFC 5682): after the RTO's
//! retransmission is acknowledged, send new data instead of resending; if the next ACK
//! acknowledges data sent before the timeout and never resent, the timeout was spurious and
//! its reduction is undone (RFC 5682 §4, the response of RFC 4015). With SACK the
//! SACK-enhanced variant (§3.1, per ACK from `recovery.rs`); without SACK the basic one (§2,
//! from `input.rs`), where a duplicate ACK in step 2 or 3 shows a real loss. With timestamps
//! Eifel judges instead (`eifel.rs`). Read next: `nextseg.rs`.

use super::Connection;
use crate::tcp::TcpStats;
use crate::tcp::sack::Delivery;
use crate::tcp::seq::SeqNum;

/// F-RTO after an RTO (RFC 5682 §2, §3.1); `recovery_point` = SND.MAX at the RTO (`recover`).
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
    /// RFC 5682 §2 and §3.1 step 1: only for a new timeout (not while an RTO recovery is still
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
                self.frto =
                    (self.snd_una.lt(recovery_point) && self.frto_new_data_may_go()).then(|| {
                        Frto::Step3 {
                            recovery_point,
                            new_limit: self.snd_max.wrapping_add(2 * self.smss),
                        }
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
                    // The step-1 retransmission was not what arrived, but without timestamps
                    // RACK took the ACK that covered it as its delivery (RFC 8985 §6.2 step 2
                    // skips it only if acknowledged within min_RTT of the resend): RACK.xmit_ts
                    // would then be the RTO's time and every original sent before it "lost".
                    // Forget it; the next ACK of an original sets it again.
                    self.rack.newest = None;
                }
            }
            None => {}
        }
    }

    /// RFC 5682 §2 steps 2-3, the basic F-RTO (no SACK), on each new or duplicate ACK after
    /// the RTO (`new_ack` false: a duplicate; any ACK that does not move SND.UNA counts, so
    /// that a doubtful one falls back to the conventional recovery, never to an undo).
    pub(super) fn frto_basic_on_ack(&mut self, new_ack: bool, stats: &mut TcpStats) {
        match self.frto {
            Some(Frto::Step2 { recovery_point }) => {
                // Step 2a: a duplicate ACK, an ACK at or beyond `recover`, or one that does not
                // cover the step-1 retransmission (its end is SND.NXT: cwnd = 1 SMSS let
                // nothing else go): conventional RTO recovery, go-back-N goes on. Step 2b: up
                // to two new segments instead of resends (SND.NXT to SND.MAX); without new
                // data or window, the conventional recovery too.
                let step_2b = new_ack
                    && self.snd_una.lt(recovery_point)
                    && self.snd_una.ge(self.snd_nxt)
                    && self.frto_new_data_may_go();
                self.frto = None;
                if step_2b {
                    self.frto = Some(Frto::Step3 {
                        recovery_point,
                        new_limit: self.snd_max.wrapping_add(2 * self.smss),
                    });
                    self.snd_nxt = self.snd_max;
                }
            }
            Some(Frto::Step3 { .. }) => {
                self.frto = None;
                if new_ack {
                    // Step 3b: data sent before the timeout arrived: the timeout was spurious;
                    // recover = SND.UNA (no RFC 6582 block on fast retransmits any more), and
                    // the response (§4, RFC 4015 §3.2) restores the window and goes on with
                    // unsent data (SND.NXT is already SND.MAX).
                    stats.spurious_undos += 1;
                    self.cc.undo();
                    self.nr_recover = None;
                } else {
                    // Step 3a: the loss was real: cwnd is at most 3·SMSS (1 after the RTO, one
                    // ACK of growth); slow start resends from SND.UNA. The new segments are
                    // resent too: their duplicate ACKs must not start a fast retransmit (RFC
                    // 6582 §3.2 step 4, `recover` = the highest sequence number sent).
                    self.snd_nxt = self.snd_una;
                    self.nr_recover = Some(self.snd_max);
                }
            }
            None => {}
        }
    }

    /// RFC 5682 §2 step 2b: new data waits and the peer's window has room beyond SND.MAX.
    fn frto_new_data_may_go(&self) -> bool {
        let data_end = self.buf_seq.wrapping_add(self.send_buf.len() as u32);
        let room = self.snd_una.wrapping_add(self.snd_wnd).since(self.snd_max);
        data_end.gt(self.snd_max) && room > 0
    }

    /// New data F-RTO lets go beyond SND.NXT (None: F-RTO does not decide). Without SACK
    /// step 2 is go-back-N's first resend under cwnd = 1 SMSS: the window decides.
    pub(super) fn frto_usable(&self, rwnd: u32) -> Option<u32> {
        match self.frto {
            Some(Frto::Step2 { .. }) => self.sack_ok.then_some(0),
            // RFC 5682 §2 and §3.1 step 2b: two new segments, whatever cwnd says.
            Some(Frto::Step3 { new_limit, .. }) => {
                Some((new_limit.diff(self.snd_nxt).max(0) as u32).min(rwnd))
            }
            None => None,
        }
    }
}
