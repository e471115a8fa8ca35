//! Per-connection switches for congestion control and loss recovery (issue 4): a lab flips one
//! mechanism on one connection and compares. Stack-wide defaults live in `TcpConfig`.
//! SACK and ECN are negotiated in the handshake, so they are per layer (`TcpConfig::sack`,
//! `TcpConfig::ecn`) or must be set before `connect`; pacing (`pacing.rs`) switches at any time.
//! Read next: `connection/recovery.rs`.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::config::Recovery;
use super::{Socket, TcpLayer};
use crate::socket::{SocketError, TcpHandle};
use crate::time::Instant;

impl TcpLayer {
    /// `handle_segment` for a datagram whose IP header carried ECN `ce` (RFC 3168 §6.1.3).
    pub fn handle_segment_ecn(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        segment: &[u8],
        ce: bool,
    ) {
        let mut marked = None;
        if ce && let (Some(sp), Some(dp)) = (segment.get(0..2), segment.get(2..4)) {
            let remote = SocketAddrV4::new(src, u16::from_be_bytes([sp[0], sp[1]]));
            let local = SocketAddrV4::new(dst, u16::from_be_bytes([dp[0], dp[1]]));
            if let Some(h) = self.tuples.get(&(local, remote))
                && let Some(Socket::Conn(c)) = self.sockets.get_mut(&h)
            {
                c.note_ce();
                marked = Some(h);
            }
        }
        self.handle_segment(now, src, dst, segment);
        // A segment dropped before the connection saw it must not mark the next one.
        if let Some(h) = marked
            && let Some(Socket::Conn(c)) = self.sockets.get_mut(&h)
        {
            c.clear_ce();
        }
    }

    /// The segment `poll_transmit` returned last may be sent ECT(0) (RFC 3168 §6.1.5).
    pub fn last_transmit_ect(&self) -> bool {
        self.last_ect
    }

    /// Payload bytes per segment if the segment `poll_transmit` returned last is a
    /// super-segment for the link to split (`TcpConfig::offload`; its checksum is partial).
    pub fn last_transmit_gso(&self) -> Option<u16> {
        (self.last_gso != 0).then_some(self.last_gso)
    }

    /// Replace the congestion controller ("cubic", "newreno", "reno", "none"); the new one
    /// starts from its initial window.
    pub fn set_congestion_control(&mut self, h: TcpHandle, name: &str) -> Result<(), SocketError> {
        if !super::congestion::NAMES.contains(&name) {
            return Err(SocketError::InvalidInput);
        }
        self.conn_mut(h)?.set_cc(name);
        Ok(())
    }

    /// RACK-TLP (RFC 8985) or DupThresh (RFC 6675) loss detection, PRR (RFC 6937) and the
    /// Eifel undo (RFC 3522) for one connection.
    pub fn set_loss_recovery(
        &mut self,
        h: TcpHandle,
        recovery: Recovery,
        prr: bool,
        undo: bool,
    ) -> Result<(), SocketError> {
        self.conn_mut(h)?.set_recovery(recovery, prr, undo);
        Ok(())
    }

    /// Pacing (`pacing.rs`) on or off for one connection; off releases anything held back.
    pub fn set_pacing(&mut self, now: Instant, h: TcpHandle, on: bool) -> Result<(), SocketError> {
        self.with_conn(now, h, |c| c.set_pacing(on))
    }
}
