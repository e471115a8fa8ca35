//! Randomized soak of two of our stacks in the simulator: for each seed, random link impairments
//! (loss, delay, jitter, reordering, duplication, corruption, rate limit) and random application
//! behaviour (slow readers, early closes, aborts, half-closes), with the TCB invariants checked
//! after every simulator step:
//!
//! - SND.UNA ≤ SND.NXT ≤ SND.MAX (RFC 9293 §3.3.1);
//! - flight (SND.MAX − SND.UNA) ≤ the largest window the peer offered + 2 (a zero-window probe
//!   byte and a SYN or FIN; RFC 9293 §3.8.6.1 / §3.8.6.2.1);
//! - between the two ends of one connection: A.SND.UNA ≤ B.RCV.NXT ≤ A.SND.MAX (nothing is
//!   acknowledged that was not received, nothing received that was not sent);
//! - receive buffer and out-of-order store each ≤ the configured receive buffer;
//! - every timer deadline lies in the future; a connection with unacknowledged data (or in
//!   TIME-WAIT) has a timer armed, so it cannot get stuck;
//! - states only move forward (SYN-* → ESTABLISHED → closing states → TIME-WAIT);
//! - byte counts never go backwards, and every byte read is the byte sent at that offset.
//!
//! At the end of a seed: the data of every connection that was not aborted or reset arrived
//! byte-exact (a reset one delivered a prefix), and both stacks' connection tables are empty
//! (every connection reached CLOSED) within a bounded virtual time.
//!
//! 2,000 seeds in release builds, 100 in debug. `SOAK_SEEDS=N` changes the count,
//! `SOAK_SEED=S` replays one seed.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::link::ImpairConfig;
use tunstack::link::sim::Sim;
use tunstack::rng::Rng;
use tunstack::tcp::connection::Connection;
use tunstack::tcp::seq::SeqNum;
use tunstack::tcp::{Shutdown, TcpConfig};
use tunstack::{Duration, Instant, SocketError, Stack, StackConfig, TcpHandle};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PORT: u16 = 9000;
/// An application gives up on a connection that moved no data for this long.
const APP_TIMEOUT: Duration = Duration::from_secs(300);
/// Virtual time a seed may take before it counts as stuck.
const LIMIT: Duration = Duration::from_secs(1800);

thread_local! {
    static KEEPALIVE: std::cell::Cell<Option<Duration>> =
        const { std::cell::Cell::new(Some(Duration::from_secs(30))) };
}

/// The byte at offset `i` of the stream with id `id`.
fn byte(id: u64, i: u64) -> u8 {
    (i.wrapping_mul(0x9e37_79b9)
        .wrapping_add(id.wrapping_mul(131))
        >> 7) as u8
}

fn impairment(rng: &mut Rng) -> ImpairConfig {
    let pct = |rng: &mut Rng, max: f64| {
        if rng.chance(0.5) {
            0.0
        } else {
            rng.next_f64() * max
        }
    };
    let mut c = ImpairConfig {
        loss: pct(rng, 0.10),
        delay: Duration::from_millis(rng.below(60)),
        jitter: Duration::from_millis(rng.below(20)),
        reorder: pct(rng, 0.10),
        duplicate: pct(rng, 0.05),
        corrupt: pct(rng, 0.03),
        ..ImpairConfig::default()
    };
    if rng.chance(0.2) {
        c.rate_bps = Some(1_000_000 + rng.below(50_000_000));
        c.queue_bytes = 20_000 + rng.below(200_000) as usize;
    }
    c
}

