//! The interop matrix (issue 5 §2): a client of one stack against a server of the other (or
//! the same) in the simulator, one scenario at a time, byte-exact and cleanly closed.
//!
//! `run` builds the two endpoints, joins them with `link::sim::Sim` over the scenario's link,
//! plays the scenario's applications on both ends and returns the virtual time at which both
//! applications were done, or a description of what went wrong. The client is A (198.18.0.1),
//! the server B (198.18.0.2:PORT).

use std::cell::Cell;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use super::apps::{App, step};
use super::{SmolConfig, SmolStack};
use crate::link::endpoint::TcpEndpoint;
use crate::link::impair::ImpairConfig;
use crate::link::sim::{Dir, Event, Sim};
use crate::socket::SocketError;
use crate::stack::{Stack, StackConfig};
use crate::tcp::TcpConfig;
use crate::time::{Duration, Instant};

pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const PORT: u16 = 5001;

/// Which implementation plays a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Ours,
    Smol,
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Impl::Ours => "ours",
            Impl::Smol => "smoltcp",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Handshake,
    Bulk,
    RequestResponse,
    HalfClose,
    Abort,
    SlowReader,
    Loss1,
    Loss5,
    Reorder,
    Duplicate,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::Handshake,
        Scenario::Bulk,
        Scenario::RequestResponse,
        Scenario::HalfClose,
        Scenario::Abort,
        Scenario::SlowReader,
        Scenario::Loss1,
        Scenario::Loss5,
        Scenario::Reorder,
        Scenario::Duplicate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Handshake => "handshake",
            Scenario::Bulk => "bulk both ways",
            Scenario::RequestResponse => "request/response",
            Scenario::HalfClose => "half-close",
            Scenario::Abort => "abort (RST)",
            Scenario::SlowReader => "slow reader",
            Scenario::Loss1 => "loss 1%",
            Scenario::Loss5 => "loss 5%",
            Scenario::Reorder => "reorder",
            Scenario::Duplicate => "duplicate",
        }
    }

    /// The link, each direction: 5 ms delay, 100 Mbit/s, plus the scenario's impairment.
    pub fn link(self) -> ImpairConfig {
        let base = ImpairConfig {
            delay: Duration::from_millis(5),
            rate_bps: Some(100_000_000),
            ..ImpairConfig::default()
        };
        match self {
            Scenario::Loss1 => ImpairConfig { loss: 0.01, ..base },
            Scenario::Loss5 => ImpairConfig { loss: 0.05, ..base },
            Scenario::Reorder => ImpairConfig {
                reorder: 0.05,
                jitter: Duration::from_millis(2),
                ..base
            },
            Scenario::Duplicate => ImpairConfig {
                duplicate: 0.05,
                ..base
            },
            _ => base,
        }
    }
}

/// Sizes (smaller in debug builds; CI runs the matrix in release).
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Bytes each way in the bulk and impaired scenarios.
    pub bulk: usize,
    pub rounds: usize,
    /// Request and response size of one round.
    pub request: usize,
    pub response: usize,
    /// The slow reader: bytes sent, its receive buffer, and how much it reads per 10 ms.
    pub slow_total: usize,
    pub slow_buffer: usize,
    pub slow_chunk: usize,
}

impl Sizes {
    pub fn full() -> Self {
        Sizes {
            bulk: 1 << 20,
            rounds: 1000,
            request: 100,
            response: 1000,
            slow_total: 256 * 1024,
            slow_buffer: 16 * 1024,
            slow_chunk: 4096,
        }
    }
    pub fn small() -> Self {
        Sizes {
            bulk: 48 * 1024,
            rounds: 40,
            slow_total: 32 * 1024,
            ..Self::full()
        }
    }
}

/// What one cell run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Virtual time until both applications were done.
    pub completion: Duration,
    /// Server segments advertising less than one MSS of window (the slow reader must cause
    /// some).
    pub small_windows: u64,
    pub packets: u64,
    /// The last `MATRIX_TRACE` packets (debugging aid; empty unless that variable is set).
    pub trace: String,
}

pub(super) fn pattern(n: usize, salt: u64) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).wrapping_add(salt) as u8 ^ (i >> 9) as u8)
        .collect()
}

/// Our stack for a matrix run: defaults, with buffers as large as the reference's and a short
/// MSL so TIME-WAIT ends inside the run.
pub fn ours(addr: Ipv4Addr, seed: u64, buffer: usize) -> Stack {
    Stack::new(StackConfig {
        addr,
        seed,
        tcp: TcpConfig {
            send_buffer: buffer,
            recv_buffer: buffer,
            msl: Duration::from_secs(1),
            ..TcpConfig::default()
        },
        ..StackConfig::default()
    })
}

