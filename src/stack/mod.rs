//! The sans-IO IPv4 host: one `Stack` per address.
//!
//! Driven only through `handle_packet(now, bytes)` and `handle_timeout(now)`; it yields packets
//! through `poll_transmit(now, buf)` and its next deadline through `poll_timeout()`.
//! Call order for a driver: feed every received packet, call `handle_timeout` when the deadline
//! passed, then drain `poll_transmit` until `None`, then sleep until `poll_timeout()`.
//!
//! Files: `ipv4.rs` (input checks, dispatch, RFC 791/1122), `fragment.rs` (reassembly),
//! `output.rs` (the output queue and fragmentation), `icmp.rs` (RFC 792), `udp.rs` (RFC 768),
//! `stats.rs` (a counter per drop reason), `testkit.rs` (the scenario harness tests use).
//! Read next: `ipv4.rs`.

mod fragment;
mod icmp;
mod ipv4;
mod output;
mod stats;
pub mod testkit;
mod udp;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::rng::Rng;
use crate::socket::{SocketError, SocketEvent, TcpHandle, UdpHandle};
use crate::tcp::{Shutdown, TcpConfig, TcpInfo, TcpLayer};
use crate::time::{Duration, Instant};
use crate::wire::pretty;

use fragment::Reassembler;
use icmp::TokenBucket;
use output::OutQueue;
use stats::Counter;
pub use stats::{Kind as StatKind, Stats};
use udp::UdpTable;

/// Largest IPv4 datagram (RFC 791 §3.1: a 16-bit total length).
const MAX_DATAGRAM: usize = 65535;

/// Everything a `Stack` needs to know at birth. Randomness comes in as `seed`.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// Our IPv4 address and prefix length (the subnet we answer for).
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    /// Link MTU: the largest IPv4 datagram we send unfragmented.
    pub mtu: usize,
    /// TTL of the datagrams we originate.
    pub ttl: u8,
    /// Fragment reassembly: give up on a datagram after this long (RFC 791 suggests 15 s; Linux 30 s).
    pub frag_timeout: Duration,
    /// Fragment reassembly: total bytes buffered across all incomplete datagrams.
    pub frag_mem_limit: usize,
    /// Datagrams queued per UDP socket before new ones are dropped (counted).
    pub udp_queue_len: usize,
    /// ICMP errors we generate: at most this many per second (token bucket; RFC 1812 §4.3.2.8).
    pub icmp_error_rate: u32,
    /// Seeds every random choice (ISN key, ephemeral ports).
    pub seed: u64,
    pub tcp: TcpConfig,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            addr: Ipv4Addr::new(198, 18, 0, 2),
            prefix_len: 24,
            mtu: 1500,
            ttl: 64,
            frag_timeout: Duration::from_secs(30),
            frag_mem_limit: 4 * 1024 * 1024,
            udp_queue_len: 256,
            icmp_error_rate: 100,
            seed: 0,
            tcp: TcpConfig::default(),
        }
    }
}

/// One IPv4 host, sans IO.
pub struct Stack {
    cfg: StackConfig,
    stats: Stats,
    tcp: TcpLayer,
    /// Ephemeral ports (after the TCP key and seed were drawn).
    rng: Rng,
    /// Identification of the next datagram we originate (RFC 791 §3.2; seeded start).
    next_ip_id: u16,
    reassembly: Reassembler,
    icmp_bucket: TokenBucket,
    /// ICMP and UDP datagrams waiting for `poll_transmit`.
    out: OutQueue,
    udp: UdpTable,
    /// UDP socket events, merged with the TCP layer's in `poll_event`.
    events: VecDeque<SocketEvent>,
    /// `poll_transmit` alternates between TCP and the ICMP/UDP queue when both have packets.
    tcp_first: bool,
    /// The packet `poll_transmit` wrote last is a TCP super-segment of this segment size.
    last_gso: Option<u16>,
}

