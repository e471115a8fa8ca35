//! The driver of `tunstack up --stack smoltcp`: the reference stack (`reference::SmolStack`,
//! through `Endpoint`/`TcpEndpoint`) on the same link, emulator and capture as our stack's
//! driver, with the services of `smol_services` stepped in the same thread.
//!
//! One loop: read the link → emulator → stack; timers; services; stack → emulator → link;
//! then `ppoll(2)` on {link fd, eventfd} until the earliest deadline (stack, emulator queues,
//! `--stats`, capture flush). No busy loop: with nothing due the timeout is infinite. The
//! runtime is our driver's (`driver.rs`): the first packet of a wake-up gets a turn of its
//! own, the eventfd is read only when it woke us, and the same `poll::wait` (with
//! `TUNSTACK_SPIN_US`), so that the comparison differs only in the stack.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use super::smol_services::{ConnSummary, ServiceCounters, SmolServices};
use super::{Link, LinkStats, Waker, nonzero_counters};
use crate::capture::{Capture, Direction};
use crate::link::endpoint::{Endpoint, TcpEndpoint};
use crate::link::{Impair, ImpairConfig, ImpairStats};
use crate::reference::{SmolConfig, SmolStack, SmolStats};
use crate::services::Service;
use crate::time::{Duration, Instant};

const READ_BATCH: usize = 256;
const CAPTURE_FLUSH_EVERY: Duration = Duration::from_secs(1);
const MAX_PACKET: usize = 65535;

/// How to run the reference stack on a link.
#[derive(Clone, Debug, Default)]
pub struct SmolRuntimeConfig {
    pub smol: SmolConfig,
    pub services: Vec<Service>,
    pub impair: Option<ImpairConfig>,
    /// Inbound uses `impair_seed`, outbound `impair_seed ^ 1` (as our driver).
    pub impair_seed: u64,
    pub pcap: Option<(PathBuf, u64)>,
    pub stats_interval: Option<std::time::Duration>,
}

/// What the smoltcp driver saw, returned when it stops.
#[derive(Clone, Debug, Default)]
pub struct SmolReport {
    pub stack: SmolStats,
    pub services: Vec<(Service, ServiceCounters)>,
    /// Service connections open at the stop (each was reset).
    pub connections: Vec<ConnSummary>,
    /// States of every TCP socket still in smoltcp's set (closing ones included).
    pub tcp_states: Vec<&'static str>,
    pub link: LinkStats,
    pub impair_in: Option<ImpairStats>,
    pub impair_out: Option<ImpairStats>,
}

impl fmt::Display for SmolReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "connections: {} (reset at stop)", self.connections.len())?;
        for c in &self.connections {
            writeln!(f, "  {c}")?;
        }
        let l = &self.link;
        writeln!(
            f,
            "link: read {} packets ({} bytes), wrote {} packets ({} bytes), write errors {}, capture errors {}",
            l.packets_read,
            l.bytes_read,
            l.packets_written,
            l.bytes_written,
            l.write_errors,
            l.capture_errors
        )?;
        writeln!(f, "{}", l.syscalls_line())?;
        if l.capture_packets + l.capture_skipped > 0 {
            writeln!(
                f,
                "capture: {} packets recorded, {} skipped (size limit)",
                l.capture_packets, l.capture_skipped
            )?;
        }
        writeln!(
            f,
            "stack (smoltcp): {}",
            nonzero_counters(&format!("{:?}", self.stack))
        )?;
        writeln!(f, "tcp sockets left: {:?}", self.tcp_states)?;
        for (svc, k) in &self.services {
            writeln!(f, "service {svc}: {}", nonzero_counters(&format!("{k:?}")))?;
        }
        if let Some(s) = &self.impair_in {
            writeln!(f, "emulator in: {}", nonzero_counters(&format!("{s:?}")))?;
        }
        if let Some(s) = &self.impair_out {
            writeln!(f, "emulator out: {}", nonzero_counters(&format!("{s:?}")))?;
        }
        Ok(())
    }
}

/// The stack's clock: microseconds since the driver started, and the wall clock for pcap.
struct Clock {
    start: std::time::Instant,
    wall_start: u64,
}

impl Clock {
    fn new() -> Clock {
        let wall_start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Clock {
            start: std::time::Instant::now(),
            wall_start,
        }
    }
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }
    fn wall(&self, t: Instant) -> u64 {
        self.wall_start + t.total_micros()
    }
}

/// A running reference stack: its driver thread.
pub struct SmolRuntime {
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<SmolReport>>>,
}

