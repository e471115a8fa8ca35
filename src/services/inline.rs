//! echo (RFC 862), discard (RFC 863) and chargen (RFC 864) inside the driver thread: non-blocking
//! state machines stepped when their socket has an event (after each batch of input), so a
//! request never crosses threads (docs/benchmarks.md: the blocking `api` costs two hand-offs per
//! request). Sans-IO: it only calls `Stack`.
//!
//! Same behaviour and limits as the threaded versions: at most `MAX_CONNECTIONS` per service
//! (more wait in the accept queue); echo holds at most `ECHO_HOLD` bytes and stops reading while
//! they wait for send-buffer room (the peer's window closes); chargen writes only what the send
//! buffer takes and keeps going after the peer's FIN until an error; discard keeps reading.
//! Read next: `tests` at the bottom.

use std::net::SocketAddrV4;
use std::sync::Arc;

use super::inline_client::{CrrClient, CrrCounts};
use super::{MAX_CONNECTIONS, Service, chargen_line};
use crate::socket::{SocketError, SocketEvent, TcpHandle};
use crate::stack::Stack;
use crate::tcp::handle_map::LocalMap;
use crate::time::Instant;

/// Echo reads at most this much ahead of what the send buffer took (the threaded echo's 64 KiB
/// read buffer).
const ECHO_HOLD: usize = 64 * 1024;
/// Scratch read size.
const READ_CHUNK: usize = 64 * 1024;
/// RFC 864 pattern period: 95 lines of 74 bytes.
const CYCLE: usize = 95;

/// Does `svc` run inline (otherwise on threads over `api`)?
pub fn is_inline(svc: Service) -> bool {
    matches!(svc, Service::Echo | Service::Discard | Service::Chargen)
}

struct Conn {
    svc: Service,
    /// Echo: bytes read but not yet taken by the send buffer (≤ ECHO_HOLD).
    held: Vec<u8>,
    /// Chargen: offset into the pattern.
    off: usize,
    /// The peer sent FIN and we read it.
    eof: bool,
}

/// What a step decided.
enum Outcome {
    Open,
    /// Close gracefully (FIN after what is queued); after an error this releases the handle.
    Close,
}

/// The inline services of one stack.
pub struct Inline {
    listeners: Vec<(TcpHandle, Service)>,
    conns: LocalMap<TcpHandle, Conn>,
    /// Open connections per service (index = position in `Service::ALL`).
    active: [usize; Service::ALL.len()],
    scratch: Vec<u8>,
    /// Whole RFC 864 cycles, about 63 KiB (as the threaded chargen's block).
    chargen: Vec<u8>,
    cycle: usize,
    /// Connection-rate clients (`inline_client.rs`).
    clients: Vec<CrrClient>,
}

impl Default for Inline {
    fn default() -> Self {
        let cycle_block: Vec<u8> = (0..CYCLE).flat_map(chargen_line).collect();
        let cycle = cycle_block.len();
        Inline {
            listeners: Vec::new(),
            conns: LocalMap::default(),
            active: [0; Service::ALL.len()],
            scratch: Vec::new(),
            chargen: cycle_block.repeat(9),
            cycle,
            clients: Vec::new(),
        }
    }
}

fn slot(svc: Service) -> usize {
    Service::ALL.iter().position(|&s| s == svc).unwrap_or(0)
}

impl Inline {
    /// Listen on `local` for `svc` (one of `is_inline`).
    pub fn listen(
        &mut self,
        stack: &mut Stack,
        local: SocketAddrV4,
        svc: Service,
    ) -> Result<(), SocketError> {
        if !is_inline(svc) {
            return Err(SocketError::InvalidInput);
        }
        let h = stack.tcp_listen(local)?;
        self.listeners.push((h, svc));
        Ok(())
    }

    /// Open connections (all services).
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Serve `ev` if it is one of ours (a listener or a connection); false = not ours.
    pub fn on_event(&mut self, stack: &mut Stack, now: Instant, ev: SocketEvent) -> bool {
        let SocketEvent::Tcp(h) = ev else {
            return false;
        };
        if let Some(&(l, svc)) = self.listeners.iter().find(|(l, _)| *l == h) {
            self.accept_from(stack, now, l, svc);
            return true;
        }
        if self.conns.contains_key(&h) {
            self.step(stack, now, h);
            return true;
        }
        self.clients.iter_mut().any(|c| c.on_event(stack, now, h))
    }

    /// Start a connection-rate client (`inline_client.rs`): `parallel` connections at a time
    /// to `remote` until `until`.
    pub fn start_crr(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        remote: SocketAddrV4,
        parallel: usize,
        until: Instant,
    ) -> Arc<CrrCounts> {
        let (c, counts) = CrrClient::start(stack, now, remote, parallel, until);
        self.clients.push(c);
        counts
    }