fn tcp_config(rng: &mut Rng) -> TcpConfig {
    TcpConfig {
        send_buffer: [4096, 16 * 1024, 64 * 1024, 256 * 1024][rng.below(4) as usize],
        recv_buffer: [2048, 16 * 1024, 64 * 1024, 256 * 1024][rng.below(4) as usize],
        msl: Duration::from_millis(500),
        max_rto: Duration::from_secs(10),
        max_retries: 8,
        fin_timeout: Duration::from_secs(20),
        // A half-closed end waiting for a peer that vanished (its RST lost) finds out by
        // keep-alive (RFC 1122 §4.2.3.6), as a real application would need to.
        keepalive: KEEPALIVE.with(|k| k.get()),
        keepalive_interval: Duration::from_secs(5),
        keepalive_probes: 3,
        window_scaling: rng.chance(0.7),
        timestamps: rng.chance(0.7),
        sack: rng.chance(0.7),
        cc: if rng.chance(0.8) { "newreno" } else { "none" }.to_string(),
        delayed_ack: Duration::from_millis([0, 40, 200][rng.below(3) as usize]),
        ..TcpConfig::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    /// Send everything, read everything, close.
    Normal,
    /// Reads at most a few hundred bytes per step (zero windows).
    SlowReader,
    /// Closes (with unread data: RST, RFC 9293 §3.10.4) after a random time.
    EarlyClose,
    /// Aborts after a random time.
    Abort,
}

/// One end of a connection, as the application sees it.
struct End {
    h: Option<TcpHandle>,
    /// Stream ids: what this end sends, what it receives.
    tx_id: u64,
    rx_id: u64,
    to_send: u64,
    sent: u64,
    received: u64,
    eof: bool,
    /// Reset/aborted/timed out: the data may be cut short.
    broken: bool,
    write_closed: bool,
    behaviour: Behaviour,
    /// Virtual time at which an early close or abort happens.
    act_at: Instant,
    last_rank: u8,
    last_bytes: (u64, u64),
    /// The client's local address (to match the accepted connection).
    local: Option<SocketAddrV4>,
    /// Last time data moved; an application gives up after `APP_TIMEOUT` without progress.
    last_progress: Instant,
    app_timeout: bool,
}

impl End {
    fn new(tx_id: u64, rx_id: u64, to_send: u64, behaviour: Behaviour, act_at: Instant) -> End {
        End {
            h: None,
            tx_id,
            rx_id,
            to_send,
            sent: 0,
            received: 0,
            eof: false,
            broken: false,
            write_closed: false,
            behaviour,
            act_at,
            last_rank: 0,
            last_bytes: (0, 0),
            local: None,
            last_progress: Instant::ZERO,
            app_timeout: false,
        }
    }

    fn done(&self) -> bool {
        self.h.is_none()
    }

    /// Drive the application side of this end one step.
    fn step(&mut self, stack: &mut Stack, now: Instant, scratch: &mut [u8], ctx: &str) {
        let Some(h) = self.h else { return };
        let progress = (self.sent, self.received);
        if now.saturating_duration_since(self.last_progress) > APP_TIMEOUT {
            // Waiting for a peer that is gone (see `keepalive_probes_a_half_closed_connection`).
            stack.tcp_close(now, h);
            self.app_timeout = true;
            self.broken = true;
            self.h = None;
            return;
        }
        if matches!(self.behaviour, Behaviour::EarlyClose | Behaviour::Abort) && now >= self.act_at
        {
            if self.behaviour == Behaviour::Abort {
                stack.tcp_abort(now, h);
            } else {
                stack.tcp_close(now, h);
            }
            self.broken = true;
            self.h = None;
            return;
        }
        // Write.
        while self.sent < self.to_send {
            let n = ((self.to_send - self.sent) as usize).min(scratch.len());
            for (k, b) in scratch[..n].iter_mut().enumerate() {
                *b = byte(self.tx_id, self.sent + k as u64);
            }
            match stack.tcp_send(now, h, &scratch[..n]) {
                Ok(0) | Err(SocketError::WouldBlock) => break,
                Ok(k) => self.sent += k as u64,
                Err(_) => {
                    self.broken = true;
                    break;
                }
            }
        }
        if self.sent == self.to_send && !self.write_closed {
            let _ = stack.tcp_shutdown(now, h, Shutdown::Write);
            self.write_closed = true;
        }
        // Read.
        let cap = if self.behaviour == Behaviour::SlowReader {
            300
        } else {
            scratch.len()
        };
        let mut budget = cap;
        while budget > 0 && !self.eof {
            let want = budget.min(scratch.len());
            match stack.tcp_recv(now, h, &mut scratch[..want]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    for (k, b) in scratch[..n].iter().enumerate() {
                        let off = self.received + k as u64;
                        assert_eq!(
                            *b,
                            byte(self.rx_id, off),
                            "{ctx}: corrupted byte at offset {off}"
                        );
                    }
                    self.received += n as u64;
                    budget -= n;
                }
                Err(SocketError::WouldBlock) => break,
                Err(_) => {
                    self.broken = true;
                    self.eof = true;
                }
            }
        }
        if (self.sent, self.received) != progress {
            self.last_progress = now;
        }
        // Both directions finished (or failed): close; the stack finishes the handshake.
        if self.eof && (self.write_closed || self.broken) {
            stack.tcp_close(now, h);
            self.h = None;
        }
    }
}