/// The reference stack for a matrix run (docs/reference.md).
pub fn smol(addr: Ipv4Addr, peer: Ipv4Addr, seed: u64, buffer: usize) -> SmolStack {
    SmolStack::new(SmolConfig {
        addr,
        gateway: peer,
        seed,
        rx_buffer: buffer,
        tx_buffer: buffer,
        ..SmolConfig::default()
    })
}

/// Run one cell: `client` against `server` in `scenario` with `seed`.
pub fn run_cell(
    client: Impl,
    server: Impl,
    scenario: Scenario,
    seed: u64,
    sizes: Sizes,
) -> Result<Outcome, String> {
    let big = 1 << 20;
    let server_buf = if scenario == Scenario::SlowReader {
        sizes.slow_buffer
    } else {
        big
    };
    let cseed = seed.wrapping_mul(31).wrapping_add(1);
    let sseed = seed.wrapping_mul(37).wrapping_add(2);
    match (client, server) {
        (Impl::Ours, Impl::Ours) => run(
            ours(CLIENT_IP, cseed, big),
            ours(SERVER_IP, sseed, server_buf),
            scenario,
            seed,
            sizes,
        ),
        (Impl::Ours, Impl::Smol) => run(
            ours(CLIENT_IP, cseed, big),
            smol(SERVER_IP, CLIENT_IP, sseed, server_buf),
            scenario,
            seed,
            sizes,
        ),
        (Impl::Smol, Impl::Ours) => run(
            smol(CLIENT_IP, SERVER_IP, cseed, big),
            ours(SERVER_IP, sseed, server_buf),
            scenario,
            seed,
            sizes,
        ),
        (Impl::Smol, Impl::Smol) => run(
            smol(CLIENT_IP, SERVER_IP, cseed, big),
            smol(SERVER_IP, CLIENT_IP, sseed, server_buf),
            scenario,
            seed,
            sizes,
        ),
    }
}