    /// Accept while the service is under its cap; serve each new connection at once (its data
    /// may have arrived with the handshake's last ACK).
    fn accept_from(&mut self, stack: &mut Stack, now: Instant, l: TcpHandle, svc: Service) {
        while self.active[slot(svc)] < MAX_CONNECTIONS {
            let Ok(h) = stack.tcp_accept(l) else {
                return;
            };
            log::debug!("{svc}: inline connection {h:?}");
            self.active[slot(svc)] += 1;
            self.conns.insert(
                h,
                Conn {
                    svc,
                    held: Vec::new(),
                    off: 0,
                    eof: false,
                },
            );
            self.step(stack, now, h);
        }
    }

    fn step(&mut self, stack: &mut Stack, now: Instant, h: TcpHandle) {
        if self.scratch.is_empty() {
            self.scratch = vec![0; READ_CHUNK];
        }
        let Some(c) = self.conns.get_mut(&h) else {
            return;
        };
        let r = match c.svc {
            Service::Echo => echo(c, stack, now, h, &mut self.scratch),
            Service::Chargen => chargen(c, stack, now, h, &mut self.scratch, &self.chargen),
            _ => discard(c, stack, now, h, &mut self.scratch),
        };
        let svc = c.svc;
        if let Service::Chargen = svc {
            c.off %= self.cycle;
        }
        let outcome = r.unwrap_or_else(|e| {
            log::debug!("{svc}: {h:?}: {e}");
            Outcome::Close
        });
        if let Outcome::Close = outcome {
            self.conns.remove(&h);
            stack.tcp_close(now, h);
            self.active[slot(svc)] = self.active[slot(svc)].saturating_sub(1);
            // A slot is free: a connection may be waiting in the accept queue.
            if let Some(&(l, _)) = self.listeners.iter().find(|(_, s)| *s == svc) {
                self.accept_from(stack, now, l, svc);
            }
        }
    }
}

/// Send what the send buffer takes from `data` (0 when it is full).
fn send(stack: &mut Stack, now: Instant, h: TcpHandle, data: &[u8]) -> Result<usize, SocketError> {
    if data.is_empty() {
        return Ok(0);
    }
    match stack.tcp_send(now, h, data) {
        Err(SocketError::WouldBlock) => Ok(0),
        r => r,
    }
}

/// Read into `buf`: Some(n > 0), Some(0) at the peer's FIN, None when nothing is there.
fn recv(
    stack: &mut Stack,
    now: Instant,
    h: TcpHandle,
    buf: &mut [u8],
) -> Result<Option<usize>, SocketError> {
    match stack.tcp_recv(now, h, buf) {
        Ok(n) => Ok(Some(n)),
        Err(SocketError::WouldBlock) => Ok(None),
        Err(e) => Err(e),
    }
}

/// RFC 862: what comes in goes back; close once the peer closed and all of it went back.
fn echo(
    c: &mut Conn,
    stack: &mut Stack,
    now: Instant,
    h: TcpHandle,
    scratch: &mut [u8],
) -> Result<Outcome, SocketError> {
    loop {
        if !c.held.is_empty() {
            let n = send(stack, now, h, &c.held)?;
            c.held.drain(..n);
        }
        if c.eof {
            return Ok(if c.held.is_empty() {
                Outcome::Close
            } else {
                Outcome::Open
            });
        }
        let room = ECHO_HOLD - c.held.len().min(ECHO_HOLD);
        let Some(buf) = scratch.get_mut(..room.min(READ_CHUNK)) else {
            return Ok(Outcome::Open);
        };
        if buf.is_empty() {
            return Ok(Outcome::Open); // wait for send-buffer room (an ACK event)
        }
        match recv(stack, now, h, buf)? {
            None => return Ok(Outcome::Open),
            Some(0) => c.eof = true,
            Some(n) => {
                let data = buf.get(..n).unwrap_or_default();
                let sent = if c.held.is_empty() {
                    send(stack, now, h, data)?
                } else {
                    0
                };
                c.held
                    .extend_from_slice(data.get(sent..).unwrap_or_default());
            }
        }
    }
}

/// RFC 863: read and drop everything; close when the peer does.
fn discard(
    _c: &mut Conn,
    stack: &mut Stack,
    now: Instant,
    h: TcpHandle,
    scratch: &mut [u8],
) -> Result<Outcome, SocketError> {
    loop {
        match recv(stack, now, h, scratch)? {
            None => return Ok(Outcome::Open),
            Some(0) => return Ok(Outcome::Close),
            Some(_) => {}
        }
    }
}

/// RFC 864: send the pattern as fast as the peer takes it ("any data received is thrown
/// away"); the stream goes on until the connection fails, as the threaded chargen's.
fn chargen(
    c: &mut Conn,
    stack: &mut Stack,
    now: Instant,
    h: TcpHandle,
    scratch: &mut [u8],
    pattern: &[u8],
) -> Result<Outcome, SocketError> {
    while !c.eof {
        match recv(stack, now, h, scratch)? {
            None => break,
            Some(0) => c.eof = true,
            Some(_) => {}
        }
    }
    loop {
        let n = send(stack, now, h, pattern.get(c.off..).unwrap_or_default())?;
        if n == 0 {
            return Ok(Outcome::Open);
        }
        c.off += n;
        if c.off >= pattern.len() {
            c.off = 0;
        }
    }
}

#[cfg(test)]
#[path = "inline_tests.rs"]
mod tests;
