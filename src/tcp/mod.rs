//! TCP (RFC 9293): the sans-IO engine. No clock, no fd, no thread, no RNG of its own.
//!
//! `TcpLayer` is what `Stack` talks to: it owns every listener and connection of one host,
//! takes segments that IPv4 delivered and timer ticks, and yields segments to send.
//!
//! SKELETON: the interface below is fixed (the stack and the runtime are written against it);
//! the engine behind it is being written in `src/tcp/`.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::socket::{SocketError, SocketEvent, TcpHandle};
use crate::time::{Duration, Instant};

/// Tunables of the TCP engine. Defaults follow the RFCs; labs change them.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Send and receive buffer size per connection, bytes.
    pub send_buffer: usize,
    pub recv_buffer: usize,
    /// TIME-WAIT lasts 2×MSL (RFC 9293 §3.4.2: MSL = 2 minutes; labs shorten it).
    pub msl: Duration,
    /// Initial RTO (RFC 6298 §2.1: 1 s), and the bounds on RTO.
    pub initial_rto: Duration,
    pub min_rto: Duration,
    pub max_rto: Duration,
    /// Give up and abort with TimedOut after this many retransmissions of one segment.
    pub max_retries: u32,
    /// Delayed-ACK timer (RFC 9293 §3.8.6.3: < 0.5 s); zero disables delayed ACKs.
    pub delayed_ack: Duration,
    /// Keep-alive idle time (RFC 1122 §4.2.3.6); `None` = off (the default).
    pub keepalive: Option<Duration>,
    /// SYN queue and accept queue bound per listener.
    pub backlog: usize,
    /// Upper bound on connections (all states) in this layer.
    pub max_connections: usize,
    /// Negotiate window scaling / timestamps / SACK-permitted.
    pub window_scaling: bool,
    pub timestamps: bool,
    pub sack: bool,
    /// Congestion control algorithm name ("newreno", "reno", "none").
    pub cc: String,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            msl: Duration::from_secs(120),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            max_retries: 15,
            delayed_ack: Duration::from_millis(40),
            keepalive: None,
            backlog: 128,
            max_connections: 65536,
            window_scaling: true,
            timestamps: true,
            sack: true,
            cc: "newreno".to_string(),
        }
    }
}

/// Which direction(s) `shutdown` closes (as `std::net::Shutdown`).
pub use std::net::Shutdown;

/// A snapshot of one connection, for `--stats` and tests.
#[derive(Clone, Debug, Default)]
pub struct TcpInfo {
    pub local: Option<SocketAddrV4>,
    pub remote: Option<SocketAddrV4>,
    /// RFC 9293 state name, e.g. "ESTABLISHED".
    pub state: &'static str,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub retransmits: u64,
    pub srtt: Option<Duration>,
    pub rto: Duration,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
}

/// Counters of the TCP layer: every dropped segment is counted under a reason.
#[derive(Clone, Debug, Default)]
pub struct TcpStats {
    pub segments_in: u64,
    pub segments_out: u64,
    pub retransmits: u64,
    pub drop_bad_checksum: u64,
    pub drop_malformed: u64,
    pub rst_sent: u64,
    pub connections_opened: u64,
}

/// Every TCP endpoint of one host.
pub struct TcpLayer {
    #[allow(dead_code)]
    cfg: TcpConfig,
    stats: TcpStats,
}

impl TcpLayer {
    /// `isn_key` keys the RFC 6528 ISN hash; `seed` seeds any other choice (ephemeral ports).
    pub fn new(cfg: TcpConfig, isn_key: [u8; 16], seed: u64) -> Self {
        let _ = (isn_key, seed);
        TcpLayer {
            cfg,
            stats: TcpStats::default(),
        }
    }

    // ---- input from IPv4 ----

    /// A TCP segment addressed to us (`segment` = TCP header + payload; checksum not yet verified).
    pub fn handle_segment(&mut self, now: Instant, src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) {
        let _ = (now, src, dst, segment);
    }