impl SmolRuntime {
    /// Start the driver thread on `link`: listens for the services first (an unsupported one
    /// is an `InvalidInput` error), creates the capture file.
    pub fn start(link: Link, cfg: SmolRuntimeConfig) -> io::Result<SmolRuntime> {
        let waker = Arc::new(Waker::new()?);
        let stop = Arc::new(AtomicBool::new(false));
        let driver = SmolDriver::new(link, cfg, waker.clone(), stop.clone())?;
        let thread = std::thread::Builder::new()
            .name("tunstack-smoltcp".into())
            .spawn(move || driver.run())?;
        Ok(SmolRuntime {
            waker,
            stop,
            thread: Some(thread),
        })
    }

    /// Route SIGINT/SIGTERM of this process to a clean stop of this driver.
    pub fn install_signal_handlers(&self) -> io::Result<()> {
        super::signals::install_wake_fd(self.waker_fd())
    }

    fn waker_fd(&self) -> RawFd {
        self.waker.raw_fd()
    }

    pub fn request_shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    /// Ask the driver to stop and wait for its report.
    pub fn shutdown(mut self) -> io::Result<SmolReport> {
        self.request_shutdown();
        self.join_inner()
    }

    /// Wait until the driver stops (a signal, or `request_shutdown` from another thread).
    pub fn wait(mut self) -> io::Result<SmolReport> {
        self.join_inner()
    }

    fn join_inner(&mut self) -> io::Result<SmolReport> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("the smoltcp driver thread panicked"))?,
            None => Err(io::Error::other("runtime already stopped")),
        }
    }
}

impl Drop for SmolRuntime {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.request_shutdown();
            let _ = self.join_inner();
        }
    }
}

struct SmolDriver {
    link: Link,
    stack: SmolStack,
    services: SmolServices,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    impair_in: Option<Impair>,
    impair_out: Option<Impair>,
    capture: Option<Capture>,
    next_flush: Option<Instant>,
    stats_interval: Option<Duration>,
    next_stats: Option<Instant>,
    clock: Clock,
    link_stats: LinkStats,
    buf: Vec<u8>,
    /// Connections open when the driver was asked to stop (they are reset then).
    open_at_stop: Vec<ConnSummary>,
    /// As our driver's: polling after a busy turn, and whether to drain the eventfd.
    spin: std::time::Duration,
    waker_ready: bool,
}

