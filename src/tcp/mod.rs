//! TCP (RFC 9293): the sans-IO engine. No clock, no fd, no thread, no RNG of its own.
//!
//! `TcpLayer` is what `Stack` talks to: it owns every listener and connection of one host (a
//! 4-tuple table), takes segments that IPv4 delivered and timer ticks, and yields segments to
//! send. It verifies checksums, dispatches to the connection or listener, answers segments to
//! nowhere with RST (§3.5.2, §3.10.7.1), picks ephemeral ports (RFC 6335 §6), keeps a timer heap
//! so `poll_timeout` is cheap for many connections, and reports socket events.
//! Reading order: `seq` → `segment` → `state` → `isn` → `rtt` → `send_buffer` → `reassembly` →
//! `congestion` → `timer` → `connection` → `listener` → this file. See docs/tcp.md.

pub mod congestion;
pub mod connection;
pub mod isn;
pub mod listener;
pub mod reassembly;
pub mod rtt;
pub mod segment;
pub mod send_buffer;
pub mod seq;
pub mod state;
pub mod timer;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::rng::Rng;
use crate::socket::{SocketError, SocketEvent, TcpHandle};
use crate::time::{Duration, Instant};
use connection::Connection;
use isn::IsnGenerator;
use listener::Listener;
use segment::{ACK, Header, ParseError, RST, SYN, Segment, fill_checksum};
use seq::SeqNum;
use state::State;

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
    /// SYN (and SYN,ACK) retransmissions before giving up with TimedOut.
    pub max_syn_retries: u32,
    /// An orphaned FIN-WAIT-2 (closed by the application) is dropped after this long.
    pub fin_timeout: Duration,
    /// Keep-alive probe interval and count before the connection is declared dead.
    pub keepalive_interval: Duration,
    pub keepalive_probes: u32,
    /// Out-of-order pieces held per connection (bytes are bounded by the receive window).
    pub reassembly_max_segments: usize,
    /// Challenge ACKs per connection per second (RFC 5961 §7).
    pub challenge_ack_limit: u32,
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
            max_syn_retries: 6,
            fin_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            reassembly_max_segments: 256,
            challenge_ack_limit: 10,
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
    /// Segments outside the receive window (§3.10.7.4 first check).
    pub drop_out_of_window: u64,
    /// Old duplicates rejected by PAWS (RFC 7323 §5).
    pub drop_paws: u64,
    /// ACKs of data never sent, or too old (RFC 5961 §5).
    pub drop_bad_ack: u64,
    /// Data that arrived after close (answered with RST, RFC 1122 §4.2.2.13).
    pub drop_after_close: u64,
    /// Out-of-order data dropped because the reassembly bound was hit.
    pub drop_reassembly_full: u64,
    /// SYNs dropped because a listener's backlog was full.
    pub listen_overflows: u64,
    /// SYNs / connects refused because `max_connections` was reached.
    pub connection_limit: u64,
    pub rst_received: u64,
    /// RFC 5961 challenge ACKs sent, and those suppressed by the rate limit.
    pub challenge_acks: u64,
    pub challenge_ack_limited: u64,
    /// Fast retransmissions (RFC 5681 §3.2, RFC 6582 partial ACKs).
    pub retransmits_fast: u64,
    pub rto_expirations: u64,
    /// Connections that gave up (retransmission, SYN or keep-alive timeout).
    pub timeouts: u64,
    pub window_probes: u64,
    pub keepalive_probes: u64,
    /// ICMP errors matched to a connection / ignored.
    pub icmp_errors: u64,
    pub icmp_ignored: u64,
}

enum Socket {
    Listener(Listener),
    Conn(Box<Connection>),
}

/// RFC 6335 §6: the dynamic port range used for ephemeral ports.
const EPHEMERAL: (u16, u16) = (49152, 65535);
/// Bound on RSTs queued for segments to nowhere.
const MAX_QUEUED_RST: usize = 256;

