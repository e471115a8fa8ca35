// A path for loss-recovery scenarios and the bench-loss benchmark: two TcpLayers (A sends, B
// receives) in virtual time. A→B crosses a bottleneck (rate, tail-drop queue), random loss and
// an optional per-segment filter (drop or delay by stream offset and transmission count); B→A
// carries the ACKs after the same one-way delay. Used by tests/loss_*.rs and
// tools/bench-loss/main.rs.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};

use tunstack::rng::Rng;
use tunstack::tcp::{Shutdown, TcpConfig, TcpLayer};
use tunstack::time::{Duration, Instant};
use tunstack::{SocketError, TcpHandle};

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
}

pub struct Flow {
    pub a: Option<TcpHandle>,
    pub b: Option<TcpHandle>,
    pub total: u64,
    pub sent: u64,
    pub received: u64,
    pub shut: bool,
    pub eof: bool,
    pub corrupt: bool,
    isn: Option<u32>,
    port: u16,
}

struct Pkt {
    at: Instant,
    order: u64,
    to_b: bool,
    src: Ipv4Addr,
    dst: Ipv4Addr,
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

pub struct Net {
    pub a: TcpLayer,
    pub b: TcpLayer,
    pub flows: Vec<Flow>,
    pub now: Instant,
    path: PathCfg,
    rng: Rng,
    wire: BinaryHeap<Reverse<Pkt>>,
    order: u64,
    link_free: Instant,
    pub filter: Option<Filter>,
    seen: HashMap<(usize, u64), u32>,
    listener: TcpHandle,
    pub queue_drops: u64,
    pub random_drops: u64,
    pub filter_drops: u64,
}

fn pattern(off: u64) -> u8 {
    (off % 251) as u8
}

impl Net {
    pub fn new(cfg_a: TcpConfig, cfg_b: TcpConfig, path: PathCfg) -> Self {
        let mut a = TcpLayer::new(cfg_a, [1; 16], path.seed);
        let mut b = TcpLayer::new(cfg_b, [2; 16], path.seed ^ 0x5555);
        a.set_mtu(1500);
        b.set_mtu(1500);
        let listener = b.listen(SocketAddrV4::new(B_IP, 80)).expect("listen on B");
        Net {
            a,
            b,
            flows: Vec::new(),
            now: Instant::ZERO,
            path,
            rng: Rng::new(path.seed),
            wire: BinaryHeap::new(),
            order: 0,
            link_free: Instant::ZERO,
            filter: None,
            seen: HashMap::new(),
            listener,
            queue_drops: 0,
            random_drops: 0,
            filter_drops: 0,
        }
    }

    /// A flow of `total` bytes (u64::MAX: until the run ends) from A to B.
    pub fn add_flow(&mut self, total: u64) -> usize {
        let port = 10_000 + self.flows.len() as u16;
        let h = self
            .a
            .connect(
                self.now,
                SocketAddrV4::new(A_IP, port),
                SocketAddrV4::new(B_IP, 80),
            )
            .expect("connect");
        self.flows.push(Flow {
            a: Some(h),
            b: None,
            total,
            sent: 0,
            received: 0,
            shut: false,
            eof: false,
            corrupt: false,
            isn: None,
            port,
        });
        self.flows.len() - 1
    }

    fn apps(&mut self) -> bool {
        let mut progress = false;
        while let Ok(h) = self.b.accept(self.listener) {
            let port = self.b.peer_addr(h).map(|a| a.port()).unwrap_or(0);
            if let Some(f) = self.flows.iter_mut().find(|f| f.port == port) {
                f.b = Some(h);
                progress = true;
            }
        }
        let mut chunk = vec![0u8; 65536];
        for f in &mut self.flows {
            let Some(ha) = f.a else { continue };
            while f.sent < f.total {
                let n = (f.total - f.sent).min(chunk.len() as u64) as usize;
                for (i, c) in chunk[..n].iter_mut().enumerate() {
                    *c = pattern(f.sent + i as u64);
                }
                match self.a.send(self.now, ha, &chunk[..n]) {
                    Ok(k) => {
                        f.sent += k as u64;
                        progress = true;
                    }
                    Err(SocketError::WouldBlock) => break,
                    Err(_) => break,
                }
            }
            if f.sent == f.total && !f.shut {
                let _ = self.a.shutdown(self.now, ha, Shutdown::Write);
                f.shut = true;
                progress = true;
            }
            let Some(hb) = f.b else { continue };
            loop {
                match self.b.recv(self.now, hb, &mut chunk) {
                    Ok(0) => {
                        if !f.eof {
                            f.eof = true;
                            progress = true;
                        }
                        break;
                    }
                    Ok(k) => {
                        for (i, c) in chunk[..k].iter().enumerate() {
                            if *c != pattern(f.received + i as u64) {
                                f.corrupt = true;
                            }
                        }
                        f.received += k as u64;
                        progress = true;
                    }
                    Err(_) => break,
                }
            }
        }
        progress
    }

    fn classify(&mut self, bytes: &[u8]) -> Option<SegInfo> {
        let port = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]);
        let seq = u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?);
        let off = usize::from(*bytes.get(12)? >> 4) * 4;
        let flags = *bytes.get(13)?;
        let flow = self.flows.iter().position(|f| f.port == port)?;
        if flags & 0x02 != 0 {
            self.flows[flow].isn = Some(seq);
            return None;
        }
        let isn = self.flows[flow].isn?;
        let len = bytes.len().saturating_sub(off);
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
        })
    }

    fn transmit(&mut self) -> bool {
        let mut progress = false;
        let mut buf = vec![0u8; 1500];
        let one_way = Duration::from_micros(self.path.rtt.total_micros() / 2);
        while let Some((src, dst, n)) = self.a.poll_transmit(self.now, &mut buf) {
            progress = true;
            let bytes = buf[..n].to_vec();
            let mut extra = Duration::ZERO;
            if let Some(info) = self.classify(&bytes)
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
            // The bottleneck: serialise at rate_bps behind what is queued (IP header: +20).
            let mut depart = self.now;
            if self.path.rate_bps > 0 {
                let start = self.link_free.max(self.now);
                let backlog = (start - self.now).total_micros() * self.path.rate_bps / 8_000_000;
                if backlog > self.path.queue_bytes {
                    self.queue_drops += 1;
                    continue;
                }
                let tx = (n as u64 + 20) * 8 * 1_000_000 / self.path.rate_bps;
                self.link_free = start + Duration::from_micros(tx);
                depart = self.link_free;
            }
            self.order += 1;
            self.wire.push(Reverse(Pkt {
                at: depart + one_way + extra,
                order: self.order,
                to_b: true,
                src,
                dst,
                bytes,
            }));
        }
        while let Some((src, dst, n)) = self.b.poll_transmit(self.now, &mut buf) {
            progress = true;
            self.order += 1;
            self.wire.push(Reverse(Pkt {
                at: self.now + one_way,
                order: self.order,
                to_b: false,
                src,
                dst,
                bytes: buf[..n].to_vec(),
            }));
        }
        progress
    }

    /// Run until `until` (virtual) or until every finite flow has been received completely.
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
                    let tcp = if p.to_b { &mut self.b } else { &mut self.a };
                    tcp.handle_segment(self.now, p.src, p.dst, &p.bytes);
                    progress = true;
                }
                if !progress {
                    break;
                }
            }
            if self.flows.iter().all(|f| f.eof) {
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
