// A path for loss-recovery scenarios and the bench-loss benchmark: two sans-IO stacks (A sends,
// B receives; ours or smoltcp, via link::TcpEndpoint) in virtual time. A→B crosses a bottleneck (rate, tail-drop queue), random loss and
// an optional per-segment filter (drop or delay by stream offset and transmission count); B→A
// carries the ACKs after the same one-way delay. Used by tests/loss_*.rs and
// tools/bench-loss/main.rs.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::link::TcpEndpoint;
use tunstack::rng::Rng;
use tunstack::tcp::{Shutdown, TcpConfig};
use tunstack::time::{Duration, Instant};
use tunstack::{SocketError, TcpHandle};
use tunstack::{Stack, StackConfig};

pub const A_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const B_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

#[derive(Clone, Copy, Debug)]
pub struct PathCfg {
    pub rtt: Duration,
    /// Bottleneck rate A→B in bit/s; 0 = unlimited.
    pub rate_bps: u64,
    /// Bottleneck queue in bytes (tail drop beyond it).
    pub queue_bytes: u64,
    /// Random loss A→B.
    pub loss: f64,
    /// RFC 3168 AQM stand-in: above this backlog (bytes) ECT packets are marked CE instead of
    /// waiting for the tail drop; 0 = off.
    pub ce_threshold: u64,
    pub seed: u64,
}

/// What happens to one A→B segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Pass,
    Drop,
    Delay(Duration),
}

/// A data segment from A, as the filter sees it.
#[derive(Clone, Copy, Debug)]
pub struct SegInfo {
    pub flow: usize,
    /// Stream offset of the first payload byte (0 = first data byte).
    pub offset: u64,
    pub len: usize,
    pub fin: bool,
    /// 1 for the first transmission of this offset, 2 for the first retransmission, ...
    pub nth: u32,
    /// When A sent it (before the bottleneck).
    pub at: Instant,
}

/// The sending side of one flow (on A).
pub struct Sender {
    pub h: TcpHandle,
    pub total: u64,
    pub sent: u64,
    pub shut: bool,
}

/// The receiving side of one flow (on B), in accept order.
pub struct Receiver {
    pub h: TcpHandle,
    pub received: u64,
    pub eof: bool,
    pub corrupt: bool,
}

struct Pkt {
    at: Instant,
    order: u64,
    to_b: bool,
    bytes: Vec<u8>,
}
impl PartialEq for Pkt {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}
impl Eq for Pkt {}
impl PartialOrd for Pkt {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pkt {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(o.at, o.order))
    }
}

pub type Filter = Box<dyn FnMut(&SegInfo) -> Fate>;

/// Our stack at `addr` with this TCP configuration.
pub fn ours(addr: Ipv4Addr, tcp: TcpConfig, seed: u64) -> Stack {
    Stack::new(StackConfig {
        addr,
        prefix_len: 24,
        mtu: 1500,
        seed,
        tcp,
        ..StackConfig::default()
    })
}

pub struct Net<A: TcpEndpoint, B: TcpEndpoint> {
    pub a: A,
    pub b: B,
    pub senders: Vec<Sender>,
    pub receivers: Vec<Receiver>,
    pub now: Instant,
    path: PathCfg,
    rng: Rng,
    wire: BinaryHeap<Reverse<Pkt>>,
    order: u64,
    link_free: Instant,
    pub filter: Option<Filter>,
    /// Source port -> (flow, ISN), learned from each SYN in connect order.
    ports: HashMap<u16, (usize, u32)>,
    seen: HashMap<(usize, u64), u32>,
    listener: TcpHandle,
    pub queue_drops: u64,
    pub random_drops: u64,
    pub filter_drops: u64,
    /// Retransmissions of a segment an earlier copy of which got through (the receiver
    /// already has it or will: it answers with a D-SACK, RFC 2883).
    pub spurious: u64,
    /// Keep running after every flow was received (the sender still has ACKs to process).
    pub past_eof: bool,
    /// (flow, offset) of every data segment that got through at least once.
    passed: HashSet<(usize, u64)>,
    /// The byte pattern (period 251) precomputed, and the receive buffer.
    pat: Vec<u8>,
    chunk: Vec<u8>,
}