/// Every TCP endpoint of one host.
pub struct TcpLayer {
    cfg: TcpConfig,
    stats: TcpStats,
    isn: IsnGenerator,
    our_mss: u16,
    sockets: HashMap<u32, Socket>,
    next_handle: u32,
    /// (local, remote) -> connection.
    tuples: HashMap<(SocketAddrV4, SocketAddrV4), u32>,
    listeners: HashMap<SocketAddrV4, u32>,
    n_conns: usize,
    dirty: VecDeque<u32>,
    dirty_set: HashSet<u32>,
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    events: VecDeque<SocketEvent>,
    event_set: HashSet<u32>,
    rst_queue: VecDeque<(Ipv4Addr, Ipv4Addr, Header)>,
    next_port: u16,
}

impl TcpLayer {
    /// `isn_key` keys the RFC 6528 ISN hash; `seed` seeds any other choice (ephemeral ports).
    pub fn new(cfg: TcpConfig, isn_key: [u8; 16], seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let span = u64::from(EPHEMERAL.1 - EPHEMERAL.0) + 1;
        let next_port = EPHEMERAL.0 + rng.below(span) as u16;
        TcpLayer {
            cfg,
            stats: TcpStats::default(),
            isn: IsnGenerator::new(isn_key),
            our_mss: 1460,
            sockets: HashMap::new(),
            next_handle: 1,
            tuples: HashMap::new(),
            listeners: HashMap::new(),
            n_conns: 0,
            dirty: VecDeque::new(),
            dirty_set: HashSet::new(),
            heap: BinaryHeap::new(),
            events: VecDeque::new(),
            event_set: HashSet::new(),
            rst_queue: VecDeque::new(),
            next_port,
        }
    }

    pub fn config(&self) -> &TcpConfig {
        &self.cfg
    }

    /// Use a fixed ISN instead of RFC 6528 (labs and scenario tests want readable traces;
    /// never on a real network, RFC 6528 §3). `None` restores the keyed hash.
    pub fn set_fixed_isn(&mut self, isn: Option<u32>) {
        self.isn.fixed = isn;
    }

    // ---- input from IPv4 ----

