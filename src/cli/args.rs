//! The command line, declared with clap derive.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::units;

#[derive(Parser, Debug)]
#[command(
    name = "tunstack",
    version,
    about = "A userspace TCP/IP stack on a Linux TUN device",
    long_about = "A userspace TCP/IP stack (our own IPv4, ICMP, UDP and TCP) on a Linux TUN device.\n\
                  The kernel side of the device gets --host-addr; our stack answers on --addr.\n\
                  Needs CAP_NET_ADMIN (root, setcap, or a persistent device you own: see docs/cli.md).",
    after_help = "Exit status: 0 ok, 1 runtime failure, 2 bad usage, 77 no privilege for the TUN device,\n\
                  130 `connect` interrupted by SIGINT/SIGTERM."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Bring up the stack on a TUN device and serve udp-echo, echo, discard, chargen, http, dns.
    #[command(
        after_help = "Example:\n  sudo tunstack up --serve echo,http --loss 1% --delay 20ms --pcap run.pcap\n  \
                            ping 198.18.0.2; curl http://198.18.0.2/bytes/1000000 | wc -c"
    )]
    Up(UpArgs),
    /// Connect with our TCP to HOST:PORT on the kernel side and copy stdin/stdout, like nc.
    #[command(
        after_help = "Example (kernel side listens: `nc -l 198.18.0.1 9000`):\n  \
                            echo hello | sudo tunstack connect 198.18.0.1:9000"
    )]
    Connect(ConnectArgs),
    /// Simulate a transfer over an emulated link in virtual time (no root); explain it.
    #[command(
        after_help = "Example:\n  tunstack sim --bytes 10mb --rtt 50ms --rate 20mbit --impair 'drop data#30' \\\n    \
                            --pcap sim.pcapng --trace sim.jsonl --plot plots/"
    )]
    Sim(super::sim::SimArgs),
    /// Plot a decision trace (from `tunstack sim --trace`) as SVG.
    Plot(super::plot::PlotArgs),
    /// Show the connections and counters of a running `tunstack up`, like `ss -ti`.
    Ss(super::ss::SsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct TunArgs {
    /// TUN device name (created if missing; a persistent device is attached to).
    #[arg(long = "tun", value_name = "NAME", default_value = "tunstack0", value_parser = units::ifname)]
    pub tun: String,
    /// Our stack's address and prefix.
    #[arg(long, value_name = "CIDR", default_value = "198.18.0.2/24", value_parser = units::cidr)]
    pub addr: (Ipv4Addr, u8),
    /// The kernel side's address on the device (same subnet as --addr).
    #[arg(long, value_name = "ADDR", default_value = "198.18.0.1")]
    pub host_addr: Ipv4Addr,
    /// Link MTU in bytes.
    #[arg(long, value_name = "N", default_value_t = 1500,
          value_parser = clap::value_parser!(u32).range(68..=65535))]
    pub mtu: u32,
    /// Record every packet in and out (as our stack sees them) to a pcap file for Wireshark.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Write the decision trace (JSON lines: every segment's cause, state changes, RTT, cwnd).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Stop recording past this size (units b, kb, mb, gb; 1kb = 1024 bytes).
    #[arg(long, value_name = "SIZE", default_value = "1gb", value_parser = units::size)]
    pub pcap_max_bytes: u64,
    /// Seed for every random choice (ISNs, ports, the emulator); default: from the clock.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// TUN offloads: the kernel and our stack exchange TCP super-segments of up to 64 KiB (one
    /// read or write instead of ~44 at MTU 1500; packets on the wire keep the MTU). Turned off
    /// while --pcap, --trace or the emulator is on: they work per packet. Default off:
    /// a capture on the device then shows one MSS-sized segment per packet (TUNSTACK_OFFLOAD=0 or 1
    /// sets the default).
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub offload: Option<String>,
    /// TCP maximum segment lifetime (TIME-WAIT lasts 2×MSL), e.g. 2s, 500ms.
    #[arg(long, value_name = "DURATION", value_parser = units::duration)]
    pub msl: Option<Duration>,
    /// TCP congestion control (default cubic, RFC 9438).
    #[arg(long, value_name = "ALGO", value_parser = ["newreno", "reno", "cubic", "none"])]
    pub cc: Option<String>,
    /// Negotiate TCP SACK (RFC 2018; default on).
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub sack: Option<String>,
    /// TCP loss detection: RACK-TLP (RFC 8985, default) or three duplicate ACKs.
    #[arg(long, value_name = "MODE", value_parser = ["rack", "dupack"])]
    pub recovery: Option<String>,
    /// Negotiate ECN (RFC 3168; default off).
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub ecn: Option<String>,
    /// Negotiate TCP timestamps (RFC 7323; default on). Off, F-RTO judges timeouts instead
    /// of Eifel.
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub timestamps: Option<String>,
    /// Undo window reductions shown spurious (Eifel, RFC 3522, and F-RTO; default on).
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub undo: Option<String>,
    /// F-RTO spurious-timeout detection without timestamps (RFC 5682; default on).
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub frto: Option<String>,
    /// Pace TCP data at gain × cwnd / SRTT in ~1 ms quanta (default off; docs/loss-recovery.md).
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub pacing: Option<String>,
    /// TCP connections at most (all states); further SYNs are dropped and counted.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// TCP send and receive buffer per connection, e.g. 64kb (default 256kb).
    #[arg(long, value_name = "SIZE", value_parser = units::size)]
    pub tcp_buffer: Option<u64>,
    /// TCP buffer memory of all connections together, e.g. 64mb (default unlimited); a new
    /// connection that would exceed it is refused like --max-connections, and counted.
    #[arg(long, value_name = "SIZE", value_parser = units::size)]
    pub tcp_memory: Option<u64>,
    /// Memory for IP fragment reassembly, all datagrams together (default 4mb); beyond it the
    /// oldest incomplete datagram is evicted and counted.
    #[arg(long, value_name = "SIZE", value_parser = units::size)]
    pub frag_mem: Option<u64>,
    /// Datagrams queued per UDP socket before new ones are dropped and counted (default 256).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub udp_queue: Option<u64>,
}

