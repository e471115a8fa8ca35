//! The runtime: the only code that touches the OS (a TUN fd, an eventfd, a clock, a thread).
//!
//! One driver thread owns the sans-IO `Stack` and the link fd. It sleeps in `ppoll(2)` on
//! {link fd, wake-up eventfd} until the next deadline (stack timers, emulator queues, blocked
//! API calls), and is woken by API calls (`api::Net`) and by SIGINT/SIGTERM. Read next: `api`.

mod device;
mod driver;
mod link;
mod offload;
mod ops;
mod poll;
pub mod signals;
mod smol_driver;
mod smol_services;
mod waker;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::thread::JoinHandle;

pub use device::{DeviceError, TunDevice, TunOptions, offload_from_env};
pub use link::Link;
pub(crate) use ops::{Cmd, InlineFn, OpFn, Step};
pub use smol_driver::{SmolReport, SmolRuntime, SmolRuntimeConfig};
pub use smol_services::{ConnSummary, SMOL_SERVICES, ServiceCounters, SmolServices};
pub(crate) use waker::Waker;

use crate::api::Net;
use crate::link::{ImpairConfig, ImpairStats};
use crate::stack::{StackConfig, Stats};
use crate::tcp::{TcpInfo, TcpStats};

/// How to run a stack on a link.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    pub stack: StackConfig,
    /// The emulator, applied to each direction independently (`None` = a clean link).
    pub impair: Option<ImpairConfig>,
    /// Seeds the emulator (inbound uses `seed`, outbound `seed ^ 1`).
    pub impair_seed: u64,
    /// Record every packet in and out to this pcap file, at most this many bytes.
    pub pcap: Option<(PathBuf, u64)>,
    /// Print per-connection statistics to stderr this often (`None` = never; the report at
    /// shutdown is returned either way).
    pub stats_interval: Option<std::time::Duration>,
    /// Scripted impairments (docs/observability.md); on a TUN `c2s` is kernel → stack.
    pub rules: Vec<crate::link::rules::Rule>,
    /// Write the decision trace (JSON lines, docs/trace-schema.md) to this file.
    pub trace: Option<PathBuf>,
}

/// Counters of the link itself (what the driver read and wrote).
#[derive(Clone, Debug, Default)]
pub struct LinkStats {
    pub packets_read: u64,
    pub packets_written: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Writes that failed (e.g. the device queue was full); the packet is dropped.
    pub write_errors: u64,
    pub capture_errors: u64,
    /// Packets recorded, and packets not recorded because `--pcap-max-bytes` was reached.
    pub capture_packets: u64,
    pub capture_skipped: u64,
    /// Offloads: TCP super-segments written (each counted once in `packets_written`), and
    /// packets read whose `virtio_net_hdr` was malformed (dropped).
    pub gso_written: u64,
    pub vnet_drops: u64,
    /// The driver's own syscalls besides packet reads and writes (`tunstack up` prints them):
    /// `ppoll(2)` calls, link reads that found nothing (EAGAIN), reads of the wake-up eventfd.
    pub polls: u64,
    pub empty_reads: u64,
    pub waker_reads: u64,
}

impl LinkStats {
    /// The `syscalls:` line of an exit report.
    pub(crate) fn syscalls_line(&self) -> String {
        format!(
            "syscalls: {} ppoll, {} link reads finding nothing, {} wake-up fd reads (besides the packet reads and writes above)",
            self.polls, self.empty_reads, self.waker_reads
        )
    }

    /// Write one packet to the link and count it; a failed write drops the packet (counted).
    pub(crate) fn send(&mut self, link: &mut Link, pkt: &[u8]) {
        self.send_gso(link, pkt, None);
    }

    /// `send`, for a TCP super-segment of `gso`-byte segments when `gso` is set.
    pub(crate) fn send_gso(&mut self, link: &mut Link, pkt: &[u8], gso: Option<u16>) {
        match link.send_gso(pkt, gso) {
            Ok(_) => {
                self.packets_written += 1;
                self.bytes_written += pkt.len() as u64;
                self.gso_written += u64::from(gso.is_some());
            }
            Err(e) => {
                self.write_errors += 1;
                log::debug!("link write failed ({e}); packet dropped");
            }
        }
    }
}

/// What the driver saw, returned when it stops.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub stack: Stats,
    pub tcp: TcpStats,
    pub connections: Vec<TcpInfo>,
    pub link: LinkStats,
    pub impair_in: Option<ImpairStats>,
    pub impair_out: Option<ImpairStats>,
}

