//! The simulator: two sans-IO endpoints joined by an emulated link, in virtual time.
//!
//! `Sim` owns endpoint A, endpoint B (normally two `Stack`s) and an `Impair` per direction. Time
//! starts at zero and jumps from event to event (a packet due, a stack timer), so a 60 s transfer
//! runs in however long its packets take to process. Nothing here reads a clock or allocates per
//! step: packet buffers are recycled through a small pool.
//!
//! Driving it from a test:
//! ```ignore
//! let mut sim = Sim::new(a, b, ImpairConfig::default(), ImpairConfig::default(), 7);
//! let now = sim.now();
//! sim.a_mut().udp_send_to(now, h, b"hi", peer)?;
//! sim.run_until(Instant::from_secs(1));
//! ```

use crate::link::impair::{Impair, ImpairConfig};
use crate::stack::Stack;
use crate::time::{Duration, Instant};

/// What the simulator needs from an endpoint (defined in `endpoint.rs`, re-exported here).
pub use super::endpoint::Endpoint;

/// Which way a packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    AtoB,
    BtoA,
}

/// Where on the link a packet was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The sender put it on the link (before any impairment).
    Sent,
    /// The link handed it to the receiver (after loss, delay, corruption...).
    Delivered,
}

/// One recorded packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    pub time: Instant,
    pub dir: Dir,
    pub event: Event,
    pub bytes: Vec<u8>,
}

/// Packet counters of the simulator (per direction: index 0 = A→B, 1 = B→A).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub sent: [u64; 2],
    pub delivered: [u64; 2],
    /// `step`s that did some work.
    pub steps: u64,
}

type Observer = Box<dyn FnMut(Instant, Dir, Event, &[u8])>;

/// Largest packet an endpoint may emit (an IPv4 datagram is at most 65535 bytes).
const BUF_SIZE: usize = 65535;
/// Bound on rounds of work at one instant: endpoints that keep asking for "now" cannot hang us.
const MAX_ROUNDS_PER_INSTANT: u32 = 10_000;
/// `run_until_idle` gives up after this much virtual time (a keep-alive timer never idles).
pub const IDLE_LIMIT: Duration = Duration::from_secs(3600);
/// Buffers kept for reuse.
const POOL_MAX: usize = 1024;

pub struct Sim<A: Endpoint = Stack, B: Endpoint = Stack> {
    a: A,
    b: B,
    a_to_b: Impair,
    b_to_a: Impair,
    now: Instant,
    buf: Vec<u8>,
    pool: Vec<Vec<u8>>,
    observer: Option<Observer>,
    trace: Option<Vec<TraceEntry>>,
    stats: SimStats,
}

