//! The driver loop: ppoll on {link, eventfd} until the next deadline, then feed packets in,
//! run API commands, fire timers, complete blocked calls, and flush packets out. The first
//! packet of a wake-up gets a whole turn of its own, so its answer (an echo reply, an ACK,
//! a service's response) is written before the link is read again.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, TryRecvError};

use super::ops::{Cmd, PendingTable};
use super::{Link, LinkStats, Report, RuntimeConfig, Waker, format_connection};
use crate::capture::{Capture, Direction};
use crate::link::Impair;
use crate::link::rules::Side;
use crate::services::inline::Inline;
use crate::stack::Stack;
use crate::time::{Duration, Instant};
use crate::trace::tap::Tap;

/// Packets read from the link per wake-up before the rest of the loop runs.
const READ_BATCH: usize = 256;
/// Commands taken per wake-up (the rest wait for the next turn; the eventfd stays readable).
const CMD_BATCH: usize = 1024;
/// Below this many parked calls, every wake retries them all (a cheap safety net).
const RETRY_ALL_BELOW: usize = 64;
/// Buffered capture data reaches the file at most this long after the packet.
const CAPTURE_FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long the driver polls without sleeping after a busy turn (`poll::wait`). Off by default:
/// the runtime blocks in ppoll and never busy-waits unless asked to. `TUNSTACK_SPIN_US=50` turns
/// it on for latency experiments (docs/benchmarks.md: 1-byte request/response p50 65.6 → 30.7 µs).
const SPIN_US: u64 = 0;
/// Largest IPv4 datagram.
const MAX_PACKET: usize = 65535;

/// The stack's clock: microseconds since the driver started.
struct Clock {
    start: std::time::Instant,
    wall_start: u64,
}

impl Clock {
    fn new() -> Clock {
        let wall_start = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Clock {
            start: std::time::Instant::now(),
            wall_start,
        }
    }
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }
    /// Wall-clock microseconds since the UNIX epoch at stack time `t` (for pcap).
    fn wall(&self, t: Instant) -> u64 {
        self.wall_start + t.total_micros()
    }
}

pub(crate) struct Driver {
    link: Link,
    stack: Stack,
    rx: Receiver<Cmd>,
    waker: Arc<Waker>,
    pending: PendingTable,
    /// echo, discard, chargen served in this thread (`services::inline`).
    inline: Inline,
    impair_in: Option<Impair>,
    impair_out: Option<Impair>,
    capture: Option<Capture>,
    /// Capture comments (each packet's cause) and the scripted-impairment rules.
    tap: Tap,
    /// When buffered capture data must be flushed (set by the first unflushed packet).
    next_flush: Option<Instant>,
    stats_interval: Option<Duration>,
    next_stats: Option<Instant>,
    clock: Clock,
    link_stats: LinkStats,
    /// API commands run so far (with packets read: did the last turn do anything?).
    commands_taken: u64,
    spin: std::time::Duration,
    /// The last poll saw the eventfd readable (or could not tell): drain it this turn.
    waker_ready: bool,
    buf: Vec<u8>,
    shutdown: bool,
    /// The connections live when shutdown began (before they were aborted), for the report.
    live_at_exit: Option<Vec<crate::tcp::TcpInfo>>,
}