/// Forward-only order of states; CLOSED ends everything.
fn rank(state: &str) -> u8 {
    match state {
        "SYN-SENT" | "SYN-RECEIVED" => 1,
        "ESTABLISHED" => 2,
        "FIN-WAIT-1" | "CLOSE-WAIT" => 3,
        "FIN-WAIT-2" | "CLOSING" | "LAST-ACK" => 4,
        "TIME-WAIT" => 5,
        "CLOSED" => 6,
        _ => 0,
    }
}

fn check_tcb(c: &Connection, now: Instant, cap: usize, ctx: &str) {
    let st = c.state.name();
    assert!(
        c.snd_una.le(c.snd_nxt),
        "{ctx} {st}: SND.UNA {} > SND.NXT {}",
        c.snd_una,
        c.snd_nxt
    );
    assert!(
        c.snd_nxt.le(c.snd_max),
        "{ctx} {st}: SND.NXT {} > SND.MAX {}",
        c.snd_nxt,
        c.snd_max
    );
    if c.state.is_synchronized() {
        let flight = c.snd_max.since(c.snd_una);
        assert!(
            flight <= c.max_snd_wnd.max(1) + 2,
            "{ctx} {st}: flight {flight} over the peer's largest window {}",
            c.max_snd_wnd
        );
    }
    assert!(
        c.recv_queued() <= cap,
        "{ctx} {st}: {} bytes queued, cap {cap}",
        c.recv_queued()
    );
    assert!(
        c.reassembly_bytes() <= cap,
        "{ctx} {st}: out-of-order {} > {cap}",
        c.reassembly_bytes()
    );
    if let Some(d) = c.next_deadline() {
        assert!(
            d >= now,
            "{ctx} {st}: timer at {d:?} is in the past (now {now:?})"
        );
    }
    let unacked = c.snd_una != c.snd_max;
    if (unacked && st != "CLOSED") || st == "TIME-WAIT" {
        assert!(
            c.next_deadline().is_some(),
            "{ctx} {st}: no timer armed (unacked {unacked})"
        );
    }
}

fn check_end(stack: &Stack, end: &mut End, now: Instant, ctx: &str) {
    let Some(h) = end.h else { return };
    let Some(info) = stack.tcp_info(h) else {
        return;
    };
    let r = rank(info.state);
    assert!(
        r >= end.last_rank,
        "{ctx}: state went back to {}",
        info.state
    );
    end.last_rank = r;
    let bytes = (info.bytes_sent, info.bytes_received);
    assert!(
        bytes.0 >= end.last_bytes.0 && bytes.1 >= end.last_bytes.1,
        "{ctx}: byte counts went back"
    );
    end.last_bytes = bytes;
    assert!(
        end.received <= info.bytes_received,
        "{ctx}: read more than received"
    );
    if let Some(c) = stack.tcp().connection(h) {
        check_tcb(c, now, stack.config().tcp.recv_buffer, ctx);
    }
}

/// The two TCBs of one connection agree: A.SND.UNA ≤ B.RCV.NXT ≤ A.SND.MAX.
fn check_pair(tx: &Connection, rx: &Connection, ctx: &str) {
    if !tx.state.is_synchronized() || !rx.state.is_synchronized() || tx.remote != rx.local {
        return;
    }
    let (una, max, nxt) = (tx.snd_una, tx.snd_max, rx.rcv_nxt);
    assert!(
        SeqNum::le(una, nxt) && nxt.le(max),
        "{ctx}: receiver's RCV.NXT {nxt} outside sender's [SND.UNA {una}, SND.MAX {max}]"
    );
}

/// Every live connection of a stack among `handles`, by (local, remote) address.
fn tcbs(stack: &Stack, handles: &[TcpHandle]) -> HashMap<(SocketAddrV4, SocketAddrV4), TcpHandle> {
    handles
        .iter()
        .filter_map(|&h| stack.tcp().connection(h).map(|c| ((c.local, c.remote), h)))
        .collect()
}