    /// An ICMP error (RFC 1122 §4.2.3.9, RFC 5927) quoting one of our segments.
    /// `quoted` is the TCP header prefix from the ICMP payload (≥ 8 bytes).
    pub fn handle_icmp_error(
        &mut self,
        now: Instant,
        icmp_type: u8,
        icmp_code: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        quoted: &[u8],
    ) {
        let _ = (now, icmp_type, icmp_code, src, dst, quoted);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    // ---- output to IPv4 ----

    /// Write the next segment (TCP header + payload, checksum filled in) into `buf`, which holds
    /// at least `mtu - 20` bytes. Returns (source, destination, length).
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<(Ipv4Addr, Ipv4Addr, usize)> {
        let _ = (now, buf);
        None
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Sockets whose state changed since the last call (readable, writable, connected, closed).
    pub fn poll_event(&mut self) -> Option<SocketEvent> {
        None
    }

    /// The interface MTU changed or is known; the MSS we advertise is `mtu - 40`.
    pub fn set_mtu(&mut self, mtu: usize) {
        let _ = mtu;
    }

    // ---- the application side ----

    pub fn listen(&mut self, local: SocketAddrV4) -> Result<TcpHandle, SocketError> {
        let _ = local;
        Err(SocketError::AddrNotAvailable)
    }

    /// A connection that completed its handshake on `listener`, if any.
    pub fn accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, SocketError> {
        let _ = listener;
        Err(SocketError::InvalidHandle)
    }

    /// Active open. `local` port 0 picks an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, SocketError> {
        let _ = (now, local, remote);
        Err(SocketError::AddrNotAvailable)
    }

    /// Queue bytes to send. Returns how many were taken (0 < n ≤ data.len()), or WouldBlock when
    /// the send buffer is full.
    pub fn send(&mut self, now: Instant, h: TcpHandle, data: &[u8]) -> Result<usize, SocketError> {
        let _ = (now, h, data);
        Err(SocketError::InvalidHandle)
    }

    /// Read received bytes. Ok(0) = the peer closed (FIN) and all data was read; WouldBlock = none yet.
    pub fn recv(
        &mut self,
        now: Instant,
        h: TcpHandle,
        buf: &mut [u8],
    ) -> Result<usize, SocketError> {
        let _ = (now, h, buf);
        Err(SocketError::InvalidHandle)
    }

    pub fn shutdown(
        &mut self,
        now: Instant,
        h: TcpHandle,
        how: Shutdown,
    ) -> Result<(), SocketError> {
        let _ = (now, h, how);
        Err(SocketError::InvalidHandle)
    }

    /// Graceful close; the handle is released and the layer finishes the close in the background.
    pub fn close(&mut self, now: Instant, h: TcpHandle) {
        let _ = (now, h);
    }

    /// Send RST and release the handle.
    pub fn abort(&mut self, now: Instant, h: TcpHandle) {
        let _ = (now, h);
    }

    pub fn set_nodelay(&mut self, h: TcpHandle, nodelay: bool) -> Result<(), SocketError> {
        let _ = (h, nodelay);
        Err(SocketError::InvalidHandle)
    }

    /// Ok(()) once established; WouldBlock while the handshake is in progress; the error that
    /// ended the connection otherwise (ConnectionRefused, TimedOut, ConnectionReset, ...).
    pub fn connect_status(&self, h: TcpHandle) -> Result<(), SocketError> {
        let _ = h;
        Err(SocketError::InvalidHandle)
    }

    /// Bytes that `send` would accept now.
    pub fn send_capacity(&self, h: TcpHandle) -> Result<usize, SocketError> {
        let _ = h;
        Err(SocketError::InvalidHandle)
    }

    /// The pending error of a connection, cleared by reading it (`take_error`).
    pub fn take_error(&mut self, h: TcpHandle) -> Option<SocketError> {
        let _ = h;
        None
    }

    pub fn local_addr(&self, h: TcpHandle) -> Result<SocketAddrV4, SocketError> {
        let _ = h;
        Err(SocketError::InvalidHandle)
    }

    pub fn peer_addr(&self, h: TcpHandle) -> Result<SocketAddrV4, SocketError> {
        let _ = h;
        Err(SocketError::InvalidHandle)
    }

    pub fn info(&self, h: TcpHandle) -> Option<TcpInfo> {
        let _ = h;
        None
    }

    /// Every live connection (for `--stats`).
    pub fn connections(&self) -> Vec<TcpInfo> {
        Vec::new()
    }

    pub fn stats(&self) -> &TcpStats {
        &self.stats
    }
}
