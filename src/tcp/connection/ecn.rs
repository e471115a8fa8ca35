//! Explicit Congestion Notification (RFC 3168 §6.1).
//!
//! Negotiated in the handshake: our SYN carries ECE+CWR, a willing peer's SYN,ACK carries ECE
//! only (§6.1.1). Then new data goes out ECT(0) (the IPv4 layer sets the codepoint, never on
//! retransmissions or pure ACKs, §6.1.5). A receiver that sees CE sets ECE on every ACK until
//! a segment with CWR arrives (§6.1.3); a sender that sees ECE reduces its window as for a loss,
//! at most once per window of data, and sets CWR on its next new segment (§6.1.2).
//! Read next: `timers.rs`.

use super::Connection;
use crate::tcp::TcpStats;
use crate::tcp::segment::{ACK, Segment};
use crate::tcp::seq::SeqNum;
use crate::time::Instant;

/// RFC 3168 §6.1: the two TCP header flags.
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

impl Connection {
    /// §6.1.1: an ECN-setup SYN (ECE+CWR) or SYN,ACK (ECE without CWR) from the peer.
    pub(crate) fn ecn_take_syn(&mut self, syn: &Segment<'_>) {
        let setup = if syn.has(ACK) {
            syn.has(ECE) && !syn.has(CWR)
        } else {
            syn.has(ECE) && syn.has(CWR)
        };
        self.ecn_ok = self.cfg.ecn && setup;
    }

    /// The ECN flags of our SYN (ECE+CWR) or SYN,ACK (ECE, if the peer asked).
    pub(crate) fn ecn_syn_flags(&self, active: bool) -> u8 {
        match (active, self.cfg.ecn, self.ecn_ok) {
            (true, true, _) => ECE | CWR,
            (false, _, true) => ECE,
            _ => 0,
        }
    }

    /// A synchronized segment arrived (`ce`: its IP header carried CE).
    pub(crate) fn ecn_input(
        &mut self,
        now: Instant,
        seg: &Segment<'_>,
        data: bool,
        stats: &mut TcpStats,
    ) {
        let ce = std::mem::take(&mut self.rx_ce);
        if !self.ecn_ok {
            return;
        }
        // §6.1.3: CWR ends the echo; CE on a data segment (re)starts it, ACKed at once.
        if seg.has(CWR) {
            self.ece_out = false;
        }
        if ce && data {
            self.ece_out = true;
            self.ack_now = true;
            stats.ecn_ce_received += 1;
        }
        // §6.1.2: ECE reduces the window once per window of data, never during loss recovery.
        if seg.has(ECE)
            && seg.has(ACK)
            && self.snd_una != self.snd_max
            && self.ecn_recover.is_none_or(|r| self.snd_una.ge(r))
            && !self.cc.in_recovery()
            && !self.lr_in_recovery()
        {
            let flight = self.snd_max.since(self.snd_una);
            self.cc.on_congestion_signal(now, flight);
            self.ecn_recover = Some(self.snd_max);
            self.cwr_out = true;
            stats.ecn_reductions += 1;
        }
    }

    /// Flags for an outgoing non-SYN segment; `new_data` marks it ECT-capable.
    pub(crate) fn ecn_flags(&mut self, new_data: bool) -> u8 {
        if !self.ecn_ok {
            return 0;
        }
        let mut f = if self.ece_out { ECE } else { 0 };
        if new_data && self.cwr_out {
            self.cwr_out = false;
            f |= CWR;
        }
        self.tx_ect = new_data;
        f
    }

    /// The last segment written may be sent ECT(0) (§6.1.5: new data only).
    pub fn transmit_ect(&self) -> bool {
        self.tx_ect
    }

    /// The next arriving segment was CE-marked (set by the layer just before dispatch).
    pub(crate) fn note_ce(&mut self) {
        self.rx_ce = true;
    }

    pub(crate) fn clear_ce(&mut self) {
        self.rx_ce = false;
    }

    /// Where the current ECE reaction's window ends (tests).
    pub fn ecn_recover_point(&self) -> Option<SeqNum> {
        self.ecn_recover
    }

    pub fn ecn_negotiated(&self) -> bool {
        self.ecn_ok
    }
}