struct Outcome {
    virtual_secs: f64,
    /// Packets the links dropped, duplicated, reordered or corrupted.
    impaired: u64,
    app_timeouts: usize,
    bytes: u64,
    broken: usize,
}

fn run_seed(seed: u64) -> Outcome {
    let mut rng = Rng::new(seed);
    let ctx = format!("seed {seed}");
    let (ab, ba) = (impairment(&mut rng), impairment(&mut rng));
    let mk = |addr, rng: &mut Rng| {
        Stack::new(StackConfig {
            addr,
            seed: rng.next_u64(),
            tcp: tcp_config(rng),
            ..StackConfig::default()
        })
    };
    let a = mk(A, &mut rng);
    let mut b = mk(B, &mut rng);
    let listener = b.tcp_listen(SocketAddrV4::new(B, PORT)).expect("listen");
    let mut sim = Sim::new(a, b, ab, ba, rng.next_u64());
    let max_bytes: u64 = if cfg!(debug_assertions) {
        20_000
    } else {
        120_000
    };
    let n_conns = 1 + rng.below(3) as usize;
    let behaviour = |rng: &mut Rng| match rng.below(10) {
        0..=4 => Behaviour::Normal,
        5..=6 => Behaviour::SlowReader,
        7..=8 => Behaviour::EarlyClose,
        _ => Behaviour::Abort,
    };
    // (client end in A, server end in B)
    let mut pairs: Vec<(End, End)> = Vec::new();
    for i in 0..n_conns {
        let id = (seed << 8) | (i as u64 * 2);
        let act = |rng: &mut Rng| Instant::from_millis(rng.below(800));
        let mut c = End::new(
            id,
            id + 1,
            rng.below(max_bytes),
            behaviour(&mut rng),
            act(&mut rng),
        );
        let s = End::new(
            id + 1,
            id,
            rng.below(max_bytes),
            behaviour(&mut rng),
            act(&mut rng),
        );
        let now = sim.now();
        let h = sim
            .a_mut()
            .tcp_connect(now, SocketAddrV4::new(B, PORT))
            .expect("connect");
        c.h = Some(h);
        c.local = sim.a().tcp().connection(h).map(|x| x.local);
        pairs.push((c, s));
    }
    let mut scratch = vec![0u8; 16 * 1024];
    let (mut all_a, mut all_b) = (Vec::new(), Vec::new());
    all_a.extend(pairs.iter().filter_map(|p| p.0.h));
    let deadline = Instant::ZERO + LIMIT;
    let mut total = 0;
    loop {
        let now = sim.now();
        // Accept, matching each server end to its client by port.
        while let Ok(h) = sim.b_mut().tcp_accept(listener) {
            let remote = sim.b().tcp().connection(h).map(|c| c.remote);
            all_b.push(h);
            match pairs
                .iter_mut()
                .find(|p| p.0.local.is_some() && p.0.local == remote)
            {
                Some(p) => {
                    p.1.h = Some(h);
                    p.1.last_rank = 1;
                }
                None => sim.b_mut().tcp_close(now, h),
            }
        }
        for (i, (c, s)) in pairs.iter_mut().enumerate() {
            let cx = format!("{ctx} conn {i} client ({:?})", c.behaviour);
            c.step(sim.a_mut(), now, &mut scratch, &cx);
            check_end(sim.a(), c, now, &cx);
            let sx = format!("{ctx} conn {i} server ({:?})", s.behaviour);
            s.step(sim.b_mut(), now, &mut scratch, &sx);
            check_end(sim.b(), s, now, &sx);
        }
        // Every live TCB (also those the application already closed).
        let (ta, tb) = (tcbs(sim.a(), &all_a), tcbs(sim.b(), &all_b));
        for (&(local, _), &h) in &ta {
            let Some(c) = sim.a().tcp().connection(h) else {
                continue;
            };
            check_tcb(
                c,
                now,
                sim.a().config().tcp.recv_buffer,
                &format!("{ctx} A {local}"),
            );
            if let Some(&hb) = tb.get(&(c.remote, c.local))
                && let Some(cb) = sim.b().tcp().connection(hb)
            {
                check_pair(c, cb, &format!("{ctx} A→B {local}"));
                check_pair(cb, c, &format!("{ctx} B→A {local}"));
            }
        }
        for (&(_, local), &h) in &tb {
            if let Some(c) = sim.b().tcp().connection(h) {
                check_tcb(
                    c,
                    now,
                    sim.b().config().tcp.recv_buffer,
                    &format!("{ctx} B {local}"),
                );
            }
        }
        let apps_done = pairs.iter().all(|(c, s)| c.done() && s.done());
        if apps_done
            && sim.a().tcp().connection_count() == 0
            && sim.b().tcp().connection_count() == 0
        {
            break;
        }
        assert!(
            now < deadline,
            "{ctx}: stuck after {:?} of virtual time: A has {} connections, B has {}; apps done {apps_done}; \
             ends {:?}; states {:?}",
            LIMIT,
            sim.a().tcp().connection_count(),
            sim.b().tcp().connection_count(),
            pairs
                .iter()
                .map(|(c, s)| (
                    c.behaviour,
                    c.done(),
                    c.broken,
                    c.sent,
                    c.to_send,
                    c.received,
                    s.behaviour,
                    s.done(),
                    s.broken,
                    s.sent,
                    s.to_send,
                    s.received
                ))
                .collect::<Vec<_>>(),
            sim.a()
                .tcp()
                .connections()
                .iter()
                .chain(sim.b().tcp().connections().iter())
                .map(|i| i.state)
                .collect::<Vec<_>>()
        );
        let step = Duration::from_millis(1 + rng.below(20));
        sim.run_for(step);
        total += 1;
        assert!(total < 10_000_000);
    }
    // Byte-exact: unbroken ends got everything; the data checks in `step` covered every byte.
    let mut bytes = 0;
    let mut broken = 0;
    for (i, (c, s)) in pairs.iter().enumerate() {
        let reset = c.broken || s.broken;
        if reset {
            broken += 1;
            assert!(
                s.received <= c.sent && c.received <= s.sent,
                "{ctx} conn {i}: received more than sent"
            );
        } else {
            assert_eq!(
                s.received, c.to_send,
                "{ctx} conn {i}: server got {} of {} bytes",
                s.received, c.to_send
            );
            assert_eq!(
                c.received, s.to_send,
                "{ctx} conn {i}: client got {} of {} bytes",
                c.received, s.to_send
            );
        }
        bytes += s.received + c.received;
    }
    assert!(
        sim.a().stats().accounted() && sim.b().stats().accounted(),
        "{ctx}: packet accounting"
    );
    let impaired = [sim.link_a_to_b().stats(), sim.link_b_to_a().stats()]
        .iter()
        .map(|s| s.dropped_loss + s.dropped_queue + s.duplicated + s.reordered + s.corrupted)
        .sum();
    let app_timeouts = pairs
        .iter()
        .map(|(c, s)| usize::from(c.app_timeout) + usize::from(s.app_timeout))
        .sum();
    Outcome {
        app_timeouts,
        impaired,
        virtual_secs: sim.now().total_micros() as f64 / 1e6,
        bytes,
        broken,
    }
}

