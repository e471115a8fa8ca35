//! Local ports for active opens: ephemeral port choice (RFC 6056 §3.3.3, Algorithm 3, in the
//! dynamic range of RFC 6335 §6) and the reuse of a 4-tuple that our own TIME-WAIT holds.
//!
//! Algorithm 3: port = min + (F(local IP, remote IP, remote port, secret) + next_ephemeral)
//! mod range, next_ephemeral incremented per probe. Towards one destination the ports run in
//! sequence from a secret offset, so the next candidate is the one used longest ago: the search
//! does not walk through ports that TIME-WAIT still holds, except when they all are.
//!
//! TIME-WAIT reuse for a new active open (as Linux's `tcp_twsk_unique`, RFC 6191's reasoning
//! applied to our own side): allowed when the old connection used timestamps (RFC 7323 §5 PAWS
//! then rejects the old incarnation's duplicates: the peer's clock has ticked since) and it has
//! been in TIME-WAIT for at least `TW_REUSE_AGE` (one tick of the slowest timestamp clock RFC
//! 7323 §5.4 allows); the new ISS starts beyond the old SND.NXT plus a maximal unscaled window.
//! Read next: `mod.rs`.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::state::State;
use super::timer::Timer;
use super::{Socket, TcpLayer};
use crate::socket::SocketError;
use crate::tcp::seq::SeqNum;
use crate::time::{Duration, Instant};

/// RFC 6335 §6: the dynamic port range used for ephemeral ports.
pub(crate) const EPHEMERAL: (u16, u16) = (49152, 65535);
pub(crate) const EPHEMERAL_SPAN: u64 = (EPHEMERAL.1 - EPHEMERAL.0) as u64 + 1;
/// A TIME-WAIT this old may give its 4-tuple to a new active open (RFC 7323 §5.4: a timestamp
/// clock ticks at least once per second).
pub(crate) const TW_REUSE_AGE: Duration = Duration::from_secs(1);

impl TcpLayer {
    /// An ephemeral port for `ip` → `remote`: (port, TIME-WAIT connection to recycle).
    pub(super) fn ephemeral_port(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        remote: SocketAddrV4,
    ) -> Option<(u16, Option<u32>)> {
        let mut d = [0u8; 11];
        d[0..4].copy_from_slice(&ip.octets());
        d[4..8].copy_from_slice(&remote.ip().octets());
        d[8..10].copy_from_slice(&remote.port().to_be_bytes());
        d[10] = 2; // domain: not the ISN (0) nor the timestamp offset (1)
        let offset = self.isn.keyed(&d) as u32;
        let span = EPHEMERAL_SPAN as u32;
        for _ in 0..span {
            let p = EPHEMERAL.0 + (offset.wrapping_add(self.next_ephemeral) % span) as u16;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(1);
            let local = SocketAddrV4::new(ip, p);
            if self.find_listener(local).is_some() {
                continue;
            }
            match self.tuples.get(&(local, remote)) {
                None => return Some((p, None)),
                Some(h) if self.time_wait_recyclable(now, h) => return Some((p, Some(h))),
                Some(_) => {}
            }
        }
        None
    }

    /// The 4-tuple is ours to open: free, or held by a TIME-WAIT we may recycle (which is then
    /// released). Returns the old connection's SND.NXT if one was recycled.
    pub(super) fn claim_tuple(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        recycle: Option<u32>,
    ) -> Result<Option<SeqNum>, SocketError> {
        let Some(h) = self.tuples.get(&(local, remote)) else {
            return Ok(None);
        };
        if recycle != Some(h) && !self.time_wait_recyclable(now, h) {
            return Err(SocketError::AddrInUse);
        }
        let Some(Socket::Conn(c)) = self.sockets.get(&h) else {
            return Err(SocketError::AddrInUse);
        };
        let old_nxt = c.snd_max;
        log::debug!("tcp {local} > {remote}: TIME-WAIT recycled for a new active open");
        self.stats.time_wait_recycled += 1;
        self.remove(h);
        Ok(Some(old_nxt))
    }

    /// Our TIME-WAIT `h` may give its 4-tuple to a new connection (see the file comment).
    fn time_wait_recyclable(&self, now: Instant, h: u32) -> bool {
        let Some(Socket::Conn(c)) = self.sockets.get(&h) else {
            return false;
        };
        if c.state != State::TimeWait || c.ts_recent().is_none() {
            return false;
        }
        // Entered TIME-WAIT at (its end − 2·MSL); a retransmitted FIN restarts it.
        let Some(end) = c.timer(Timer::TimeWait) else {
            return false;
        };
        let two_msl = self.cfg.msl.saturating_mul(2);
        now + two_msl >= end + TW_REUSE_AGE
    }
}

/// The ISS of a connection that recycles a TIME-WAIT whose SND.NXT was `old_nxt`: the RFC 6528
/// choice if it lies beyond old_nxt + 65537 (a maximal unscaled window and FIN), else that.
pub(super) fn iss_after(isn: SeqNum, old_nxt: SeqNum) -> SeqNum {
    let floor = old_nxt.wrapping_add(65535 + 2);
    if isn.gt(floor) { isn } else { floor }
}