impl<A: Endpoint, B: Endpoint> Sim<A, B> {
    /// Join `a` and `b`. Each direction's impairment gets its own seed derived from `seed`.
    pub fn new(a: A, b: B, a_to_b: ImpairConfig, b_to_a: ImpairConfig, seed: u64) -> Self {
        let mut rng = crate::rng::Rng::new(seed);
        let (s1, s2) = (rng.next_u64(), rng.next_u64());
        Sim {
            a,
            b,
            a_to_b: Impair::new(a_to_b, s1),
            b_to_a: Impair::new(b_to_a, s2),
            now: Instant::ZERO,
            buf: vec![0; BUF_SIZE],
            pool: Vec::new(),
            observer: None,
            trace: None,
            stats: SimStats::default(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }
    pub fn a(&self) -> &A {
        &self.a
    }
    pub fn b(&self) -> &B {
        &self.b
    }
    pub fn a_mut(&mut self) -> &mut A {
        &mut self.a
    }
    pub fn b_mut(&mut self) -> &mut B {
        &mut self.b
    }
    /// The link A→B (its stats say what it did).
    pub fn link_a_to_b(&self) -> &Impair {
        &self.a_to_b
    }
    pub fn link_b_to_a(&self) -> &Impair {
        &self.b_to_a
    }
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// Call `f` for every packet sent onto and delivered by the link (e.g. to write a pcap).
    pub fn set_observer(&mut self, f: impl FnMut(Instant, Dir, Event, &[u8]) + 'static) {
        self.observer = Some(Box::new(f));
    }

    /// Start recording every packet in a trace (`trace()`, `take_trace()`).
    pub fn record_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }
    pub fn trace(&self) -> &[TraceEntry] {
        self.trace.as_deref().unwrap_or(&[])
    }
    pub fn take_trace(&mut self) -> Vec<TraceEntry> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Do everything due at `now` (deliver, timeouts, transmit), then jump to the next event.
    /// Returns false when nothing is scheduled any more (the simulation is idle).
    pub fn step(&mut self) -> bool {
        self.process_now();
        match self.next_event() {
            Some(t) => {
                self.now = self.advance_to(t);
                true
            }
            None => false,
        }
    }

    /// Run until virtual time reaches `deadline` (everything due at `deadline` is done).
    pub fn run_until(&mut self, deadline: Instant) {
        loop {
            self.process_now();
            if self.now >= deadline {
                return;
            }
            self.now = match self.next_event() {
                Some(t) => self.advance_to(t).min(deadline),
                None => deadline,
            };
        }
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        self.run_until(deadline);
    }

    /// Run until nothing is scheduled (at most `IDLE_LIMIT` of virtual time). True when idle.
    pub fn run_until_idle(&mut self) -> bool {
        self.run_until_idle_within(IDLE_LIMIT)
    }

    /// Run until nothing is scheduled or `limit` of virtual time passed. True when idle.
    pub fn run_until_idle_within(&mut self, limit: Duration) -> bool {
        let deadline = self.now + limit;
        loop {
            self.process_now();
            match self.next_event() {
                None => return true,
                Some(t) if t > deadline => return false,
                Some(t) => self.now = self.advance_to(t),
            }
        }
    }

    /// Run while `cond(self)` holds, up to virtual time `max`. True when `cond` became false.
    pub fn run_while(&mut self, mut cond: impl FnMut(&mut Self) -> bool, max: Instant) -> bool {
        loop {
            self.process_now();
            if !cond(self) {
                return true;
            }
            // `cond` may have queued data on a socket: send it at this instant.
            self.process_now();
            if self.now >= max {
                return false;
            }
            self.now = match self.next_event() {
                Some(t) => self.advance_to(t).min(max),
                None => max,
            };
        }
    }

    /// The earliest future event: a packet due on either link or a timer of either endpoint.
    pub fn next_event(&self) -> Option<Instant> {
        [
            self.a.poll_timeout(),
            self.b.poll_timeout(),
            self.a_to_b.poll_timeout(),
            self.b_to_a.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Time moves forward by at least 1 µs, so an endpoint whose deadline stays ≤ now cannot spin.
    fn advance_to(&self, t: Instant) -> Instant {
        t.max(self.now + Duration::from_micros(1))
    }

    /// Rounds of deliver / timeout / transmit at `now` until nothing more happens at this instant.
    fn process_now(&mut self) {
        let now = self.now;
        for _ in 0..MAX_ROUNDS_PER_INSTANT {
            let mut work = false;
            while let Some(p) = self.a_to_b.poll_deliver(now) {
                self.note(Dir::AtoB, Event::Delivered, &p);
                self.b.handle_packet(now, &p);
                self.recycle(p);
                work = true;
            }
            while let Some(p) = self.b_to_a.poll_deliver(now) {
                self.note(Dir::BtoA, Event::Delivered, &p);
                self.a.handle_packet(now, &p);
                self.recycle(p);
                work = true;
            }
            if self.a.poll_timeout().is_some_and(|t| t <= now) {
                self.a.handle_timeout(now);
                work = true;
            }
            if self.b.poll_timeout().is_some_and(|t| t <= now) {
                self.b.handle_timeout(now);
                work = true;
            }
            work |= self.transmit(Dir::AtoB);
            work |= self.transmit(Dir::BtoA);
            if !work {
                return;
            }
            self.stats.steps += 1;
        }
    }

    /// Drain one endpoint's transmissions onto its link.
    fn transmit(&mut self, dir: Dir) -> bool {
        let now = self.now;
        let mut any = false;
        loop {
            let n = match dir {
                Dir::AtoB => self.a.poll_transmit(now, &mut self.buf),
                Dir::BtoA => self.b.poll_transmit(now, &mut self.buf),
            };
            let Some(n) = n else { return any };
            any = true;
            let mut p = self.pool.pop().unwrap_or_default();
            p.clear();
            p.extend_from_slice(self.buf.get(..n).unwrap_or(&self.buf));
            self.note(dir, Event::Sent, &p);
            match dir {
                Dir::AtoB => self.a_to_b.push(now, p),
                Dir::BtoA => self.b_to_a.push(now, p),
            }
        }
    }

    fn note(&mut self, dir: Dir, event: Event, p: &[u8]) {
        let i = match dir {
            Dir::AtoB => 0,
            Dir::BtoA => 1,
        };
        match event {
            Event::Sent => self.stats.sent[i] += 1,
            Event::Delivered => self.stats.delivered[i] += 1,
        }
        if let Some(f) = self.observer.as_mut() {
            f(self.now, dir, event, p);
        }
        if let Some(t) = self.trace.as_mut() {
            t.push(TraceEntry {
                time: self.now,
                dir,
                event,
                bytes: p.to_vec(),
            });
        }
    }

    fn recycle(&mut self, p: Vec<u8>) {
        if self.pool.len() < POOL_MAX {
            self.pool.push(p);
        }
    }
}