impl Stack {
    pub fn new(cfg: StackConfig) -> Self {
        let mut rng = crate::rng::Rng::new(cfg.seed);
        let mut key = [0u8; 16];
        rng.fill(&mut key);
        let mut tcp = TcpLayer::new(cfg.tcp.clone(), key, rng.next_u64());
        tcp.set_mtu(cfg.mtu);
        let next_ip_id = rng.next_u32() as u16;
        Stack {
            reassembly: Reassembler::new(cfg.frag_mem_limit, cfg.frag_timeout),
            icmp_bucket: TokenBucket::new(cfg.icmp_error_rate),
            out: OutQueue::default(),
            udp: UdpTable::default(),
            events: VecDeque::new(),
            tcp_first: false,
            last_gso: None,
            next_ip_id,
            rng,
            cfg,
            stats: Stats::default(),
            tcp,
        }
    }

    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.cfg.addr
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Incomplete datagrams held for reassembly, and the bytes charged for them.
    pub fn reassembly_pending(&self) -> (usize, usize) {
        (self.reassembly.len(), self.reassembly.mem())
    }

    /// Datagrams waiting in the ICMP/UDP output queue.
    pub fn out_queue_len(&self) -> usize {
        self.out.len()
    }

    // ---- driver side ----

    /// One IP packet as read from the link (the TUN gives raw IP, no link header).
    /// Its outcome is counted exactly once: a `delivered_*` counter or a `drop_*` reason.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.stats.packets_in += 1;
        let outcome = self.ip_input(now, packet);
        match outcome {
            // Other IP versions are routine on a fresh TUN (IPv6 router solicitations): quiet.
            Counter::drop_ipv6 | Counter::drop_bad_version => {
                log::trace!("ipv4: {} ({} bytes)", outcome.name(), packet.len())
            }
            c if c.name().starts_with("drop_") => {
                log::debug!("ipv4: {}: {}", c.name(), pretty::summary(packet))
            }
            c => log::trace!("ipv4: {}: {}", c.name(), pretty::summary(packet)),
        }
        self.stats.record(outcome);
    }

    /// `handle_packet` for a packet whose TCP checksum the link vouches for: with offloads the
    /// local kernel hands over segments it built in memory with the checksum left partial
    /// (virtio NEEDS_CSUM, Linux CHECKSUM_PARTIAL, which Linux itself trusts on receive), so
    /// the 64 KiB sum is not computed only to be checked. Everything else is validated as usual.
    pub fn handle_packet_offloaded(&mut self, now: Instant, packet: &[u8]) {
        self.tcp.csum_trusted = true;
        self.handle_packet(now, packet);
        self.tcp.csum_trusted = false;
    }

    /// Fire every timer whose deadline is ≤ `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tcp.handle_timeout(now);
        self.expire_fragments(now);
    }

    /// Write the next outgoing IPv4 packet into `buf` (at least `mtu` bytes); its length, or `None`.
    /// TCP and the ICMP/UDP queue take turns when both have something to send. With
    /// `TcpConfig::offload`, a TCP packet may be a super-segment of up to 64 KiB (see
    /// `last_transmit_gso`) when `buf` has room for it.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.last_gso = None;
        let mtu = buf.len().min(self.mtu());
        let tcp_limit = if self.cfg.tcp.offload {
            buf.len().min(MAX_DATAGRAM).max(mtu)
        } else {
            mtu
        };
        for tcp_turn in [self.tcp_first, !self.tcp_first] {
            let sent = if tcp_turn {
                let n = self.transmit_tcp(now, buf.get_mut(..tcp_limit)?);
                self.last_gso = n.and(self.tcp.last_transmit_gso());
                n
            } else {
                self.transmit_queued(buf.get_mut(..mtu)?)
            };
            if let Some(n) = sent {
                self.tcp_first = !tcp_turn;
                self.stats.packets_out += 1;
                log::trace!(
                    "ipv4: out: {}",
                    pretty::summary(buf.get(..n).unwrap_or(buf))
                );
                return Some(n);
            }
        }
        None
    }

    /// If the packet `poll_transmit` wrote last is a TCP super-segment (offload), the payload
    /// bytes per segment the link must cut it into; its TCP checksum is then partial (the
    /// pseudo-header sum, for the link to complete from the TCP header on).
    pub fn last_transmit_gso(&self) -> Option<u16> {
        self.last_gso
    }

    /// The earliest time `handle_timeout` must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.tcp.poll_timeout(), self.reassembly.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Sockets whose state changed since the last call (UDP first, then the TCP layer's).
    pub fn poll_event(&mut self) -> Option<SocketEvent> {
        self.events.pop_front().or_else(|| self.tcp.poll_event())
    }

    // ---- UDP (RFC 768) ----

    /// Bind a UDP socket. Port 0 picks an ephemeral port; address 0.0.0.0 = any of ours.
    pub fn udp_bind(&mut self, local: SocketAddrV4) -> Result<UdpHandle, SocketError> {
        self.udp.bind(local, self.cfg.addr, &mut self.rng)
    }

    /// Only datagrams from `remote` are delivered; `send` goes to it.
    pub fn udp_connect(&mut self, h: UdpHandle, remote: SocketAddrV4) -> Result<(), SocketError> {
        self.udp.connect(h, remote)
    }

    pub fn udp_send_to(
        &mut self,
        now: Instant,
        h: UdpHandle,
        data: &[u8],
        to: SocketAddrV4,
    ) -> Result<usize, SocketError> {
        let _ = now;
        self.udp_output(h, data, Some(to))
    }

    /// To the connected remote.
    pub fn udp_send(
        &mut self,
        now: Instant,
        h: UdpHandle,
        data: &[u8],
    ) -> Result<usize, SocketError> {
        let _ = now;
        self.udp_output(h, data, None)
    }

    /// Next queued datagram (truncated to `buf`, as recv_from(2) does) and its sender; WouldBlock if none.
    pub fn udp_recv_from(
        &mut self,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddrV4), SocketError> {
        self.udp.recv_from(h, buf)
    }

    /// A pending ICMP error (e.g. ConnectionRefused after port unreachable) on a connected socket.
    pub fn udp_take_error(&mut self, h: UdpHandle) -> Option<SocketError> {
        self.udp.take_error(h)
    }

    pub fn udp_local_addr(&self, h: UdpHandle) -> Result<SocketAddrV4, SocketError> {
        self.udp.local_addr(h)
    }

    pub fn udp_peer_addr(&self, h: UdpHandle) -> Result<SocketAddrV4, SocketError> {
        self.udp.peer_addr(h)
    }

    pub fn udp_close(&mut self, h: UdpHandle) {
        self.udp.close(h);
        self.events.retain(|e| *e != SocketEvent::Udp(h));
    }

    /// Datagrams waiting in a UDP socket's receive queue.
    pub fn udp_queued(&self, h: UdpHandle) -> Result<usize, SocketError> {
        self.udp.queued(h)
    }

    // ---- TCP: forwarded to the TCP layer ----

    pub fn tcp(&self) -> &TcpLayer {
        &self.tcp
    }

    pub fn tcp_mut(&mut self) -> &mut TcpLayer {
        &mut self.tcp
    }

    pub fn tcp_listen(&mut self, local: SocketAddrV4) -> Result<TcpHandle, SocketError> {
        self.tcp.listen(local)
    }

    pub fn tcp_accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, SocketError> {
        self.tcp.accept(listener)
    }

    pub fn tcp_connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, SocketError> {
        let local = SocketAddrV4::new(self.cfg.addr, 0);
        self.tcp.connect(now, local, remote)
    }

    pub fn tcp_send(
        &mut self,
        now: Instant,
        h: TcpHandle,
        data: &[u8],
    ) -> Result<usize, SocketError> {
        self.tcp.send(now, h, data)
    }

    pub fn tcp_recv(
        &mut self,
        now: Instant,
        h: TcpHandle,
        buf: &mut [u8],
    ) -> Result<usize, SocketError> {
        self.tcp.recv(now, h, buf)
    }

    pub fn tcp_shutdown(
        &mut self,
        now: Instant,
        h: TcpHandle,
        how: Shutdown,
    ) -> Result<(), SocketError> {
        self.tcp.shutdown(now, h, how)
    }

    pub fn tcp_close(&mut self, now: Instant, h: TcpHandle) {
        self.tcp.close(now, h)
    }

    pub fn tcp_abort(&mut self, now: Instant, h: TcpHandle) {
        self.tcp.abort(now, h)
    }

    pub fn tcp_info(&self, h: TcpHandle) -> Option<TcpInfo> {
        self.tcp.info(h)
    }
}
