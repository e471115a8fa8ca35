//! The services of `tunstack up --stack smoltcp`: echo (RFC 862), discard (RFC 863), chargen
//! (RFC 864) and a minimal HTTP/1.1 `GET /bytes/N` (RFC 9112), as non-blocking state machines
//! over `TcpEndpoint`, stepped by the driver thread (no thread per connection, no blocking API).
//!
//! Two traps of smoltcp's own example loops are avoided: every step reads until `WouldBlock`
//! (not one contiguous piece of the ring buffer, which leaves the window shut until a
//! zero-window probe), and the driver flushes and recomputes its deadline right after a step,
//! so a FIN queued by `tcp_close` leaves at once instead of waiting for an unrelated packet.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::link::endpoint::TcpEndpoint;
use crate::services::{Service, chargen_line};
use crate::socket::{SocketError, TcpHandle};
use crate::time::Instant;

/// The services this driver has.
pub const SMOL_SERVICES: [Service; 4] = [
    Service::Echo,
    Service::Discard,
    Service::Chargen,
    Service::Http,
];
/// Accepted connections per service; beyond it new ones wait in the listener's pool.
pub const MAX_CONNECTIONS: usize = 512;
/// Bytes an echo connection holds before it stops reading (the peer's window then closes).
const ECHO_HOLD: usize = 256 * 1024;
/// Largest request head, and most bytes an HTTP connection buffers ahead (pipelining).
const HTTP_IN_MAX: usize = 32 * 1024;
/// Largest `/bytes/N` (as the threaded http service).
const MAX_BYTES: u64 = 10_000_000_000;
/// `/bytes/N` pattern period (a-z, newline every 64 bytes, restarting every 64 KiB: the same
/// bytes as the threaded http service).
const BYTES_BLOCK: usize = 64 * 1024;
/// Scratch read size.
const READ_CHUNK: usize = 64 * 1024;
/// Steps of all connections per `run` before yielding to the driver.
const MAX_ROUNDS: usize = 16;

/// Counters per service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceCounters {
    pub accepted: u64,
    pub closed: u64,
    /// Connections that ended with an error (reset by the peer, refused, ...).
    pub errors: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub http_requests: u64,
}

/// One line per connection for `--stats`.
#[derive(Clone, Debug)]
pub struct ConnSummary {
    pub id: u64,
    pub service: Service,
    pub state: &'static str,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl fmt::Display for ConnSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}#{} {} in={} out={}",
            self.service, self.id, self.state, self.bytes_in, self.bytes_out
        )
    }
}

enum Kind {
    Echo {
        held: Vec<u8>,
    },
    Discard,
    /// Offset into `Patterns::chargen`.
    Chargen {
        off: usize,
    },
    Http(http::Http),
}

struct Conn {
    id: u64,
    h: TcpHandle,
    svc: Service,
    kind: Kind,
    /// The peer sent FIN.
    eof: bool,
    bytes_in: u64,
    bytes_out: u64,
    /// HTTP requests answered.
    requests: u64,
}

enum Outcome {
    Open,
    /// Close gracefully (FIN after what is queued).
    Close,
    Failed(SocketError),
}

/// Precomputed output patterns.
struct Patterns {
    /// Whole RFC 864 cycles (95 lines of 74 bytes each), repeated to about 64 KiB.
    chargen: Vec<u8>,
    cycle: usize,
    bytes: Vec<u8>,
}

