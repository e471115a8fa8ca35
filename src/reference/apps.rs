//! The applications of the interop matrix (`matrix.rs`): one small state machine per end,
//! and what each scenario makes them do at every step.

use super::matrix::{Scenario, Sizes, pattern};
use crate::link::endpoint::TcpEndpoint;
use crate::link::sim::Sim;
use crate::socket::{SocketError, TcpHandle};
use crate::tcp::Shutdown;
use crate::time::{Duration, Instant};

/// One end's application, a small state machine stepped at every event.
pub(super) struct App {
    pub(super) h: Option<TcpHandle>,
    /// Bytes to send, and how many went.
    pub(super) out: Vec<u8>,
    pub(super) sent: usize,
    /// Bytes received; `expect` is what must arrive before EOF.
    pub(super) got: Vec<u8>,
    pub(super) eof: bool,
    pub(super) err: Option<SocketError>,
    pub(super) shut: bool,
    pub(super) closed: bool,
    /// Read at most this much per `pace` (the slow reader).
    pub(super) pace: Option<(usize, Duration)>,
    pub(super) next_read: Instant,
}

impl App {
    pub(super) fn new(out: Vec<u8>) -> Self {
        App {
            h: None,
            out,
            sent: 0,
            got: Vec::new(),
            eof: false,
            err: None,
            shut: false,
            closed: false,
            pace: None,
            next_read: Instant::ZERO,
        }
    }

    /// Everything that changes when the application makes progress.
    pub(super) fn progress(&self) -> (usize, usize, usize, bool, bool, bool, bool) {
        (
            self.sent,
            self.out.len(),
            self.got.len(),
            self.eof,
            self.shut,
            self.closed,
            self.err.is_some(),
        )
    }

    pub(super) fn push<E: TcpEndpoint>(&mut self, now: Instant, e: &mut E) -> Result<(), String> {
        let Some(h) = self.h else { return Ok(()) };
        while self.sent < self.out.len() {
            match e.tcp_send(now, h, &self.out[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(SocketError::WouldBlock) => break,
                Err(err) => return Err(format!("{} send: {err}", e.name())),
            }
        }
        Ok(())
    }

    pub(super) fn pull<E: TcpEndpoint>(&mut self, now: Instant, e: &mut E) {
        let Some(h) = self.h else { return };
        let mut budget = usize::MAX;
        if let Some((chunk, every)) = self.pace {
            if now < self.next_read {
                return;
            }
            budget = chunk;
            self.next_read = now + every;
        }
        let mut buf = [0u8; 16384];
        while !self.eof && self.err.is_none() && budget > 0 {
            let n = buf.len().min(budget);
            match e.tcp_recv(now, h, &mut buf[..n]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.got.extend_from_slice(&buf[..n]);
                    budget -= n;
                }
                Err(SocketError::WouldBlock) => break,
                Err(err) => self.err = Some(err),
            }
        }
    }

    pub(super) fn shutdown<E: TcpEndpoint>(
        &mut self,
        now: Instant,
        e: &mut E,
    ) -> Result<(), String> {
        if let (Some(h), false) = (self.h, self.shut) {
            e.tcp_shutdown(now, h, Shutdown::Write)
                .map_err(|err| format!("{} shutdown: {err}", e.name()))?;
            self.shut = true;
        }
        Ok(())
    }

    pub(super) fn close<E: TcpEndpoint>(&mut self, now: Instant, e: &mut E) {
        if let (Some(h), false) = (self.h, self.closed) {
            e.tcp_close(now, h);
            self.closed = true;
        }
    }
}