/// One line per connection: state, bytes, RTT, RTO, cwnd, retransmits.
pub fn format_connection(c: &TcpInfo) -> String {
    let addr = |a: Option<std::net::SocketAddrV4>| a.map_or("-".to_string(), |a| a.to_string());
    let srtt = c.srtt.map_or("-".to_string(), |d| format!("{d}"));
    format!(
        "{} -> {} {} sent={} recv={} srtt={} rto={} cwnd={} ssthresh={} retrans={}",
        addr(c.local),
        addr(c.remote),
        c.state,
        c.bytes_sent,
        c.bytes_received,
        srtt,
        c.rto,
        c.cwnd,
        c.ssthresh,
        c.retransmits
    )
}

/// `Stats { a: 3, b: 0, c: 1 }` (a counters struct's Debug) → `a=3 c=1 (other counters 0)`:
/// every counter the stack gains shows up without touching this code.
pub fn nonzero_counters(debug: &str) -> String {
    let inner = debug
        .split_once('{')
        .map_or(debug, |(_, rest)| rest.trim_end().trim_end_matches('}'));
    let mut shown = Vec::new();
    let mut zeros = 0;
    for field in inner.split(", ") {
        let Some((name, value)) = field.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value == "0" {
            zeros += 1;
        } else {
            shown.push(format!("{}={value}", name.trim()));
        }
    }
    if shown.is_empty() {
        return "all counters 0".to_string();
    }
    if zeros > 0 {
        shown.push(format!("(other {zeros} counters 0)"));
    }
    shown.join(" ")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "connections: {}", self.connections.len())?;
        for c in &self.connections {
            writeln!(f, "  {}", format_connection(c))?;
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
        if l.gso_written + l.vnet_drops > 0 {
            writeln!(
                f,
                "offload: {} super-segments written, {} packets with a malformed vnet header dropped",
                l.gso_written, l.vnet_drops
            )?;
        }
        if l.capture_packets + l.capture_skipped > 0 {
            writeln!(
                f,
                "capture: {} packets recorded, {} skipped (size limit)",
                l.capture_packets, l.capture_skipped
            )?;
        }
        writeln!(
            f,
            "stack: {}",
            nonzero_counters(&format!("{:?}", self.stack))
        )?;
        writeln!(f, "tcp: {}", nonzero_counters(&format!("{:?}", self.tcp)))?;
        // The summaries above show what happened; these keep every counter for scripts.
        writeln!(f, "stack counters: {:?}", self.stack)?;
        writeln!(f, "tcp counters: {:?}", self.tcp)?;
        if let Some(s) = &self.impair_in {
            writeln!(f, "emulator in: {}", nonzero_counters(&format!("{s:?}")))?;
        }
        if let Some(s) = &self.impair_out {
            writeln!(f, "emulator out: {}", nonzero_counters(&format!("{s:?}")))?;
        }
        Ok(())
    }
}

/// A running stack: the driver thread and a `Net` handle to it.
pub struct Runtime {
    net: Net,
    thread: Option<JoinHandle<io::Result<Report>>>,
}

impl Runtime {
    /// Start the driver thread on `link`. Fails if the capture file cannot be created.
    pub fn start(link: Link, cfg: RuntimeConfig) -> io::Result<Runtime> {
        let waker = std::sync::Arc::new(Waker::new()?);
        let (tx, rx) = crossbeam_channel::unbounded();
        let net = Net::new(tx, waker.clone());
        let driver = driver::Driver::new(link, cfg, rx, waker)?;
        let thread = std::thread::Builder::new()
            .name("tunstack-driver".into())
            .spawn(move || driver.run())?;
        Ok(Runtime {
            net,
            thread: Some(thread),
        })
    }

    /// A handle for the blocking sockets of `api`; clone it freely.
    pub fn net(&self) -> Net {
        self.net.clone()
    }

    /// Ask the driver to stop and wait for its report.
    pub fn shutdown(mut self) -> io::Result<Report> {
        self.net.request_shutdown();
        self.join_inner()
    }

    /// Wait until the driver stops by itself (a signal, or `Net::request_shutdown`).
    pub fn wait(mut self) -> io::Result<Report> {
        self.join_inner()
    }

    fn join_inner(&mut self) -> io::Result<Report> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("the driver thread panicked"))?,
            None => Err(io::Error::other("runtime already stopped")),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.net.request_shutdown();
            let _ = self.join_inner();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_print_only_what_happened() {
        let s = Stats {
            packets_in: 5,
            ..Stats::default()
        };
        let line = nonzero_counters(&format!("{s:?}"));
        assert!(line.starts_with("packets_in=5"), "{line}");
        assert!(!line.contains("packets_out"), "{line}");
        assert_eq!(
            nonzero_counters(&format!("{:?}", Stats::default())),
            "all counters 0"
        );
    }
}