#[test]
fn randomized_soak_keeps_every_invariant() {
    if std::env::var("SOAK_KEEPALIVE").is_ok_and(|v| v == "0") {
        KEEPALIVE.with(|k| k.set(None));
    }
    if let Some(seed) = std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()) {
        run_seed(seed);
        return;
    }
    let default = if cfg!(debug_assertions) { 100 } else { 2000 };
    let seeds: u64 = std::env::var("SOAK_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    let (mut bytes, mut broken, mut vmax, mut impaired) = (0u64, 0usize, 0f64, 0u64);
    let mut app_timeouts = Vec::new();
    for seed in 0..seeds {
        let o = run_seed(seed);
        bytes += o.bytes;
        broken += o.broken;
        vmax = vmax.max(o.virtual_secs);
        impaired += o.impaired;
        if o.app_timeouts > 0 {
            app_timeouts.push(seed);
        }
    }
    eprintln!(
        "invariants_soak: {seeds} seeds, {bytes} bytes checked, {broken} connections reset or aborted, \
         {impaired} packets impaired, longest seed {vmax:.1} s of virtual time; seeds where an \
         application gave up on a silent connection: {app_timeouts:?}"
    );
    // The sweep exercised both endings: clean transfers and broken connections.
    assert!(bytes > 0 && broken > 0 && impaired > 0);
}
