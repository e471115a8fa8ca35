//! The application side of the layer: the user calls of RFC 9293 §3.10.1-§3.10.6 (OPEN,
//! SEND, RECEIVE, CLOSE, ABORT, STATUS) with the semantics of `std::net` sockets: WouldBlock
//! instead of blocking, Ok(0) at end of stream, BrokenPipe after shutdown(Write), and the
//! connection's error after a reset or timeout. Read next: `connection/mod.rs`.

use std::net::SocketAddrV4;

use super::connection::Connection;
use super::listener::Listener;
use super::state::State;
use super::{Shutdown, Socket, TcpInfo, TcpLayer, TcpStats};
use crate::socket::{SocketError, TcpHandle};
use crate::time::Instant;

/// The application side (RFC 9293 §3.10.1-§3.10.6 user calls).
impl TcpLayer {
    pub fn listen(&mut self, local: SocketAddrV4) -> Result<TcpHandle, SocketError> {
        if local.port() == 0 {
            return Err(SocketError::InvalidInput);
        }
        if self.listeners.contains_key(&local) {
            return Err(SocketError::AddrInUse);
        }
        let h = self.insert(Socket::Listener(Listener::new(local, self.cfg.backlog)));
        self.listeners.insert(local, h);
        Ok(TcpHandle(h))
    }

    /// A connection that completed its handshake on `listener`, if any.
    pub fn accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, SocketError> {
        let h = match self.sockets.get_mut(&listener.0) {
            Some(Socket::Listener(l)) => {
                l.accept_queue.pop_front().ok_or(SocketError::WouldBlock)?
            }
            Some(Socket::Conn(_)) => return Err(SocketError::InvalidInput),
            None => return Err(SocketError::InvalidHandle),
        };
        self.resend_blocked_syn_ack(listener.0);
        Ok(h)
    }

