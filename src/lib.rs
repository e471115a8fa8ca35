//! tunstack: a userspace TCP/IP stack for people who want to see and test TCP.
//!
//! Reading order (one concept per file):
//! - `time`: the stack's own `Instant`/`Duration` (a driver feeds it; the core never reads a clock)
//! - `rng`: seeded randomness (the core never asks the OS)
//! - `wire`: packet layouts, checksums, building packets
//! - `stack`: the sans-IO IPv4 host (`Stack`): IPv4 input/output, fragments, ICMP, UDP demux
//! - `tcp`: the TCP engine (RFC 9293)
//! - `link`: the link emulator (`Impair`) and the simulator
//! - `capture`: pcap files for Wireshark
//! - `trace`, `plot`: why the stack did what it did (decision trace, annotated captures, plots)
//! - `runtime`: the TUN driver thread (the only code that touches the OS)
//! - `api`: `std::net`-like blocking sockets over a running stack
//! - `services`: echo, discard, chargen, http, udp-echo

pub mod api;
pub mod capture;
pub mod link;
pub mod plot;
pub mod reference;
pub mod rng;
pub mod runtime;
pub mod services;
pub mod socket;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod trace;
pub mod wire;

pub use socket::{SocketError, SocketEvent, TcpHandle, UdpHandle};
pub use stack::{Stack, StackConfig, Stats};
pub use time::{Duration, Instant};