/// One step of both applications.
#[allow(clippy::too_many_arguments)]
pub(super) fn step<C: TcpEndpoint, S: TcpEndpoint>(
    scenario: Scenario,
    sizes: Sizes,
    seed: u64,
    now: Instant,
    sim: &mut Sim<C, S>,
    c: &mut App,
    s: &mut App,
    round: &mut usize,
    aborted: &mut bool,
) -> Result<(), String> {
    match scenario {
        Scenario::RequestResponse => {
            // Client: request, wait for the whole response, next round; then close.
            if *round < sizes.rounds {
                if c.out.is_empty() || (c.sent == c.out.len() && c.got.len() == sizes.response) {
                    if !c.out.is_empty() {
                        if c.got != pattern(sizes.response, seed ^ *round as u64) {
                            return Err(format!("round {round}: wrong response"));
                        }
                        *round += 1;
                        c.got.clear();
                    }
                    if *round < sizes.rounds {
                        c.out = pattern(sizes.request, seed.wrapping_add(*round as u64));
                        c.sent = 0;
                    }
                }
            } else {
                c.shutdown(now, sim.a_mut())?;
            }
            c.push(now, sim.a_mut())?;
            c.pull(now, sim.a_mut());
            // Server: a whole request in, a response out.
            s.pull(now, sim.b_mut());
            if s.got.len() >= sizes.request && s.sent == s.out.len() {
                let req: Vec<u8> = s.got.drain(..sizes.request).collect();
                let n = s.out.len() / sizes.response.max(1);
                if req != pattern(sizes.request, seed.wrapping_add(n as u64)) {
                    return Err(format!("request {n}: wrong bytes"));
                }
                s.out.extend(pattern(sizes.response, seed ^ n as u64));
            }
            s.push(now, sim.b_mut())?;
            if s.eof && s.sent == s.out.len() {
                s.shutdown(now, sim.b_mut())?;
                s.close(now, sim.b_mut());
            }
            if c.eof && c.shut {
                c.close(now, sim.a_mut());
            }
        }
        Scenario::HalfClose => {
            // Client: request, shutdown(Write), read the response that follows the half-close.
            c.push(now, sim.a_mut())?;
            if c.sent == c.out.len() {
                c.shutdown(now, sim.a_mut())?;
            }
            c.pull(now, sim.a_mut());
            if c.eof {
                c.close(now, sim.a_mut());
            }
            // Server: answers only after the client's FIN.
            s.pull(now, sim.b_mut());
            if s.eof {
                s.push(now, sim.b_mut())?;
                if s.sent == s.out.len() {
                    s.close(now, sim.b_mut());
                }
            }
        }
        Scenario::Abort => {
            c.push(now, sim.a_mut())?;
            s.pull(now, sim.b_mut());
            if !*aborted && s.got.len() == c.out.len() {
                if let Some(h) = c.h {
                    sim.a_mut().tcp_abort(now, h);
                }
                *aborted = true;
                c.closed = true;
            }
            if let Some(e) = s.err {
                if e != SocketError::ConnectionReset {
                    return Err(format!("server saw {e}, expected a reset"));
                }
                s.close(now, sim.b_mut());
            } else if s.eof {
                return Err("server saw a clean EOF after the client's abort".into());
            }
        }
        _ => {
            // Both: send everything, shutdown(Write), read to EOF, close.
            for (app, client) in [(&mut *c, true), (&mut *s, false)] {
                if client {
                    app.push(now, sim.a_mut())?;
                    if app.sent == app.out.len() {
                        app.shutdown(now, sim.a_mut())?;
                    }
                    app.pull(now, sim.a_mut());
                    if app.eof && app.shut {
                        app.close(now, sim.a_mut());
                    }
                } else if app.h.is_some() {
                    app.push(now, sim.b_mut())?;
                    if app.sent == app.out.len() {
                        app.shutdown(now, sim.b_mut())?;
                    }
                    app.pull(now, sim.b_mut());
                    if app.eof && app.shut {
                        app.close(now, sim.b_mut());
                    }
                }
            }
        }
    }
    for (who, app) in [("client", &*c), ("server", &*s)] {
        if let Some(e) = app.err
            && scenario != Scenario::Abort
        {
            return Err(format!("{who} recv: {e}"));
        }
    }
    Ok(())
}