impl Patterns {
    fn new() -> Self {
        let cycle_block: Vec<u8> = (0..95).flat_map(chargen_line).collect();
        let cycle = cycle_block.len();
        let chargen = cycle_block.repeat((READ_CHUNK / cycle).max(1));
        let bytes = (0..BYTES_BLOCK)
            .map(|i| {
                if i % 64 == 63 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        Patterns {
            chargen,
            cycle,
            bytes,
        }
    }
}

/// The listeners and connections of the services, stepped by the driver.
pub struct SmolServices {
    listeners: Vec<(Service, TcpHandle)>,
    conns: Vec<Conn>,
    counters: Vec<(Service, ServiceCounters)>,
    patterns: Patterns,
    scratch: Vec<u8>,
    next_id: u64,
}

impl SmolServices {
    /// Listen on `addr` for each service. Fails for a service this driver does not have.
    pub fn start<E: TcpEndpoint>(
        e: &mut E,
        addr: Ipv4Addr,
        services: &[Service],
    ) -> Result<SmolServices, String> {
        let mut listeners = Vec::new();
        let mut counters = Vec::new();
        for &svc in services {
            if !SMOL_SERVICES.contains(&svc) {
                return Err(format!(
                    "service {svc} is not available with --stack smoltcp"
                ));
            }
            let h = e
                .tcp_listen(SocketAddrV4::new(addr, svc.port()))
                .map_err(|err| format!("cannot listen for {svc} on port {}: {err}", svc.port()))?;
            listeners.push((svc, h));
            counters.push((svc, ServiceCounters::default()));
        }
        Ok(SmolServices {
            listeners,
            conns: Vec::new(),
            counters,
            patterns: Patterns::new(),
            scratch: vec![0; READ_CHUNK],
            next_id: 1,
        })
    }

    pub fn counters(&self) -> &[(Service, ServiceCounters)] {
        &self.counters
    }

    /// Update the counters of `svc` (every connection's service has an entry).
    fn count(&mut self, svc: Service, f: impl FnOnce(&mut ServiceCounters)) {
        if let Some((_, k)) = self.counters.iter_mut().find(|(s, _)| *s == svc) {
            f(k);
        }
    }

    /// Open connections, for `--stats`.
    pub fn connections<E: TcpEndpoint>(&self, e: &E) -> Vec<ConnSummary> {
        self.conns
            .iter()
            .map(|c| ConnSummary {
                id: c.id,
                service: c.svc,
                state: e.tcp_state(c.h).unwrap_or("CLOSED"),
                bytes_in: c.bytes_in,
                bytes_out: c.bytes_out,
            })
            .collect()
    }

    /// Reset every open connection (at shutdown: kernel peers learn at once instead of
    /// waiting on a stack that is gone). Returns how many there were.
    pub fn abort_all<E: TcpEndpoint>(&mut self, e: &mut E, now: Instant) -> usize {
        let n = self.conns.len();
        for c in std::mem::take(&mut self.conns) {
            e.tcp_abort(now, c.h);
        }
        n
    }

    /// Accept, read, write and close until nothing moves (or `MAX_ROUNDS`). True if anything
    /// happened (the caller flushes the endpoint's packets either way).
    pub fn run<E: TcpEndpoint>(&mut self, e: &mut E, now: Instant) -> bool {
        let mut any = false;
        for _ in 0..MAX_ROUNDS {
            let moved = self.accept_all(e) | self.step_all(e, now);
            any |= moved;
            if !moved {
                break;
            }
        }
        any
    }

    fn accept_all<E: TcpEndpoint>(&mut self, e: &mut E) -> bool {
        let mut any = false;
        for i in 0..self.listeners.len() {
            let (svc, l) = self.listeners[i];
            while self.conns.iter().filter(|c| c.svc == svc).count() < MAX_CONNECTIONS {
                let Ok(h) = e.tcp_accept(l) else { break };
                any = true;
                let kind = match svc {
                    Service::Echo => Kind::Echo { held: Vec::new() },
                    Service::Chargen => Kind::Chargen { off: 0 },
                    Service::Http => Kind::Http(http::Http::default()),
                    _ => Kind::Discard,
                };
                self.conns.push(Conn {
                    id: self.next_id,
                    h,
                    svc,
                    kind,
                    eof: false,
                    bytes_in: 0,
                    bytes_out: 0,
                    requests: 0,
                });
                self.next_id += 1;
                self.count(svc, |k| k.accepted += 1);
            }
        }
        any
    }

    fn step_all<E: TcpEndpoint>(&mut self, e: &mut E, now: Instant) -> bool {
        let mut any = false;
        let mut i = 0;
        while i < self.conns.len() {
            let c = &self.conns[i];
            let before = (c.bytes_in, c.bytes_out, c.requests);
            let outcome = step(
                &mut self.conns[i],
                e,
                now,
                &self.patterns,
                &mut self.scratch,
            );
            let c = &self.conns[i];
            any |= (c.bytes_in, c.bytes_out, c.requests) != before;
            let svc = c.svc;
            let delta = (
                c.bytes_in - before.0,
                c.bytes_out - before.1,
                c.requests - before.2,
            );
            self.count(svc, |k| {
                k.bytes_in += delta.0;
                k.bytes_out += delta.1;
                k.http_requests += delta.2;
            });
            match outcome {
                Outcome::Open => {
                    i += 1;
                    continue;
                }
                Outcome::Close => {
                    self.count(svc, |k| k.closed += 1);
                    log::debug!("smoltcp {svc}: connection closed");
                }
                Outcome::Failed(err) => {
                    self.count(svc, |k| k.errors += 1);
                    log::debug!("smoltcp {svc}: connection failed: {err}");
                }
            }
            let c = self.conns.swap_remove(i);
            // Graceful close; after an error the socket is already CLOSED and this releases it.
            e.tcp_close(now, c.h);
            any = true;
        }
        any
    }
}

/// Read everything available into `sink` (at most `room` bytes); sets `eof` at the peer's FIN.
fn read_all<E: TcpEndpoint>(
    c: &mut Conn,
    e: &mut E,
    now: Instant,
    scratch: &mut [u8],
    mut room: usize,
    mut sink: impl FnMut(&[u8]),
) -> Result<(), SocketError> {
    while !c.eof && room > 0 {
        let want = room.min(scratch.len());
        let Some(buf) = scratch.get_mut(..want) else {
            break;
        };
        match e.tcp_recv(now, c.h, buf) {
            Ok(0) => c.eof = true,
            Ok(n) => {
                c.bytes_in += n as u64;
                room -= n.min(room);
                sink(buf.get(..n).unwrap_or_default());
            }
            Err(SocketError::WouldBlock) => break,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Send from `data`; returns how much went (`WouldBlock` = 0).
fn send_some<E: TcpEndpoint>(
    c: &mut Conn,
    e: &mut E,
    now: Instant,
    data: &[u8],
) -> Result<usize, SocketError> {
    if data.is_empty() {
        return Ok(0);
    }
    match e.tcp_send(now, c.h, data) {
        Ok(n) => {
            c.bytes_out += n as u64;
            Ok(n)
        }
        Err(SocketError::WouldBlock) => Ok(0),
        Err(err) => Err(err),
    }
}

fn step<E: TcpEndpoint>(
    c: &mut Conn,
    e: &mut E,
    now: Instant,
    p: &Patterns,
    scratch: &mut [u8],
) -> Outcome {
    let r = match &mut c.kind {
        Kind::Discard => step_discard(c, e, now, scratch),
        Kind::Echo { .. } => step_echo(c, e, now, scratch),
        Kind::Chargen { .. } => step_chargen(c, e, now, p, scratch),
        Kind::Http(_) => http::step_http(c, e, now, p, scratch),
    };
    r.unwrap_or_else(Outcome::Failed)
}

/// RFC 863: read and drop everything; close when the peer does.
fn step_discard<E: TcpEndpoint>(
    c: &mut Conn,
    e: &mut E,
    now: Instant,
    scratch: &mut [u8],
) -> Result<Outcome, SocketError> {
    read_all(c, e, now, scratch, usize::MAX, |_| {})?;
    Ok(if c.eof { Outcome::Close } else { Outcome::Open })
}

/// RFC 862: send back what arrives; close once the peer closed and everything went back.
fn step_echo<E: TcpEndpoint>(
    c: &mut Conn,
    e: &mut E,
    now: Instant,
    scratch: &mut [u8],
) -> Result<Outcome, SocketError> {
    loop {
        let mut held = match &mut c.kind {
            Kind::Echo { held } => std::mem::take(held),
            _ => return Ok(Outcome::Open),
        };
        let sent = send_some(c, e, now, &held)?;
        held.drain(..sent);
        let room = ECHO_HOLD.saturating_sub(held.len());
        let before = held.len();
        let r = read_all(c, e, now, scratch, room, |b| held.extend_from_slice(b));
        let got = held.len() - before;
        let empty = held.is_empty();
        if let Kind::Echo { held: h } = &mut c.kind {
            *h = held;
        }
        r?;
        if c.eof && empty {
            return Ok(Outcome::Close);
        }
        // Stop when neither direction moved (the send buffer is full or nothing came in).
        if sent == 0 && got == 0 {
            return Ok(Outcome::Open);
        }
    }
}

/// RFC 864: send the pattern as fast as the peer takes it; what arrives is discarded.
fn step_chargen<E: TcpEndpoint>(
    c: &mut Conn,
    e: &mut E,
    now: Instant,
    p: &Patterns,
    scratch: &mut [u8],
) -> Result<Outcome, SocketError> {
    read_all(c, e, now, scratch, usize::MAX, |_| {})?;
    if c.eof {
        return Ok(Outcome::Close);
    }
    loop {
        let Kind::Chargen { off } = c.kind else {
            return Ok(Outcome::Open);
        };
        let n = send_some(c, e, now, p.chargen.get(off..).unwrap_or_default())?;
        if n == 0 {
            return Ok(Outcome::Open);
        }
        c.kind = Kind::Chargen {
            off: (off + n) % p.cycle,
        };
    }
}

#[path = "smol_http.rs"]
mod http;

#[cfg(test)]
#[path = "smol_services_tests.rs"]
mod tests;