impl Driver {
    pub(crate) fn new(
        link: Link,
        cfg: RuntimeConfig,
        rx: Receiver<Cmd>,
        waker: Arc<Waker>,
    ) -> io::Result<Driver> {
        link.set_nonblocking()?;
        let capture = match &cfg.pcap {
            Some((path, max)) => Some(Capture::create(path, *max).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            })?),
            None => None,
        };
        let trace: Option<Box<dyn io::Write + Send>> = match &cfg.trace {
            Some(path) => Some(Box::new(io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
                })?,
            ))),
            None => None,
        };
        let imp = cfg.impair.filter(|c| !c.is_transparent());
        let mut stack_cfg = cfg.stack;
        // Super-segments only where nothing works per packet (captures, emulator, rules).
        let per_packet =
            capture.is_some() || trace.is_some() || imp.is_some() || !cfg.rules.is_empty();
        stack_cfg.tcp.offload = link.offload() && !per_packet;
        if link.offload() && per_packet {
            log::warn!(
                "offload: a capture, trace or the emulator works per packet: sending plain segments"
            );
        }
        let stats_interval = cfg
            .stats_interval
            .filter(|d| !d.is_zero())
            .map(Duration::from);
        Ok(Driver {
            link,
            stack: Stack::new(stack_cfg),
            rx,
            waker,
            pending: PendingTable::default(),
            inline: Inline::default(),
            impair_in: imp.clone().map(|c| Impair::new(c, cfg.impair_seed)),
            impair_out: imp.map(|c| Impair::new(c, cfg.impair_seed ^ 1)),
            tap: Tap::with_trace(capture.is_some(), cfg.rules.clone(), trace),
            capture,
            next_flush: None,
            next_stats: stats_interval.map(|d| Instant::ZERO + d),
            stats_interval,
            clock: Clock::new(),
            link_stats: LinkStats::default(),
            commands_taken: 0,
            spin: super::poll::spin_from_env(SPIN_US),
            waker_ready: true,
            buf: vec![0; MAX_PACKET],
            shutdown: false,
            live_at_exit: None,
        })
    }

    pub(crate) fn run(mut self) -> io::Result<Report> {
        let result = self.run_loop();
        if let Some(c) = self.capture.as_mut()
            && let Err(e) = c.flush()
        {
            log::warn!("flushing the capture: {e}");
        }
        result?;
        Ok(self.report())
    }

    fn report(&self) -> Report {
        Report {
            stack: self.stack.stats().clone(),
            tcp: self.stack.tcp().stats().clone(),
            connections: self
                .live_at_exit
                .clone()
                .unwrap_or_else(|| self.stack.tcp().connections()),
            link: LinkStats {
                capture_packets: self.capture.as_ref().map_or(0, |c| c.packets()),
                capture_skipped: self.capture.as_ref().map_or(0, |c| c.skipped()),
                ..self.link_stats.clone()
            },
            impair_in: self.impair_in.as_ref().map(|i| i.stats().clone()),
            impair_out: self.impair_out.as_ref().map(|i| i.stats().clone()),
        }
    }

    fn run_loop(&mut self) -> io::Result<()> {
        loop {
            let now = self.clock.now();
            let work_before = self.link_stats.packets_read + self.commands_taken;
            // The first packet alone, answered in full before the next read (which usually
            // finds nothing when traffic is one request at a time); then the rest of the batch.
            let first = self.read_link(now, 1)?;
            if self.turn(now) {
                return Ok(());
            }
            if first > 0 {
                let now = self.clock.now();
                if self.read_link(now, READ_BATCH - 1)? > 0 && self.turn(now) {
                    return Ok(());
                }
            }
            self.print_stats(now);
            self.flush_capture(now);
            let busy = self.link_stats.packets_read + self.commands_taken != work_before;
            self.sleep(busy)?;
        }
    }

    /// Everything after reading the link: emulator, commands, timers, completed calls, output.
    /// True when the driver is to stop (the connections were reset, the RSTs sent).
    fn turn(&mut self, now: Instant) -> bool {
        self.deliver_inbound(now);
        self.take_commands(now);
        if self.shutdown || super::signals::requested() {
            // The exit report shows the connections as they were; then, RFC 9293 §3.10.5:
            // peers learn by RST that our connections are gone.
            self.live_at_exit = Some(self.stack.tcp().connections());
            self.stack.tcp_mut().abort_all(now);
            self.flush_out(now);
            return true;
        }
        self.release_held(now);
        if self.stack.poll_timeout().is_some_and(|t| t <= now) {
            self.tap.before(&self.stack);
            self.stack.handle_timeout(now);
            self.tap.after_timer(now, &self.stack);
        }
        self.settle(now);
        self.pending.expire(&mut self.stack, now);
        self.flush_out(now);
        false
    }

    /// Complete calls whose socket changed, then send what they produced.
    fn settle(&mut self, now: Instant) {
        for _ in 0..8 {
            self.tap.before(&self.stack);
            let mut any = false;
            while let Some(ev) = self.stack.poll_event() {
                any = true;
                if !self.inline.on_event(&mut self.stack, now, ev) {
                    self.pending.on_event(&mut self.stack, now, ev);
                }
            }
            if self.pending.len() > 0 && self.pending.len() < RETRY_ALL_BELOW {
                self.pending.retry_all(&mut self.stack, now);
            }
            self.tap.after_app(now, &self.stack);
            self.flush_out(now);
            if !any {
                break;
            }
        }
    }

    /// Read up to `max` packets (fewer when the link has no more); how many were read.
    fn read_link(&mut self, now: Instant, max: usize) -> io::Result<usize> {
        // Partial checksums may stay partial only where the packet goes straight to the stack.
        let may_trust = self.stack.config().tcp.offload;
        let before = self.link_stats.packets_read;
        for _ in 0..max {
            let (n, trusted) = match self.link.recv(&mut self.buf, may_trust) {
                Ok((0, _)) => return Err(io::Error::other("the link was closed")),
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.link_stats.empty_reads += 1;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    self.link_stats.vnet_drops += 1;
                    log::debug!("{e}");
                    continue;
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("reading the link: {e}"))),
            };
            self.link_stats.packets_read += 1;
            self.link_stats.bytes_read += n as u64;
            if self.tap.has_rules() {
                let mut out = Vec::new();
                self.tap
                    .filter(now, Side::C2S, self.buf[..n].to_vec(), &mut out);
                for pkt in out {
                    self.inbound(now, pkt);
                }
                continue;
            }
            match self.impair_in.as_mut() {
                Some(imp) => imp.push(now, self.buf[..n].to_vec()),
                None => {
                    let pkt = std::mem::take(&mut self.buf);
                    self.input_link(now, &pkt[..n], trusted);
                    self.buf = pkt;
                }
            }
        }
        Ok((self.link_stats.packets_read - before) as usize)
    }

    /// A packet from the link (after the rules) into the inbound emulator or the stack.
    fn inbound(&mut self, now: Instant, pkt: Vec<u8>) {
        match self.impair_in.as_mut() {
            Some(imp) => imp.push(now, pkt),
            None => self.input(now, &pkt),
        }
    }

    /// Packets the rules held back (delay, reorder) that are due now.
    fn release_held(&mut self, now: Instant) {
        while let Some((side, pkt)) = self.tap.poll_release(now) {
            match side {
                Side::C2S => self.inbound(now, pkt),
                Side::S2C => self.outbound(now, pkt),
            }
        }
    }

    /// A packet from the stack (after the rules) into the outbound emulator or onto the link.
    fn outbound(&mut self, now: Instant, pkt: Vec<u8>) {
        match self.impair_out.as_mut() {
            Some(imp) => imp.push(now, pkt),
            None => self.write_link(&pkt),
        }
    }

    fn deliver_inbound(&mut self, now: Instant) {
        while let Some(pkt) = self.impair_in.as_mut().and_then(|i| i.poll_deliver(now)) {
            self.input(now, &pkt);
        }
    }

    /// One packet into the stack (recorded as it arrives at the stack).
    fn input(&mut self, now: Instant, pkt: &[u8]) {
        self.input_link(now, pkt, false);
    }

    /// `input`; `trusted`: its TCP checksum is partial, vouched for by the link (offloads).
    fn input_link(&mut self, now: Instant, pkt: &[u8], trusted: bool) {
        self.tap.before(&self.stack);
        if trusted {
            self.stack.handle_packet_offloaded(now, pkt);
        } else {
            self.stack.handle_packet(now, pkt);
        }
        let comment = self.tap.after_input(now, &self.stack, pkt);
        self.record(now, Direction::In, pkt, comment.as_deref());
    }

    fn record(&mut self, now: Instant, dir: Direction, pkt: &[u8], comment: Option<&str>) {
        if let Some(c) = self.capture.as_mut() {
            let t = self.clock.wall(now);
            if c.write_with_comment(t, dir, pkt, comment).is_err() {
                self.link_stats.capture_errors += 1;
            }
            self.next_flush.get_or_insert(now + CAPTURE_FLUSH_EVERY);
        }
    }

    /// Push buffered capture data to the file (so `tail -f`/Wireshark see it while we run).
    fn flush_capture(&mut self, now: Instant) {
        if self.next_flush.is_some_and(|t| t <= now) {
            self.next_flush = None;
            self.tap.flush();
            if let Some(c) = self.capture.as_mut()
                && c.flush().is_err()
            {
                self.link_stats.capture_errors += 1;
            }
        }
    }

    fn take_commands(&mut self, now: Instant) {
        // Drain the eventfd before the try_recv that may find the channel empty (a command
        // sent after the drain leaves it readable again): at once if the poll saw it readable,
        // else only when a command turns up (then it was woken for the link or a deadline).
        let mut drained = false;
        if std::mem::take(&mut self.waker_ready) {
            self.drain_waker();
            drained = true;
        }
        for _ in 0..CMD_BATCH {
            let cmd = self.rx.try_recv();
            if cmd.is_ok() && !drained {
                self.drain_waker();
                drained = true;
            }
            match cmd {
                Ok(Cmd::Op { f, timeout }) => {
                    self.commands_taken += 1;
                    let deadline = timeout.map(|t| now + Duration::from(t));
                    self.pending.submit(&mut self.stack, now, f, deadline);
                }
                Ok(Cmd::Inline(f)) => {
                    self.commands_taken += 1;
                    f(&mut self.stack, &mut self.inline, now);
                }
                Ok(Cmd::Shutdown) | Err(TryRecvError::Disconnected) => self.shutdown = true,
                Err(TryRecvError::Empty) => return,
            }
        }
        // More commands queued: make sure the next ppoll returns at once.
        self.waker.wake();
    }

    fn drain_waker(&mut self) {
        self.waker.drain();
        self.link_stats.waker_reads += 1;
    }

    /// Drain the stack's packets through the outbound emulator onto the link.
    fn flush_out(&mut self, now: Instant) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(n) = self.stack.poll_transmit(now, &mut buf) {
            let gso = self.stack.last_transmit_gso();
            let Some(pkt) = buf.get(..n) else {
                log::error!(
                    "stack reported a {n}-byte packet in a {}-byte buffer",
                    buf.len()
                );
                break;
            };
            let comment = self.tap.on_send(now, &self.stack, pkt);
            self.record(now, Direction::Out, pkt, comment.as_deref());
            if self.tap.has_rules() {
                let mut out = Vec::new();
                self.tap.filter(now, Side::S2C, pkt.to_vec(), &mut out);
                for p in out {
                    self.outbound(now, p);
                }
                continue;
            }
            match self.impair_out.as_mut() {
                Some(imp) => imp.push(now, pkt.to_vec()),
                None => self.link_stats.send_gso(&mut self.link, pkt, gso),
            }
        }
        self.tap.sent_all();
        self.buf = buf;
        while let Some(pkt) = self.impair_out.as_mut().and_then(|i| i.poll_deliver(now)) {
            self.write_link(&pkt);
        }
    }

    fn write_link(&mut self, pkt: &[u8]) {
        self.link_stats.send(&mut self.link, pkt);
    }

    fn print_stats(&mut self, now: Instant) {
        let (Some(at), Some(every)) = (self.next_stats, self.stats_interval) else {
            return;
        };
        if at > now {
            return;
        }
        self.next_stats = Some(now + every);
        let conns = self.stack.tcp().connections();
        eprintln!("[{now}] {} connection(s)", conns.len());
        for c in &conns {
            eprintln!("  {}", format_connection(c));
        }
    }

    /// Block until the link or the eventfd is readable, or the next deadline (`poll::wait`;
    /// after a busy turn it first polls for up to `spin`).
    fn sleep(&mut self, busy: bool) -> io::Result<()> {
        let deadline = [
            self.stack.poll_timeout(),
            self.impair_in.as_ref().and_then(|i| i.poll_timeout()),
            self.impair_out.as_ref().and_then(|i| i.poll_timeout()),
            self.tap.poll_timeout(),
            self.pending.next_deadline(),
            self.next_stats,
            self.next_flush,
        ]
        .into_iter()
        .flatten()
        .min();
        let wait = super::poll::wait_for(deadline, self.clock.now());
        let woken = super::poll::wait(
            self.link.raw_fd(),
            self.waker.raw_fd(),
            wait,
            busy.then_some(self.spin),
            &mut self.link_stats,
        )?;
        self.waker_ready = woken.waker;
        Ok(())
    }
}
