//! Per-connection switches for congestion control and loss recovery (issue 4): a lab flips one
//! mechanism on one connection and compares. Stack-wide defaults live in `TcpConfig`.
//! SACK and ECN are negotiated in the handshake, so they are per layer (`TcpConfig::sack`,
//! `TcpConfig::ecn`) or must be set before `connect`. Read next: `connection/recovery.rs`.

use super::TcpLayer;
use super::config::Recovery;
use crate::socket::{SocketError, TcpHandle};

impl TcpLayer {
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
}
