//! TCP (RFC 9293): the sans-IO engine. No clock, no fd, no thread, no RNG of its own.
//!
//! `TcpLayer` is what `Stack` talks to: it owns every listener and connection of one host (a
//! 4-tuple table), takes segments that IPv4 delivered and timer ticks, and yields segments to
//! send. It verifies checksums, dispatches to the connection or listener, answers segments to
//! nowhere with RST (§3.5.2, §3.10.7.1), picks ephemeral ports (RFC 6335 §6), keeps a timer heap
//! so `poll_timeout` is cheap for many connections, and reports socket events.
//! Reading order: `seq` → `segment` → `state` → `isn` → `rtt` → `send_buffer` → `reassembly` →
//! `congestion` → `timer` → `connection` → `listener` → this file. See docs/tcp.md.

mod config;
pub mod congestion;
pub mod connection;
pub mod handle_map;
pub mod isn;
pub mod listener;
pub mod pacing;
mod ports;
pub mod prr;
pub mod rack;
pub mod reassembly;
pub mod rtt;
pub mod sack;
pub mod segment;
pub mod send_buffer;
pub mod seq;
pub mod state;
pub mod syncookie;
pub mod timer;
mod tuning;
mod tuples;
mod user;

pub use config::{Recovery, TcpConfig, TcpInfo, TcpStats};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::rng::Rng;
use crate::socket::{SocketError, SocketEvent, TcpHandle};
use crate::time::Instant;
use connection::Connection;
use handle_map::{LocalMap, LocalSet};
use isn::IsnGenerator;
use listener::Listener;
use segment::{ACK, FIN, Header, ParseError, RST, SYN, Segment, fill_checksum};
use seq::SeqNum;
use state::State;

/// Which direction(s) `shutdown` closes (as `std::net::Shutdown`).
pub use std::net::Shutdown;

pub(crate) enum Socket {
    Listener(Listener),
    Conn(Box<Connection>),
}

/// Bound on RSTs queued for segments to nowhere.
pub(crate) const MAX_QUEUED_RST: usize = 256;

/// Every TCP endpoint of one host.
pub struct TcpLayer {
    cfg: TcpConfig,
    stats: TcpStats,
    isn: IsnGenerator,
    our_mss: u16,
    sockets: LocalMap<u32, Socket>,
    /// The last segment from `poll_transmit` may be sent ECT(0) (RFC 3168, `tuning.rs`).
    last_ect: bool,
    /// Segment size of the super-segment `poll_transmit` returned last (0: a plain segment).
    last_gso: u16,
    /// The link vouches for the checksum of the segment being handled (`Stack::handle_packet_offloaded`).
    pub(crate) csum_trusted: bool,
    next_handle: u32,
    /// (local, remote) -> connection.
    tuples: tuples::TupleTable,
    listeners: LocalMap<SocketAddrV4, u32>,
    n_conns: usize,
    /// Connections that may have something to send (each at most once: `Connection::queued`).
    dirty: VecDeque<u32>,
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    events: VecDeque<SocketEvent>,
    event_set: LocalSet<u32>,
    /// Per listener: connections in SYN-RECEIVED whose completing ACK was dropped because the
    /// accept queue was full, oldest first (entries may be stale: checked when taken).
    blocked: LocalMap<u32, VecDeque<TcpHandle>>,
    /// Stateless replies: RSTs to nowhere and SYN-cookie SYN,ACKs.
    rst_queue: VecDeque<(Ipv4Addr, Ipv4Addr, Header)>,
    /// RFC 6056 §3.3.3 `next_ephemeral` (`ports.rs`).
    next_ephemeral: u32,
}