/// The link emulator, applied to each direction of the TUN path independently.
#[derive(Args, Debug, Clone, Default)]
pub struct EmuArgs {
    /// Drop this share of packets, e.g. 2% or 0.02.
    #[arg(long, value_name = "PCT", value_parser = units::percent, help_heading = "Link emulator (each direction)")]
    pub loss: Option<f64>,
    /// Delay every packet, e.g. 50ms.
    #[arg(long, value_name = "DURATION", value_parser = units::duration, help_heading = "Link emulator (each direction)")]
    pub delay: Option<Duration>,
    /// Add uniform random delay up to this much, e.g. 5ms.
    #[arg(long, value_name = "DURATION", value_parser = units::duration, help_heading = "Link emulator (each direction)")]
    pub jitter: Option<Duration>,
    /// Reorder this share of packets, e.g. 1%.
    #[arg(long, value_name = "PCT", value_parser = units::percent, help_heading = "Link emulator (each direction)")]
    pub reorder: Option<f64>,
    /// Duplicate this share of packets, e.g. 1%.
    #[arg(long, value_name = "PCT", value_parser = units::percent, help_heading = "Link emulator (each direction)")]
    pub duplicate: Option<f64>,
    /// Corrupt (flip a bit in) this share of packets, e.g. 0.1%.
    #[arg(long, value_name = "PCT", value_parser = units::percent, help_heading = "Link emulator (each direction)")]
    pub corrupt: Option<f64>,
    /// Bottleneck rate, e.g. 10mbit (bit, kbit, mbit, gbit).
    #[arg(long, value_name = "RATE", value_parser = units::rate, help_heading = "Link emulator (each direction)")]
    pub rate: Option<u64>,
    /// Bottleneck queue (tail drop beyond it), e.g. 64kb; needs --rate.
    #[arg(long, value_name = "SIZE", value_parser = units::size, requires = "rate",
          help_heading = "Link emulator (each direction)")]
    pub queue: Option<u64>,
    /// A scripted impairment, e.g. 'drop data#3' (repeatable; c2s = kernel → stack;
    /// see docs/observability.md).
    #[arg(
        long = "impair",
        value_name = "RULE",
        help_heading = "Link emulator (each direction)"
    )]
    pub impair: Vec<String>,
    /// A file of impairment rules, one per line.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Link emulator (each direction)"
    )]
    pub impair_file: Option<PathBuf>,
    /// Mark ECN-capable packets CE above this queue backlog instead of dropping (RFC 3168),
    /// e.g. 16kb; needs --rate.
    #[arg(long, value_name = "SIZE", value_parser = units::size, requires = "rate",
          help_heading = "Link emulator (each direction)")]
    pub ecn_mark: Option<u64>,
}

/// The services of `--serve`.
#[derive(Clone, Debug)]
pub struct ServeList(pub Vec<tunstack::services::Service>);

/// Which TCP/IP stack `up` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StackKind {
    /// Our own stack.
    Ours,
    /// smoltcp 0.14, the reference implementation (services echo, discard, chargen, http).
    Smoltcp,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub tun: TunArgs,
    /// The stack to run: ours, or smoltcp (the reference; see docs/reference.md).
    #[arg(long, value_enum, value_name = "STACK", default_value = "ours")]
    pub stack: StackKind,
    /// Services to run: comma list of udp-echo, echo, discard, chargen, http, dns; or all, none.
    #[arg(long, value_name = "LIST", default_value = "all",
          value_parser = |s: &str| tunstack::services::parse_list(s).map(ServeList))]
    pub serve: ServeList,
    /// Print per-connection statistics every SECS seconds (default 5) and at exit.
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true,
          default_missing_value = "5", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub stats: Option<u64>,
    /// Zone file for the dns service (`NAME TTL [IN] TYPE VALUE` lines, see docs/services.md);
    /// default: the built-in lab.test zone.
    #[arg(long, value_name = "FILE")]
    pub dns_zone: Option<PathBuf>,
    #[command(flatten)]
    pub emu: EmuArgs,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Where to connect, e.g. 198.18.0.1:9000 (the kernel side of the device).
    #[arg(value_name = "HOST:PORT")]
    pub target: String,
    /// Give up if the handshake takes longer, e.g. 10s.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = units::duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub tun: TunArgs,
    #[command(flatten)]
    pub emu: EmuArgs,
}
