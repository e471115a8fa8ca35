//! The sans-IO endpoint interface: what a driver (the simulator, a test, the TUN runtime) needs
//! from a TCP/IP stack. Our `Stack` implements it, and so does `reference::SmolStack` (smoltcp),
//! so one harness can run either stack or both against each other (docs/reference.md).
//!
//! `Endpoint` is the driver contract of docs/architecture.md; `TcpEndpoint` adds the socket
//! calls the interop matrix and the differential tests use, with the semantics of the
//! `Stack::tcp_*` methods: `WouldBlock` instead of blocking, `Ok(0)` at end of stream, the
//! error that ended the connection afterwards.

use std::net::SocketAddrV4;

use crate::socket::{SocketError, TcpHandle};
use crate::stack::Stack;
use crate::tcp::Shutdown;
use crate::time::Instant;

/// The driver interface of a sans-IO stack.
pub trait Endpoint {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize>;
    fn poll_timeout(&self) -> Option<Instant>;
}

/// TCP socket calls on top of the driver interface (mirrors `Stack::tcp_*`).
pub trait TcpEndpoint: Endpoint {
    /// A short name for reports ("ours", "smoltcp").
    fn name(&self) -> &'static str;
    fn tcp_listen(&mut self, local: SocketAddrV4) -> Result<TcpHandle, SocketError>;
    fn tcp_accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, SocketError>;
    fn tcp_connect(&mut self, now: Instant, remote: SocketAddrV4)
    -> Result<TcpHandle, SocketError>;
    fn tcp_send(&mut self, now: Instant, h: TcpHandle, data: &[u8]) -> Result<usize, SocketError>;
    fn tcp_recv(
        &mut self,
        now: Instant,
        h: TcpHandle,
        buf: &mut [u8],
    ) -> Result<usize, SocketError>;
    fn tcp_shutdown(
        &mut self,
        now: Instant,
        h: TcpHandle,
        how: Shutdown,
    ) -> Result<(), SocketError>;
    /// Graceful close; the handle is released, the close finishes in the background.
    fn tcp_close(&mut self, now: Instant, h: TcpHandle);
    /// Send RST and release the handle.
    fn tcp_abort(&mut self, now: Instant, h: TcpHandle);
    /// RFC 9293 §3.3.2 name of a live handle's state ("ESTABLISHED"), `None` if released.
    fn tcp_state(&self, h: TcpHandle) -> Option<&'static str>;
    /// States of every connection still in the table, released ones included (not listeners).
    fn tcp_states(&self) -> Vec<&'static str>;
}

impl Endpoint for Stack {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        Stack::handle_packet(self, now, packet)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Stack::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        Stack::poll_transmit(self, now, buf)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Stack::poll_timeout(self)
    }
}

impl TcpEndpoint for Stack {
    fn name(&self) -> &'static str {
        "ours"
    }
    fn tcp_listen(&mut self, local: SocketAddrV4) -> Result<TcpHandle, SocketError> {
        Stack::tcp_listen(self, local)
    }
    fn tcp_accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, SocketError> {
        Stack::tcp_accept(self, listener)
    }
    fn tcp_connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, SocketError> {
        Stack::tcp_connect(self, now, remote)
    }
    fn tcp_send(&mut self, now: Instant, h: TcpHandle, data: &[u8]) -> Result<usize, SocketError> {
        Stack::tcp_send(self, now, h, data)
    }
    fn tcp_recv(
        &mut self,
        now: Instant,
        h: TcpHandle,
        buf: &mut [u8],
    ) -> Result<usize, SocketError> {
        Stack::tcp_recv(self, now, h, buf)
    }
    fn tcp_shutdown(
        &mut self,
        now: Instant,
        h: TcpHandle,
        how: Shutdown,
    ) -> Result<(), SocketError> {
        Stack::tcp_shutdown(self, now, h, how)
    }
    fn tcp_close(&mut self, now: Instant, h: TcpHandle) {
        Stack::tcp_close(self, now, h)
    }
    fn tcp_abort(&mut self, now: Instant, h: TcpHandle) {
        Stack::tcp_abort(self, now, h)
    }
    fn tcp_state(&self, h: TcpHandle) -> Option<&'static str> {
        self.tcp().local_addr(h).ok()?; // fails once the handle was released
        Stack::tcp_info(self, h).map(|i| i.state)
    }
    fn tcp_states(&self) -> Vec<&'static str> {
        self.tcp().connections().iter().map(|i| i.state).collect()
    }
}