    /// Active open. `local` port 0 picks an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, SocketError> {
        if remote.port() == 0 || remote.ip().is_unspecified() || local.ip().is_unspecified() {
            return Err(SocketError::AddrNotAvailable);
        }
        if self.at_connection_limit() {
            self.stats.connection_limit += 1;
            return Err(SocketError::NoBufferSpace);
        }
        let (port, recycle) = match local.port() {
            0 => self
                .ephemeral_port(now, *local.ip(), remote)
                .ok_or(SocketError::AddrInUse)?,
            p => (p, None),
        };
        let local = SocketAddrV4::new(*local.ip(), port);
        // Free, or our TIME-WAIT's to recycle (`ports.rs`).
        let old_nxt = self.claim_tuple(now, local, remote, recycle)?;
        let mut iss = self.isn.isn(now, local, remote);
        if let Some(old) = old_nxt {
            iss = super::ports::iss_after(iss, old);
        }
        let ts = self.isn.ts_offset(local, remote);
        let c = Connection::new_active(&self.cfg, local, remote, iss, ts, self.our_mss);
        let h = self.insert(Socket::Conn(Box::new(c)));
        self.tuples.insert((local, remote), h);
        self.n_conns += 1;
        self.stats.connections_opened += 1;
        self.settle(h, now);
        self.mark_dirty(h);
        Ok(TcpHandle(h))
    }

    /// Queue bytes to send. Returns how many were taken (0 < n ≤ data.len()), or WouldBlock when
    /// the send buffer is full.
    pub fn send(&mut self, now: Instant, h: TcpHandle, data: &[u8]) -> Result<usize, SocketError> {
        self.with_conn(now, h, |c| c.send(data))?
    }

    /// Read received bytes. Ok(0) = the peer closed (FIN) and all data was read; WouldBlock = none yet.
    pub fn recv(
        &mut self,
        now: Instant,
        h: TcpHandle,
        buf: &mut [u8],
    ) -> Result<usize, SocketError> {
        self.with_conn(now, h, |c| c.recv(buf))?
    }

    pub fn shutdown(
        &mut self,
        now: Instant,
        h: TcpHandle,
        how: Shutdown,
    ) -> Result<(), SocketError> {
        self.with_conn(now, h, |c| {
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                c.shutdown_read();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                c.shutdown_write();
            }
        })
    }

    /// Graceful close; the handle is released and the layer finishes the close in the background.
    pub fn close(&mut self, now: Instant, h: TcpHandle) {
        match self.sockets.get_mut(&h.0) {
            Some(Socket::Listener(l)) => {
                let local = l.local;
                let pending: Vec<TcpHandle> = l.accept_queue.drain(..).collect();
                self.sockets.remove(&h.0);
                self.listeners.remove(&local);
                self.blocked.remove(&h.0);
                for p in pending {
                    if let Some(Socket::Conn(c)) = self.sockets.get_mut(&p.0) {
                        c.orphan = true;
                        c.abort("listener closed");
                    }
                    self.settle(p.0, now);
                }
            }
            Some(Socket::Conn(c)) if !c.orphan => {
                c.close(now);
                self.event_set.remove(&h.0);
                self.settle(h.0, now);
                self.mark_dirty(h.0);
            }
            _ => {}
        }
    }

    /// Send RST and release the handle.
    pub fn abort(&mut self, now: Instant, h: TcpHandle) {
        match self.sockets.get(&h.0) {
            Some(Socket::Listener(_)) => self.close(now, h),
            Some(Socket::Conn(c)) if !c.orphan => {
                if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h.0) {
                    c.orphan = true;
                    c.abort("abort");
                }
                self.settle(h.0, now);
                self.mark_dirty(h.0);
            }
            _ => {}
        }
    }

    /// The host is going away (e.g. `tunstack up` stopping): every connection is aborted as the
    /// ABORT call of RFC 9293 §3.10.5 does — a RST to each synchronized peer so it does not wait
    /// on a connection that no longer exists — and every listener is closed.
    pub fn abort_all(&mut self, now: Instant) {
        let mut handles: Vec<u32> = self.sockets.keys().copied().collect();
        handles.sort_unstable();
        for h in handles {
            match self.sockets.get_mut(&h) {
                Some(Socket::Conn(c)) => {
                    c.orphan = true;
                    c.abort("host shutting down");
                    self.settle(h, now);
                    self.mark_dirty(h);
                }
                Some(Socket::Listener(_)) => self.close(now, TcpHandle(h)),
                None => {}
            }
        }
    }

    /// Set the user timeout of one connection (RFC 5482): unacknowledged data older than this
    /// aborts the connection with TimedOut. `None` turns it off.
    pub fn set_user_timeout(
        &mut self,
        now: Instant,
        h: TcpHandle,
        timeout: Option<crate::time::Duration>,
    ) -> Result<(), SocketError> {
        self.with_conn(now, h, |c| c.set_user_timeout(timeout))
    }

    /// Turn keep-alive on (`Some(idle time)`) or off for one connection (RFC 1122 §4.2.3.6).
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        h: TcpHandle,
        idle: Option<crate::time::Duration>,
    ) -> Result<(), SocketError> {
        self.with_conn(now, h, |c| c.set_keepalive(now, idle))
    }

    pub fn set_nodelay(&mut self, h: TcpHandle, nodelay: bool) -> Result<(), SocketError> {
        self.conn_mut(h)?.set_nodelay(nodelay);
        self.mark_dirty(h.0);
        Ok(())
    }

    /// Ok(()) once established; WouldBlock while the handshake is in progress; the error that
    /// ended the connection otherwise (ConnectionRefused, TimedOut, ConnectionReset, ...).
    pub fn connect_status(&self, h: TcpHandle) -> Result<(), SocketError> {
        let c = self.conn(h)?;
        if let Some(e) = c.error {
            return Err(e);
        }
        match c.state {
            State::SynSent | State::SynReceived => Err(SocketError::WouldBlock),
            _ => Ok(()),
        }
    }

    /// Bytes that `send` would accept now.
    pub fn send_capacity(&self, h: TcpHandle) -> Result<usize, SocketError> {
        Ok(self.conn(h)?.send_capacity())
    }

    /// The pending error of a connection, cleared by reading it (`take_error`).
    pub fn take_error(&mut self, h: TcpHandle) -> Option<SocketError> {
        self.conn_mut(h).ok()?.pending_error.take()
    }

    pub fn local_addr(&self, h: TcpHandle) -> Result<SocketAddrV4, SocketError> {
        match self.sockets.get(&h.0) {
            Some(Socket::Listener(l)) => Ok(l.local),
            _ => Ok(self.conn(h)?.local),
        }
    }

    pub fn peer_addr(&self, h: TcpHandle) -> Result<SocketAddrV4, SocketError> {
        Ok(self.conn(h)?.remote)
    }

    pub fn info(&self, h: TcpHandle) -> Option<TcpInfo> {
        match self.sockets.get(&h.0)? {
            Socket::Conn(c) => Some(c.info()),
            Socket::Listener(l) => Some(TcpInfo {
                local: Some(l.local),
                state: State::Listen.name(),
                ..Default::default()
            }),
        }
    }

    /// The connection behind a handle (tests and tools inspect the TCB).
    pub fn connection(&self, h: TcpHandle) -> Option<&Connection> {
        match self.sockets.get(&h.0)? {
            Socket::Conn(c) => Some(c),
            Socket::Listener(_) => None,
        }
    }

    /// Every live connection (for `--stats`).
    pub fn connections(&self) -> Vec<TcpInfo> {
        let mut v: Vec<(u32, TcpInfo)> = self
            .sockets
            .iter()
            .filter_map(|(h, s)| match s {
                Socket::Conn(c) => Some((*h, c.info())),
                Socket::Listener(_) => None,
            })
            .collect();
        v.sort_by_key(|(h, _)| *h);
        v.into_iter().map(|(_, i)| i).collect()
    }

    /// Number of connections in the table (all states, including orphaned ones).
    pub fn connection_count(&self) -> usize {
        self.n_conns
    }

    pub fn stats(&self) -> &TcpStats {
        &self.stats
    }
}