/// Set CE on an ECT datagram (RFC 3168 §5) and fix the header checksum.
fn mark_ce(ip: &mut [u8]) {
    let ihl = usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4;
    if ip.len() < ihl.max(20) || ip[1] & 0x03 == 0 {
        return;
    }
    ip[1] |= 0x03;
    ip[10] = 0;
    ip[11] = 0;
    let mut sum: u32 = ip[..ihl]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    MARKS.with(|m| m.set(m.get() + 1));
}

thread_local! {
    /// CE marks applied (per test thread).
    pub static MARKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn pattern(off: u64) -> u8 {
    (off % 251) as u8
}

impl<A: TcpEndpoint, B: TcpEndpoint> Net<A, B> {
    pub fn new(a: A, mut b: B, path: PathCfg) -> Self {
        let listener = b
            .tcp_listen(SocketAddrV4::new(B_IP, 80))
            .expect("listen on B");
        Net {
            a,
            b,
            senders: Vec::new(),
            receivers: Vec::new(),
            now: Instant::ZERO,
            path,
            rng: Rng::new(path.seed),
            wire: BinaryHeap::new(),
            order: 0,
            link_free: Instant::ZERO,
            filter: None,
            ports: HashMap::new(),
            seen: HashMap::new(),
            listener,
            queue_drops: 0,
            random_drops: 0,
            filter_drops: 0,
            spurious: 0,
            past_eof: false,
            passed: HashSet::new(),
            pat: (0..65536 + 251).map(pattern).collect(),
            chunk: vec![0u8; 65536],
        }
    }

    /// A flow of `total` bytes (u64::MAX: until the run ends) from A to B.
    pub fn add_flow(&mut self, total: u64) -> usize {
        let h = self
            .a
            .tcp_connect(self.now, SocketAddrV4::new(B_IP, 80))
            .expect("connect");
        self.senders.push(Sender {
            h,
            total,
            sent: 0,
            shut: false,
        });
        self.senders.len() - 1
    }

    fn apps(&mut self) -> bool {
        let mut progress = false;
        while let Ok(h) = self.b.tcp_accept(self.listener) {
            self.receivers.push(Receiver {
                h,
                received: 0,
                eof: false,
                corrupt: false,
            });
            progress = true;
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        let pat = &self.pat;
        for f in &mut self.senders {
            while f.sent < f.total {
                let n = (f.total - f.sent).min(65536) as usize;
                let at = (f.sent % 251) as usize;
                match self.a.tcp_send(self.now, f.h, &pat[at..at + n]) {
                    Ok(k) if k > 0 => {
                        f.sent += k as u64;
                        progress = true;
                    }
                    _ => break,
                }
            }
            if f.sent == f.total && !f.shut {
                let _ = self.a.tcp_shutdown(self.now, f.h, Shutdown::Write);
                f.shut = true;
                progress = true;
            }
        }
        for r in &mut self.receivers {
            loop {
                match self.b.tcp_recv(self.now, r.h, &mut chunk) {
                    Ok(0) => {
                        if !r.eof {
                            r.eof = true;
                            progress = true;
                        }
                        break;
                    }
                    Ok(k) => {
                        for (i, c) in chunk[..k].iter().enumerate() {
                            if *c != pattern(r.received + i as u64) {
                                r.corrupt = true;
                            }
                        }
                        r.received += k as u64;
                        progress = true;
                    }
                    Err(SocketError::WouldBlock) | Err(_) => break,
                }
            }
        }
        self.chunk = chunk;
        progress
    }

    /// A data segment from A (an IPv4 datagram carrying TCP), as the filter sees it.
    fn classify(&mut self, ip: &[u8]) -> Option<SegInfo> {
        let ihl = usize::from(*ip.first()? & 0x0f) * 4;
        if *ip.get(9)? != 6 {
            return None;
        }
        let tcp = ip.get(ihl..)?;
        let port = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
        let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
        let off = usize::from(*tcp.get(12)? >> 4) * 4;
        let flags = *tcp.get(13)?;
        if flags & 0x02 != 0 {
            let next = self.ports.len();
            self.ports.entry(port).or_insert((next, seq));
            return None;
        }
        let &(flow, isn) = self.ports.get(&port)?;
        let len = tcp.len().saturating_sub(off);
        let fin = flags & 0x01 != 0;
        if len == 0 && !fin {
            return None;
        }
        let offset = u64::from(seq.wrapping_sub(isn).wrapping_sub(1));
        let nth = self.seen.entry((flow, offset)).or_insert(0);
        *nth += 1;
        Some(SegInfo {
            flow,
            offset,
            len,
            fin,
            nth: *nth,
            at: self.now,
        })
    }

    fn transmit(&mut self) -> bool {
        let mut progress = false;
        let mut buf = vec![0u8; 1500];
        let one_way = Duration::from_micros(self.path.rtt.total_micros() / 2);
        while let Some(n) = self.a.poll_transmit(self.now, &mut buf) {
            progress = true;
            let mut bytes = buf[..n].to_vec();
            let mut extra = Duration::ZERO;
            let info = self.classify(&bytes);
            if let Some(info) = info
                && let Some(f) = self.filter.as_mut()
            {
                match f(&info) {
                    Fate::Pass => {}
                    Fate::Drop => {
                        self.filter_drops += 1;
                        continue;
                    }
                    Fate::Delay(d) => extra = d,
                }
            }
            if self.path.loss > 0.0 && self.rng.chance(self.path.loss) {
                self.random_drops += 1;
                continue;
            }
            // The bottleneck: serialise at rate_bps behind what is queued.
            let mut depart = self.now;
            if self.path.rate_bps > 0 {
                let start = self.link_free.max(self.now);
                let backlog = (start - self.now).total_micros() * self.path.rate_bps / 8_000_000;
                if backlog > self.path.queue_bytes {
                    self.queue_drops += 1;
                    continue;
                }
                if self.path.ce_threshold > 0 && backlog > self.path.ce_threshold {
                    mark_ce(&mut bytes);
                }
                let tx = (n as u64 * 8 * 1_000_000).div_ceil(self.path.rate_bps);
                self.link_free = start + Duration::from_micros(tx);
                depart = self.link_free;
            }
            if let Some(i) = info
                && !self.passed.insert((i.flow, i.offset))
            {
                self.spurious += 1;
            }
            self.order += 1;
            self.wire.push(Reverse(Pkt {
                at: depart + one_way + extra,
                order: self.order,
                to_b: true,
                bytes,
            }));
        }
        while let Some(n) = self.b.poll_transmit(self.now, &mut buf) {
            progress = true;
            self.order += 1;
            self.wire.push(Reverse(Pkt {
                at: self.now + one_way,
                order: self.order,
                to_b: false,
                bytes: buf[..n].to_vec(),
            }));
        }
        progress
    }

    /// Run until `until` (virtual) or until every flow has been received to its end.
    pub fn run(&mut self, until: Instant) {
        loop {
            loop {
                self.a.handle_timeout(self.now);
                self.b.handle_timeout(self.now);
                let mut progress = self.apps();
                progress |= self.transmit();
                while self.wire.peek().is_some_and(|p| p.0.at <= self.now) {
                    let Some(Reverse(p)) = self.wire.pop() else {
                        break;
                    };
                    if p.to_b {
                        self.b.handle_packet(self.now, &p.bytes);
                    } else {
                        self.a.handle_packet(self.now, &p.bytes);
                    }
                    // Answer each packet before the next one of the same instant (a stack
                    // ACKs every second segment, not once per batch).
                    self.transmit();
                    progress = true;
                }
                if !progress {
                    break;
                }
            }
            if !self.past_eof
                && self.receivers.len() == self.senders.len()
                && self.receivers.iter().all(|r| r.eof)
            {
                return;
            }
            let next = [
                self.wire.peek().map(|p| p.0.at),
                self.a.poll_timeout(),
                self.b.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= until => self.now = self.now.max(t),
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }
}