impl SmolDriver {
    fn new(
        link: Link,
        cfg: SmolRuntimeConfig,
        waker: Arc<Waker>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<SmolDriver> {
        link.set_nonblocking()?;
        let addr: Ipv4Addr = cfg.smol.addr;
        let mut stack = SmolStack::new(cfg.smol);
        let services = SmolServices::start(&mut stack, addr, &cfg.services)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let capture = match &cfg.pcap {
            Some((path, max)) => Some(Capture::create(path, *max).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            })?),
            None => None,
        };
        let imp = cfg.impair.filter(|c| !c.is_transparent());
        let stats_interval = cfg
            .stats_interval
            .filter(|d| !d.is_zero())
            .map(Duration::from);
        Ok(SmolDriver {
            link,
            stack,
            services,
            waker,
            stop,
            impair_in: imp.clone().map(|c| Impair::new(c, cfg.impair_seed)),
            impair_out: imp.map(|c| Impair::new(c, cfg.impair_seed ^ 1)),
            capture,
            next_flush: None,
            next_stats: stats_interval.map(|d| Instant::ZERO + d),
            stats_interval,
            clock: Clock::new(),
            link_stats: LinkStats::default(),
            buf: vec![0; MAX_PACKET],
            open_at_stop: Vec::new(),
            spin: super::poll::spin_from_env(0),
            waker_ready: true,
        })
    }

    fn run(mut self) -> io::Result<SmolReport> {
        let result = self.run_loop();
        if let Some(c) = self.capture.as_mut()
            && let Err(e) = c.flush()
        {
            log::warn!("flushing the capture: {e}");
        }
        result?;
        Ok(SmolReport {
            stack: self.stack.stats().clone(),
            services: self.services.counters().to_vec(),
            connections: std::mem::take(&mut self.open_at_stop),
            tcp_states: self.stack.tcp_states(),
            link: LinkStats {
                capture_packets: self.capture.as_ref().map_or(0, |c| c.packets()),
                capture_skipped: self.capture.as_ref().map_or(0, |c| c.skipped()),
                ..self.link_stats.clone()
            },
            impair_in: self.impair_in.as_ref().map(|i| i.stats().clone()),
            impair_out: self.impair_out.as_ref().map(|i| i.stats().clone()),
        })
    }

    fn run_loop(&mut self) -> io::Result<()> {
        loop {
            let now = self.clock.now();
            if std::mem::take(&mut self.waker_ready) {
                self.waker.drain();
                self.link_stats.waker_reads += 1;
            }
            let read_before = self.link_stats.packets_read;
            let mut moved = false;
            // As our driver: the first packet answered before the rest of the batch is read.
            let first = self.read_link(now, 1)?;
            if self.turn(now, &mut moved) {
                return Ok(());
            }
            if first > 0 {
                let now = self.clock.now();
                if self.read_link(now, READ_BATCH - 1)? > 0 && self.turn(now, &mut moved) {
                    return Ok(());
                }
            }
            self.print_stats(now);
            self.flush_capture(now);
            self.sleep(moved || self.link_stats.packets_read != read_before)?;
        }
    }

    /// Everything after reading the link; true when the driver is to stop. `moved`: a
    /// service did something.
    fn turn(&mut self, now: Instant, moved: &mut bool) -> bool {
        while let Some(pkt) = self.impair_in.as_mut().and_then(|i| i.poll_deliver(now)) {
            self.input(now, &pkt);
        }
        if self.stop.load(Ordering::SeqCst) || super::signals::requested() {
            self.open_at_stop = self.services.connections(&self.stack);
            self.services.abort_all(&mut self.stack, now);
            self.flush_out(now);
            return true;
        }
        if self.stack.poll_timeout().is_some_and(|t| t <= now) {
            self.stack.handle_timeout(now);
        }
        // Services and output until neither moves: a FIN queued by a close, or room
        // freed in a send buffer, is acted on now rather than at the next packet.
        for _ in 0..8 {
            let m = self.services.run(&mut self.stack, now);
            self.flush_out(now);
            *moved |= m;
            if !m {
                break;
            }
        }
        false
    }

    /// Read up to `max` packets (fewer when the link has no more); how many were read.
    fn read_link(&mut self, now: Instant, max: usize) -> io::Result<usize> {
        let before = self.link_stats.packets_read;
        for _ in 0..max {
            let n = match self.link.recv(&mut self.buf, false) {
                Ok((0, _)) => return Err(io::Error::other("the link was closed")),
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.link_stats.empty_reads += 1;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io::Error::new(e.kind(), format!("reading the link: {e}"))),
            };
            self.link_stats.packets_read += 1;
            self.link_stats.bytes_read += n as u64;
            let pkt = std::mem::take(&mut self.buf);
            match self.impair_in.as_mut() {
                Some(imp) => imp.push(now, pkt[..n].to_vec()),
                None => self.input(now, &pkt[..n]),
            }
            self.buf = pkt;
        }
        Ok((self.link_stats.packets_read - before) as usize)
    }

    fn input(&mut self, now: Instant, pkt: &[u8]) {
        self.record(now, Direction::In, pkt);
        self.stack.handle_packet(now, pkt);
    }

    fn record(&mut self, now: Instant, dir: Direction, pkt: &[u8]) {
        if let Some(c) = self.capture.as_mut() {
            if c.write(self.clock.wall(now), dir, pkt).is_err() {
                self.link_stats.capture_errors += 1;
            }
            self.next_flush.get_or_insert(now + CAPTURE_FLUSH_EVERY);
        }
    }

    fn flush_capture(&mut self, now: Instant) {
        if self.next_flush.is_some_and(|t| t <= now) {
            self.next_flush = None;
            if let Some(c) = self.capture.as_mut()
                && c.flush().is_err()
            {
                self.link_stats.capture_errors += 1;
            }
        }
    }

    fn flush_out(&mut self, now: Instant) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(n) = self.stack.poll_transmit(now, &mut buf) {
            let Some(pkt) = buf.get(..n) else { break };
            self.record(now, Direction::Out, pkt);
            match self.impair_out.as_mut() {
                Some(imp) => imp.push(now, pkt.to_vec()),
                None => self.write_link(pkt),
            }
        }
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
        let conns = self.services.connections(&self.stack);
        eprintln!("[{now}] {} connection(s) (smoltcp)", conns.len());
        for c in &conns {
            eprintln!("  {c}");
        }
    }

    /// Block until the link or the eventfd is readable, or the next deadline (`poll::wait`,
    /// as our driver: after a busy turn it first polls for up to `spin`).
    fn sleep(&mut self, busy: bool) -> io::Result<()> {
        let deadline = [
            self.stack.poll_timeout(),
            self.impair_in.as_ref().and_then(|i| i.poll_timeout()),
            self.impair_out.as_ref().and_then(|i| i.poll_timeout()),
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