impl TcpLayer {
    /// `isn_key` keys the RFC 6528 ISN hash; `seed` seeds any other choice (ephemeral ports).
    pub fn new(cfg: TcpConfig, isn_key: [u8; 16], seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let next_ephemeral = rng.below(ports::EPHEMERAL_SPAN) as u32;
        TcpLayer {
            cfg,
            stats: TcpStats::default(),
            isn: IsnGenerator::new(isn_key),
            our_mss: 1460,
            sockets: LocalMap::default(),
            last_ect: false,
            last_gso: 0,
            csum_trusted: false,
            next_handle: 1,
            tuples: tuples::TupleTable::default(),
            listeners: LocalMap::default(),
            n_conns: 0,
            dirty: VecDeque::new(),
            heap: BinaryHeap::new(),
            events: VecDeque::new(),
            event_set: LocalSet::default(),
            blocked: LocalMap::default(),
            rst_queue: VecDeque::new(),
            next_ephemeral,
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
        let parsed = if self.csum_trusted {
            Segment::parse(segment)
        } else {
            Segment::parse_checked(src, dst, segment)
        };
        let seg = match parsed {
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
        if let Some(h) = self.tuples.get(&(local, remote)) {
            // Fast path: the checks below concern only SYN-RECEIVED and TIME-WAIT.
            if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h)
                && !matches!(c.state, State::SynReceived | State::TimeWait)
            {
                c.handle_segment(now, &seg, &mut self.stats);
                self.settle(h, now);
                self.mark_dirty(h);
                return;
            }
            if self.handshake_blocked(h, &seg) {
                return;
            }
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
            if self.accept_cookie(now, lh, local, remote, seg) {
                return;
            }
            // "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
            // state": <SEQ=SEG.ACK><CTL=RST>.
            self.reset_for(*remote.ip(), *local.ip(), seg);
            return;
        }
        if !seg.has(SYN) {
            return;
        }
        if seg.has(FIN) {
            // §3.10.7.2 would queue the FIN for SYN-RECEIVED; like Linux we drop SYN,FIN
            // (only scanners send it) and count it.
            self.stats.drop_syn_fin += 1;
            return;
        }
        let at_limit = self.at_connection_limit();
        let Some(Socket::Listener(l)) = self.sockets.get_mut(&lh) else {
            return;
        };
        if !l.has_room() {
            if self.cfg.syn_cookies && !l.accept_full() {
                l.last_cookie = Some(now);
                self.send_syn_cookie(now, local, remote, seg);
                return;
            }
            self.stats.listen_overflows += 1;
            log::debug!("tcp {local}: backlog full, SYN from {remote} dropped");
            return;
        }
        if at_limit {
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
        if seg.has(RST) {
            return;
        }
        if self.rst_queue.len() >= MAX_QUEUED_RST {
            self.stats.rst_limited += 1;
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
        let Some(h) = self.tuples.get(&key_a).or_else(|| self.tuples.get(&key_b)) else {
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
                continue; // stale entry: an earlier one replaced it
            }
            c.scheduled = None;
            if c.next_deadline().is_some_and(|d| d <= now) {
                c.handle_timeout(now, &mut self.stats);
                self.settle(h, now);
                self.mark_dirty(h);
            } else {
                self.schedule(h); // the deadline moved later (or went): file it now
            }
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
        self.last_ect = false;
        self.last_gso = 0;
        while let Some((src, dst, h)) = self.rst_queue.pop_front() {
            if let Some(n) = h.emit(buf) {
                fill_checksum(src, dst, &mut buf[..n]);
                if h.flags & RST != 0 {
                    self.stats.rst_sent += 1;
                }
                self.stats.segments_out += 1;
                return Some((src, dst, n));
            }
        }
        while let Some(&h) = self.dirty.front() {
            let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
                self.dirty.pop_front(); // released meanwhile
                continue;
            };
            if let Some(n) = c.poll_transmit(now, buf, &mut self.stats) {
                self.stats.segments_out += 1;
                self.last_ect = c.transmit_ect();
                self.last_gso = c.transmit_gso();
                c.update_timers(now);
                let addrs = (*c.local.ip(), *c.remote.ip());
                if c.is_closed() && c.orphan && !c.poll_pending() {
                    self.remove(h); // its last segment (a RST) is out
                } else {
                    file_deadline(&mut self.heap, c, h);
                }
                return Some((addrs.0, addrs.1, n));
            }
            c.queued = false;
            self.dirty.pop_front();
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

    /// A new connection would exceed `max_connections` or the total buffer budget.
    pub(crate) fn at_connection_limit(&self) -> bool {
        let per_conn = self.cfg.send_buffer.saturating_add(self.cfg.recv_buffer);
        self.n_conns >= self.cfg.max_connections
            || (self.n_conns + 1).saturating_mul(per_conn) > self.cfg.max_buffer_memory
    }

    fn mark_dirty(&mut self, h: u32) {
        if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h)
            && !c.queued
        {
            c.queued = true;
            self.dirty.push_back(h);
        }
    }

    fn push_event(&mut self, h: u32) {
        if self.event_set.insert(h) {
            self.events.push_back(SocketEvent::Tcp(TcpHandle(h)));
        }
    }

    /// File the connection's next deadline in the heap. Lazily: while an entry at or before
    /// it is filed, nothing is pushed; that entry, when due, files the real deadline (a
    /// retransmission timer restarted by every ACK costs no heap push, only one pop).
    fn schedule(&mut self, h: u32) {
        if let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) {
            file_deadline(&mut self.heap, c, h);
        }
    }

    /// After anything happened to connection `h`: timers, events, the listener's queues, and
    /// release of a finished connection.
    fn settle(&mut self, h: u32, now: Instant) {
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            return;
        };
        c.update_timers(now);
        if c.listener.is_some() && c.state != State::SynReceived {
            self.end_handshake(h);
        }
        // One lookup on the common path (no listener, not closed).
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            return;
        };
        if std::mem::take(&mut c.notify)
            && !c.orphan
            && c.listener.is_none()
            && self.event_set.insert(h)
        {
            self.events.push_back(SocketEvent::Tcp(TcpHandle(h)));
        }
        if !c.is_closed() {
            file_deadline(&mut self.heap, c, h);
            return;
        }
        let (local, remote, orphan, pending) = (c.local, c.remote, c.orphan, c.poll_pending());
        if self.tuples.get(&(local, remote)) == Some(h) {
            self.tuples.remove(&(local, remote));
        }
        if !orphan {
            self.schedule(h);
        } else if pending {
            self.mark_dirty(h); // keep it until its last RST is out
        } else {
            self.remove(h);
        }
    }

    /// Connection `h` of a listener left SYN-RECEIVED: into the accept queue, or gone.
    fn end_handshake(&mut self, h: u32) {
        let Some(Socket::Conn(c)) = self.sockets.get_mut(&h) else {
            return;
        };
        let Some(lh) = c.listener.take() else {
            return;
        };
        let established = c.state.is_synchronized();
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

    fn remove(&mut self, h: u32) {
        if let Some(Socket::Conn(c)) = self.sockets.remove(&h) {
            self.n_conns = self.n_conns.saturating_sub(1);
            if self.tuples.get(&(c.local, c.remote)) == Some(h) {
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
}

/// `TcpLayer::schedule` for a connection at hand.
fn file_deadline(heap: &mut BinaryHeap<Reverse<(Instant, u32)>>, c: &mut Connection, h: u32) {
    if let Some(t) = c.next_deadline()
        && c.scheduled.is_none_or(|s| t < s)
    {
        c.scheduled = Some(t);
        heap.push(Reverse((t, h)));
    }
}