fn clean(states: &[&'static str]) -> bool {
    states.iter().all(|s| *s == "CLOSED" || *s == "TIME-WAIT")
}

/// Drive `client` and `server` through `scenario`.
pub fn run<C: TcpEndpoint + 'static, S: TcpEndpoint + 'static>(
    client: C,
    server: S,
    scenario: Scenario,
    seed: u64,
    sizes: Sizes,
) -> Result<Outcome, String> {
    let link = scenario.link();
    let mut sim = Sim::new(client, server, link.clone(), link, seed);
    let zero_windows = Rc::new(Cell::new(0u64));
    let zw = zero_windows.clone();
    let tail = Rc::new(std::cell::RefCell::new(std::collections::VecDeque::new()));
    let tail2 = tail.clone();
    let keep = std::env::var("MATRIX_TRACE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    sim.set_observer(move |t, dir: Dir, ev, p| {
        // A server window below one MSS: closed as far as a sender avoiding silly windows
        // (RFC 9293 §3.8.6.2.1) is concerned. The server's windows are unscaled in the slow
        // reader scenario (16 KiB buffer).
        if ev == Event::Sent && dir == Dir::BtoA && tcp_window(p).is_some_and(|w| w < 1448) {
            zw.set(zw.get() + 1);
        }
        if keep > 0 {
            let mut q = tail2.borrow_mut();
            if q.len() == keep {
                q.pop_front();
            }
            q.push_back(format!(
                "{t:?} {dir:?} {ev:?} {}",
                crate::wire::pretty::summary(p)
            ));
        }
    });
    let trace = move || tail.borrow().iter().cloned().collect::<Vec<_>>().join("\n");
    let remote = SocketAddrV4::new(SERVER_IP, PORT);
    let listener = sim
        .b_mut()
        .tcp_listen(remote)
        .map_err(|e| format!("listen: {e}"))?;
    let now = sim.now();
    let ch = sim
        .a_mut()
        .tcp_connect(now, remote)
        .map_err(|e| format!("connect: {e}"))?;

    let (c_out, s_out) = match scenario {
        Scenario::Handshake => (Vec::new(), Vec::new()),
        Scenario::RequestResponse => (Vec::new(), Vec::new()),
        Scenario::HalfClose => (pattern(1000, seed), pattern(sizes.bulk / 4, seed + 1)),
        Scenario::Abort => (pattern(10_000, seed), Vec::new()),
        Scenario::SlowReader => (pattern(sizes.slow_total, seed), Vec::new()),
        _ => (pattern(sizes.bulk, seed), pattern(sizes.bulk, seed + 1)),
    };
    let (c_expect, s_expect) = (s_out.clone(), c_out.clone());
    let mut c = App::new(c_out);
    c.h = Some(ch);
    let mut s = App::new(s_out);
    if scenario == Scenario::SlowReader {
        // Stall first (the window closes), then read a chunk every 10 ms.
        s.pace = Some((sizes.slow_chunk, Duration::from_millis(10)));
        s.next_read = Instant::from_millis(200);
    }
    let mut round = 0usize;
    let mut aborted = false;
    let mut failure: Option<String> = None;
    let limit = Instant::from_secs(1200);

    // The slow reader wakes every 10 ms: the simulator must stop for it.
    let wake = match scenario {
        Scenario::SlowReader => Duration::from_millis(10),
        _ => Duration::from_secs(3600),
    };
    let mut more = true;
    while more && sim.now() < limit {
        let until = (sim.now() + wake).min(limit);
        more = !sim.run_while(
            |sim| {
                let now = sim.now();
                if s.h.is_none() {
                    match sim.b_mut().tcp_accept(listener) {
                        Ok(h) => s.h = Some(h),
                        Err(SocketError::WouldBlock) => {}
                        Err(e) => failure = Some(format!("accept: {e}")),
                    }
                }
                // Step the applications until they make no more progress at this instant (a
                // read may enable a write; nothing else would wake them before the next event).
                for _ in 0..16 {
                    let before = (c.progress(), s.progress(), round, aborted);
                    let r = step(
                        scenario,
                        sizes,
                        seed,
                        now,
                        sim,
                        &mut c,
                        &mut s,
                        &mut round,
                        &mut aborted,
                    );
                    if let Err(e) = r {
                        failure = Some(e);
                        break;
                    }
                    if (c.progress(), s.progress(), round, aborted) == before {
                        break;
                    }
                }
                failure.is_none() && !(c.closed && s.closed)
            },
            until,
        );
    }
    let done = !more;
    if let Some(f) = failure {
        return Err(format!("{f}\n{}", trace()));
    }
    if !done {
        return Err(format!(
            "{}\nnot done after {limit:?}: client sent {}/{} got {} eof {} err {:?} state {:?}; \
             server sent {}/{} got {} eof {} err {:?} state {:?}; all: {:?} / {:?}",
            trace(),
            c.sent,
            c.out.len(),
            c.got.len(),
            c.eof,
            c.err,
            c.h.and_then(|h| sim.a().tcp_state(h)),
            s.sent,
            s.out.len(),
            s.got.len(),
            s.eof,
            s.err,
            s.h.and_then(|h| sim.b().tcp_state(h)),
            sim.a().tcp_states(),
            sim.b().tcp_states(),
        ));
    }
    let completion = sim.now() - Instant::ZERO;
    if scenario != Scenario::RequestResponse {
        if c.got != c_expect {
            return Err(format!(
                "client got {} bytes, expected {} (first difference at {:?})",
                c.got.len(),
                c_expect.len(),
                c.got.iter().zip(&c_expect).position(|(a, b)| a != b)
            ));
        }
        if s.got != s_expect {
            return Err(format!(
                "server got {} bytes, expected {} (first difference at {:?})",
                s.got.len(),
                s_expect.len(),
                s.got.iter().zip(&s_expect).position(|(a, b)| a != b)
            ));
        }
    }
    let now = sim.now();
    sim.b_mut().tcp_close(now, listener);
    // Both ends must reach CLOSED or TIME-WAIT.
    let settled = sim.run_while(
        |sim| !(clean(&sim.a().tcp_states()) && clean(&sim.b().tcp_states())),
        now + Duration::from_secs(300),
    );
    if !settled {
        return Err(format!(
            "not closed cleanly: client {:?}, server {:?}",
            sim.a().tcp_states(),
            sim.b().tcp_states()
        ));
    }
    let st = sim.stats();
    Ok(Outcome {
        completion,
        small_windows: zero_windows.get(),
        packets: st.sent[0] + st.sent[1],
        trace: trace(),
    })
}

/// The TCP window field of an IPv4/TCP packet.
fn tcp_window(p: &[u8]) -> Option<u16> {
    let first = *p.first()?;
    if first >> 4 != 4 || *p.get(9)? != 6 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let w = p.get(ihl + 14..ihl + 16)?;
    Some(u16::from_be_bytes([w[0], w[1]]))
}