    /// A TCP segment addressed to us (`segment` = TCP header + payload; checksum not yet verified).
    pub fn handle_segment(&mut self, now: Instant, src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) {
        self.stats.segments_in += 1;
        let seg = match Segment::parse_checked(src, dst, segment) {
            Ok(s) => s,
            Err(e) => {
                if e == ParseError::BadChecksum {
                    self.stats.drop_bad_checksum += 1;
                } else {
                    self.stats.drop_malformed += 1;
                }
                log::debug!("tcp {src} > {dst}: dropped segment: {e:?}");
                return;
            }
        };
        let local = SocketAddrV4::new(dst, seg.dst_port);
        let remote = SocketAddrV4::new(src, seg.src_port);
        if let Some(&h) = self.tuples.get(&(local, remote)) {
            if !self.time_wait_reusable(h, local, &seg) {
                if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
                    c.handle_segment(now, &seg, &mut self.stats);
                }
                self.settle(h, now);
                self.mark_dirty(h);
                return;
            }
            // RFC 6191: a new SYN reuses the TIME-WAIT 4-tuple.
            log::debug!("tcp {local} > {remote}: TIME-WAIT reused by a new SYN");
            self.remove(h);
        }
        if let Some(lh) = self.find_listener(local) {
            self.on_listen(now, lh, local, remote, &seg);
            return;
        }
        self.reset_for(src, dst, &seg);
    }

    /// RFC 6191 §2: a SYN may reopen a TIME-WAIT 4-tuple when its timestamp (or, without
    /// timestamps, its sequence number) is newer than anything of the old connection.
    fn time_wait_reusable(&self, h: u32, local: SocketAddrV4, seg: &Segment<'_>) -> bool {
        let Some(Socket::Conn(c)) = self.sockets.get(&h) else {
            return false;
        };
        if c.state != State::TimeWait
            || !seg.has(SYN)
            || seg.has(ACK)
            || seg.has(RST)
            || self.find_listener(local).is_none()
        {
            return false;
        }
        match (c.ts_recent(), seg.options.timestamps) {
            (Some(recent), Some((tsval, _))) => (tsval.wrapping_sub(recent) as i32) > 0,
            _ => seg.seq.gt(c.rcv_nxt),
        }
    }

    fn find_listener(&self, local: SocketAddrV4) -> Option<u32> {
        self.listeners
            .get(&local)
            .or_else(|| {
                self.listeners
                    .get(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, local.port()))
            })
            .copied()
    }

    /// §3.10.7.2: a segment for a LISTEN socket.
    fn on_listen(
        &mut self,
        now: Instant,
        lh: u32,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment<'_>,
    ) {
        if seg.has(RST) {
            return; // "An incoming RST should be ignored."
        }
        if seg.has(ACK) {
            // "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
            // state": <SEQ=SEG.ACK><CTL=RST>.
            self.reset_for(*remote.ip(), *local.ip(), seg);
            return;
        }
        if !seg.has(SYN) {
            return;
        }
        let Some(Socket::Listener(l)) = self.sockets.get_mut(&lh) else {
            return;
        };
        if !l.has_room() {
            self.stats.listen_overflows += 1;
            log::debug!("tcp {local}: backlog full, SYN from {remote} dropped");
            return;
        }
        if self.n_conns >= self.cfg.max_connections {
            self.stats.connection_limit += 1;
            return;
        }
        l.syn_queue += 1;
        let iss = self.isn.isn(now, local, remote);
        let ts = self.isn.ts_offset(local, remote);
        let mut c =
            Connection::new_passive(&self.cfg, local, remote, iss, ts, self.our_mss, now, seg);
        c.listener = Some(TcpHandle(lh));
        let h = self.insert(Socket::Conn(Box::new(c)));
        self.tuples.insert((local, remote), h);
        self.n_conns += 1;
        self.stats.connections_opened += 1;
        self.settle(h, now);
        self.mark_dirty(h);
    }

    /// §3.10.7.1: a segment for no connection draws a RST (unless it is one).
    fn reset_for(&mut self, src: Ipv4Addr, dst: Ipv4Addr, seg: &Segment<'_>) {
        if seg.has(RST) || self.rst_queue.len() >= MAX_QUEUED_RST {
            return;
        }
        let mut h = Header {
            src_port: seg.dst_port,
            dst_port: seg.src_port,
            ..Default::default()
        };
        if seg.has(ACK) {
            h.seq = seg.ack; // <SEQ=SEG.ACK><CTL=RST>
            h.flags = RST;
        } else {
            // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
            h.ack = seg.seq.wrapping_add(seg.seg_len());
            h.flags = RST | ACK;
        }
        self.rst_queue.push_back((dst, src, h));
    }

    /// An ICMP error (RFC 1122 §4.2.3.9, RFC 5927) quoting one of our segments.
    /// `quoted` is the TCP header prefix from the ICMP payload (≥ 8 bytes). `src`/`dst` are the
    /// addresses of the quoted datagram (ours first); the reverse order is accepted too.
    pub fn handle_icmp_error(
        &mut self,
        now: Instant,
        icmp_type: u8,
        icmp_code: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        quoted: &[u8],
    ) {
        let (Some(sp), Some(dp), Some(seq)) =
            (quoted.get(0..2), quoted.get(2..4), quoted.get(4..8))
        else {
            self.stats.icmp_ignored += 1;
            return;
        };
        let sport = u16::from_be_bytes([sp[0], sp[1]]);
        let dport = u16::from_be_bytes([dp[0], dp[1]]);
        let seq = SeqNum(u32::from_be_bytes([seq[0], seq[1], seq[2], seq[3]]));
        let key_a = (SocketAddrV4::new(src, sport), SocketAddrV4::new(dst, dport));
        let key_b = (SocketAddrV4::new(dst, sport), SocketAddrV4::new(src, dport));
        let Some(&h) = self.tuples.get(&key_a).or_else(|| self.tuples.get(&key_b)) else {
            self.stats.icmp_ignored += 1;
            return;
        };
        // RFC 1122 §4.2.3.9: Destination Unreachable codes 2 and 3 are hard errors; codes 0, 1
        // (net/host) are soft but still end a connection that never got an answer (RFC 5927 §3);
        // code 4 (fragmentation needed) is path MTU discovery, not an error. Others are soft.
        let (hard, err) = match (icmp_type, icmp_code) {
            (3, 4) => {
                self.stats.icmp_ignored += 1;
                return;
            }
            (3, 2) | (3, 3) => (true, SocketError::ConnectionRefused),
            (3, _) => (true, SocketError::HostUnreachable),
            _ => (false, SocketError::HostUnreachable),
        };
        if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
            if c.handle_icmp_error(hard, err, seq) {
                self.stats.icmp_errors += 1;
            } else {
                self.stats.icmp_ignored += 1;
            }
        }
        self.settle(h, now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((t, h))) = self.heap.peek() {
            if t > now {
                break;
            }
            self.heap.pop();
            let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
                continue;
            };
            if c.scheduled != Some(t) {
                continue; // stale entry: the deadline moved
            }
            c.scheduled = None;
            c.handle_timeout(now, &mut self.stats);
            self.settle(h, now);
            self.mark_dirty(h);
        }
    }

    // ---- output to IPv4 ----

    /// Write the next segment (TCP header + payload, checksum filled in) into `buf`, which holds
    /// at least `mtu - 20` bytes. Returns (source, destination, length).
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<(Ipv4Addr, Ipv4Addr, usize)> {
        while let Some((src, dst, h)) = self.rst_queue.pop_front() {
            if let Some(n) = h.emit(buf) {
                fill_checksum(src, dst, &mut buf[..n]);
                self.stats.rst_sent += 1;
                self.stats.segments_out += 1;
                return Some((src, dst, n));
            }
        }
        while let Some(&h) = self.dirty.front() {
            if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h)
                && let Some(n) = c.poll_transmit(now, buf, &mut self.stats)
            {
                self.stats.segments_out += 1;
                let addrs = (*c.local.ip(), *c.remote.ip());
                if c.is_closed() && c.orphan && !c.poll_pending() {
                    self.remove(h); // its last segment (a RST) is out
                } else {
                    self.schedule(h);
                }
                return Some((addrs.0, addrs.1, n));
            }
            self.dirty.pop_front();
            self.dirty_set.remove(&h);
            self.settle(h, now);
        }
        None
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|r| r.0.0)
    }

    /// Sockets whose state changed since the last call (readable, writable, connected, closed).
    pub fn poll_event(&mut self) -> Option<SocketEvent> {
        let e = self.events.pop_front()?;
        if let SocketEvent::Tcp(h) = e {
            self.event_set.remove(&h.0);
        }
        Some(e)
    }

    /// The interface MTU changed or is known; the MSS we advertise is `mtu - 40`.
    pub fn set_mtu(&mut self, mtu: usize) {
        self.our_mss = mtu.saturating_sub(40).clamp(64, 65495) as u16;
    }

    // ---- bookkeeping ----

    fn insert(&mut self, s: Socket) -> u32 {
        let h = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1).max(1);
        self.sockets.insert(h, s);
        h
    }

    fn mark_dirty(&mut self, h: u32) {
        if self.dirty_set.insert(h) {
            self.dirty.push_back(h);
        }
    }

    fn push_event(&mut self, h: u32) {
        if self.event_set.insert(h) {
            self.events.push_back(SocketEvent::Tcp(TcpHandle(h)));
        }
    }

    /// File the connection's next deadline in the heap if it moved.
    fn schedule(&mut self, h: u32) {
        if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
            let d = c.next_deadline();
            if d != c.scheduled {
                c.scheduled = d;
                if let Some(t) = d {
                    self.heap.push(Reverse((t, h)));
                }
            }
        }
    }

    /// After anything happened to connection `h`: timers, events, the listener's queues, and
    /// release of a finished connection.
    fn settle(&mut self, h: u32, now: Instant) {
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            return;
        };
        c.update_timers(now);
        let notify = std::mem::take(&mut c.notify);
        let state = c.state;
        let (local, remote) = (c.local, c.remote);
        let mut owner = c.listener;
        if let Some(lh) = owner
            && state != State::SynReceived
        {
            // The handshake ended: into the accept queue, or gone.
            c.listener = None;
            owner = None;
            let established = state.is_synchronized();
            if !established {
                c.orphan = true;
            }
            match self.sockets.get_mut(&lh.0) {
                Some(Socket::Listener(l)) => {
                    l.syn_queue = l.syn_queue.saturating_sub(1);
                    if established {
                        l.accept_queue.push_back(TcpHandle(h));
                        self.push_event(lh.0);
                    }
                }
                _ => {
                    // The listener was closed meanwhile: nobody will accept this one.
                    if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
                        c.orphan = true;
                        c.abort("listener closed");
                    }
                }
            }
        }
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            return;
        };
        let orphan = c.orphan;
        let closed = c.is_closed();
        if notify && !orphan && owner.is_none() {
            self.push_event(h);
        }
        if closed {
            if self.tuples.get(&(local, remote)) == Some(&h) {
                self.tuples.remove(&(local, remote));
            }
            if orphan {
                // Keep it until its last RST is out.
                if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h)
                    && c.poll_pending()
                {
                    self.mark_dirty(h);
                } else {
                    self.remove(h);
                }
                return;
            }
        }
        self.schedule(h);
    }

    fn remove(&mut self, h: u32) {
        if let Some(Socket::Conn(c)) = self.sockets.remove(&h) {
            self.n_conns = self.n_conns.saturating_sub(1);
            if self.tuples.get(&(c.local, c.remote)) == Some(&h) {
                self.tuples.remove(&(c.local, c.remote));
            }
            if let Some(lh) = c.listener
                && let Some(Socket::Listener(l)) = self.sockets.get_mut(&lh.0)
            {
                l.syn_queue = l.syn_queue.saturating_sub(1);
            }
        }
    }

    fn conn(&self, h: TcpHandle) -> Result<&Connection, SocketError> {
        match self.sockets.get(&h.0) {
            Some(Socket::Conn(c)) if !c.orphan => Ok(c),
            Some(Socket::Listener(_)) => Err(SocketError::NotConnected),
            _ => Err(SocketError::InvalidHandle),
        }
    }

    fn conn_mut(&mut self, h: TcpHandle) -> Result<&mut Connection, SocketError> {
        match self.sockets.get_mut(&h.0) {
            Some(Socket::Conn(c)) if !c.orphan => Ok(c),
            Some(Socket::Listener(_)) => Err(SocketError::NotConnected),
            _ => Err(SocketError::InvalidHandle),
        }
    }

    /// Run an application call on a connection, then settle it.
    fn with_conn<T>(
        &mut self,
        now: Instant,
        h: TcpHandle,
        f: impl FnOnce(&mut Connection) -> T,
    ) -> Result<T, SocketError> {
        let c = self.conn_mut(h)?;
        let r = f(c);
        self.settle(h.0, now);
        self.mark_dirty(h.0);
        Ok(r)
    }

    fn ephemeral_port(&mut self, ip: Ipv4Addr, remote: SocketAddrV4) -> Option<u16> {
        let span = u32::from(EPHEMERAL.1 - EPHEMERAL.0) + 1;
        for _ in 0..span {
            let p = self.next_port;
            self.next_port = if p >= EPHEMERAL.1 { EPHEMERAL.0 } else { p + 1 };
            let local = SocketAddrV4::new(ip, p);
            if !self.tuples.contains_key(&(local, remote)) && self.find_listener(local).is_none() {
                return Some(p);
            }
        }
        None
    }
}

/// The application side (RFC 9293 §3.10.1-§3.10.6 user calls).
impl TcpLayer {
    pub fn listen(&mut self, local: SocketAddrV4) -> Result<TcpHandle, SocketError> {
        if local.port() == 0 {
            return Err(SocketError::InvalidInput);
        }
        if self.listeners.contains_key(&local) {
            return Err(SocketError::AddrInUse);
        }
        let h = self.insert(Socket::Listener(Listener::new(local, self.cfg.backlog)));
        self.listeners.insert(local, h);
        Ok(TcpHandle(h))
    }

    /// A connection that completed its handshake on `listener`, if any.
    pub fn accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, SocketError> {
        match self.sockets.get_mut(&listener.0) {
            Some(Socket::Listener(l)) => l.accept_queue.pop_front().ok_or(SocketError::WouldBlock),
            Some(Socket::Conn(_)) => Err(SocketError::InvalidInput),
            None => Err(SocketError::InvalidHandle),
        }
    }

    /// Active open. `local` port 0 picks an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, SocketError> {
        if remote.port() == 0 || remote.ip().is_unspecified() || local.ip().is_unspecified() {
            return Err(SocketError::AddrNotAvailable);
        }
        if self.n_conns >= self.cfg.max_connections {
            self.stats.connection_limit += 1;
            return Err(SocketError::NoBufferSpace);
        }
        let port = match local.port() {
            0 => self
                .ephemeral_port(*local.ip(), remote)
                .ok_or(SocketError::AddrInUse)?,
            p => p,
        };
        let local = SocketAddrV4::new(*local.ip(), port);
        if self.tuples.contains_key(&(local, remote)) {
            return Err(SocketError::AddrInUse);
        }
        let iss = self.isn.isn(now, local, remote);
        let ts = self.isn.ts_offset(local, remote);
        let c = Connection::new_active(&self.cfg, local, remote, iss, ts, self.our_mss);
        let h = self.insert(Socket::Conn(Box::new(c)));
        self.tuples.insert((local, remote), h);
        self.n_conns += 1;
        self.stats.connections_opened += 1;
        self.settle(h, now);
        self.mark_dirty(h);
        Ok(TcpHandle(h))
    }

    /// Queue bytes to send. Returns how many were taken (0 < n ≤ data.len()), or WouldBlock when
    /// the send buffer is full.
    pub fn send(&mut self, now: Instant, h: TcpHandle, data: &[u8]) -> Result<usize, SocketError> {
        self.with_conn(now, h, |c| c.send(data))?
    }

    /// Read received bytes. Ok(0) = the peer closed (FIN) and all data was read; WouldBlock = none yet.
    pub fn recv(
        &mut self,
        now: Instant,
        h: TcpHandle,
        buf: &mut [u8],
    ) -> Result<usize, SocketError> {
        self.with_conn(now, h, |c| c.recv(buf))?
    }

    pub fn shutdown(
        &mut self,
        now: Instant,
        h: TcpHandle,
        how: Shutdown,
    ) -> Result<(), SocketError> {
        self.with_conn(now, h, |c| {
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                c.shutdown_read();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                c.shutdown_write();
            }
        })
    }

    /// Graceful close; the handle is released and the layer finishes the close in the background.
    pub fn close(&mut self, now: Instant, h: TcpHandle) {
        match self.sockets.get_mut(&h.0) {
            Some(Socket::Listener(l)) => {
                let local = l.local;
                let pending: Vec<TcpHandle> = l.accept_queue.drain(..).collect();
                self.sockets.remove(&h.0);
                self.listeners.remove(&local);
                for p in pending {
                    if let Some(Socket::Conn(c)) = self.sockets.get_mut(&p.0) {
                        c.orphan = true;
                        c.abort("listener closed");
                    }
                    self.settle(p.0, now);
                }
            }
            Some(Socket::Conn(c)) if !c.orphan => {
                c.close(now);
                self.event_set.remove(&h.0);
                self.settle(h.0, now);
                self.mark_dirty(h.0);
            }
            _ => {}
        }
    }

    /// Send RST and release the handle.
    pub fn abort(&mut self, now: Instant, h: TcpHandle) {
        match self.sockets.get(&h.0) {
            Some(Socket::Listener(_)) => self.close(now, h),
            Some(Socket::Conn(c)) if !c.orphan => {
                if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h.0) {
                    c.orphan = true;
                    c.abort("abort");
                }
                self.settle(h.0, now);
                self.mark_dirty(h.0);
            }
            _ => {}
        }
    }

    pub fn set_nodelay(&mut self, h: TcpHandle, nodelay: bool) -> Result<(), SocketError> {
        self.conn_mut(h)?.set_nodelay(nodelay);
        self.mark_dirty(h.0);
        Ok(())
    }

    /// Ok(()) once established; WouldBlock while the handshake is in progress; the error that
    /// ended the connection otherwise (ConnectionRefused, TimedOut, ConnectionReset, ...).
    pub fn connect_status(&self, h: TcpHandle) -> Result<(), SocketError> {
        let c = self.conn(h)?;
        if let Some(e) = c.error {
            return Err(e);
        }
        match c.state {
            State::SynSent | State::SynReceived => Err(SocketError::WouldBlock),
            _ => Ok(()),
        }
    }

    /// Bytes that `send` would accept now.
    pub fn send_capacity(&self, h: TcpHandle) -> Result<usize, SocketError> {
        Ok(self.conn(h)?.send_capacity())
    }

    /// The pending error of a connection, cleared by reading it (`take_error`).
    pub fn take_error(&mut self, h: TcpHandle) -> Option<SocketError> {
        self.conn_mut(h).ok()?.pending_error.take()
    }

    pub fn local_addr(&self, h: TcpHandle) -> Result<SocketAddrV4, SocketError> {
        match self.sockets.get(&h.0) {
            Some(Socket::Listener(l)) => Ok(l.local),
            _ => Ok(self.conn(h)?.local),
        }
    }

    pub fn peer_addr(&self, h: TcpHandle) -> Result<SocketAddrV4, SocketError> {
        Ok(self.conn(h)?.remote)
    }

    pub fn info(&self, h: TcpHandle) -> Option<TcpInfo> {
        match self.sockets.get(&h.0)? {
            Socket::Conn(c) => Some(c.info()),
            Socket::Listener(l) => Some(TcpInfo {
                local: Some(l.local),
                state: State::Listen.name(),
                ..Default::default()
            }),
        }
    }

    /// The connection behind a handle (tests and tools inspect the TCB).
    pub fn connection(&self, h: TcpHandle) -> Option<&Connection> {
        match self.sockets.get(&h.0)? {
            Socket::Conn(c) => Some(c),
            Socket::Listener(_) => None,
        }
    }

    /// Every live connection (for `--stats`).
    pub fn connections(&self) -> Vec<TcpInfo> {
        let mut v: Vec<(u32, TcpInfo)> = self
            .sockets
            .iter()
            .filter_map(|(h, s)| match s {
                Socket::Conn(c) => Some((*h, c.info())),
                Socket::Listener(_) => None,
            })
            .collect();
        v.sort_by_key(|(h, _)| *h);
        v.into_iter().map(|(_, i)| i).collect()
    }

    /// Number of connections in the table (all states, including orphaned ones).
    pub fn connection_count(&self) -> usize {
        self.n_conns
    }

    pub fn stats(&self) -> &TcpStats {
        &self.stats
    }
}
