//! `Impair`: a seeded, deterministic, sans-IO link emulator for one direction.
//!
//! A packet pushed at `now` goes through, in this order (the order of Linux netem, see tc-netem(8)):
//! 1. loss: dropped with probability `loss`;
//! 2. duplicate: with probability `duplicate` a second copy follows the first;
//! 3. corrupt: each copy, with probability `corrupt`, gets one random bit flipped (never in the
//!    first byte, so it still looks like IPv4 and the IPv4/UDP/TCP checksums must catch it);
//! 4. rate: with `rate_bps`, the copy waits in a bottleneck queue (tail drop past `queue_bytes`)
//!    and leaves after its serialization time `len * 8 / rate`;
//! 5. delay: `delay` ± a uniform `jitter`. Jitter never reorders (delivery stays FIFO) unless
//!    `reorder > 0`;
//! 6. reorder: with probability `reorder` the copy skips the delay (is sent ahead of the packets
//!    still in flight, as netem does); on a link without delay it is instead held back until the
//!    next packet has gone (or `REORDER_MAX_HOLD` passed).
//!
//! Every random choice comes from one `Rng` seeded at `new`, so the same seed and the same input
//! give the same output. Cheap: a `VecDeque` while delivery is FIFO, a binary heap otherwise.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::rng::Rng;
use crate::time::{Duration, Instant};

/// On a link without delay, a packet chosen for reordering waits at most this long for a
/// successor to overtake it.
pub const REORDER_MAX_HOLD: Duration = Duration::from_millis(10);

/// What one direction of the link does to packets. All probabilities are in [0, 1].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImpairConfig {
    pub loss: f64,
    pub delay: Duration,
    pub jitter: Duration,
    pub reorder: f64,
    pub duplicate: f64,
    pub corrupt: f64,
    /// Bottleneck rate in bits per second; `None` = unlimited.
    pub rate_bps: Option<u64>,
    /// Bottleneck queue in bytes (tail drop beyond it); only with a rate. 0 = unbounded.
    pub queue_bytes: usize,
    /// RFC 3168 §5: above this backlog (bytes), ECN-capable packets are marked CE instead of
    /// queueing towards the tail drop. 0 = off.
    pub ecn_mark_threshold: usize,
}

impl ImpairConfig {
    /// True when the link changes nothing (the runtime can skip it).
    pub fn is_transparent(&self) -> bool {
        *self
            == ImpairConfig {
                queue_bytes: self.queue_bytes,
                ..ImpairConfig::default()
            }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImpairStats {
    pub packets_in: u64,
    pub delivered: u64,
    pub dropped_loss: u64,
    pub dropped_queue: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
    /// Packets marked CE (RFC 3168) by `ecn_mark_threshold`.
    pub ce_marked: u64,
}

/// A packet in flight; ordered by (delivery time, arrival sequence) only.
struct InFlight {
    at: Instant,
    seq: u64,
    packet: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

pub struct Impair {
    cfg: ImpairConfig,
    rng: Rng,
    /// FIFO delivery (no reordering configured): delivery times never decrease.
    fifo: VecDeque<(Instant, Vec<u8>)>,
    /// Delivery that may reorder: min-heap on (time, seq).
    heap: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    /// Latest delivery time handed out, to keep FIFO under jitter.
    last_at: Instant,
    /// Bottleneck: end of the current serialization, in units of 1/rate µs (exact, no drift).
    busy_until: u128,
    /// Packets in the bottleneck: (departure time, bytes).
    backlog: VecDeque<(Instant, usize)>,
    backlog_bytes: usize,
    /// A packet held back for reordering on a link without delay: (release time, packet).
    held: Option<(Instant, Vec<u8>)>,
    stats: ImpairStats,
}

impl Impair {
    pub fn new(cfg: ImpairConfig, seed: u64) -> Self {
        Impair {
            cfg,
            rng: Rng::new(seed),
            fifo: VecDeque::new(),
            heap: BinaryHeap::new(),
            seq: 0,
            last_at: Instant::ZERO,
            busy_until: 0,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            held: None,
            stats: ImpairStats::default(),
        }
    }

    pub fn config(&self) -> &ImpairConfig {
        &self.cfg
    }

    /// A packet enters the link at `now`.
    pub fn push(&mut self, now: Instant, packet: Vec<u8>) {
        self.stats.packets_in += 1;
        if self.rng.chance(self.cfg.loss) {
            self.stats.dropped_loss += 1;
            return;
        }
        if self.rng.chance(self.cfg.duplicate) {
            self.stats.duplicated += 1;
            let copy = packet.clone();
            self.enqueue(now, packet);
            self.enqueue(now, copy);
        } else {
            self.enqueue(now, packet);
        }
    }

    /// One copy: corrupt, bottleneck, delay/jitter, reorder.
    fn enqueue(&mut self, now: Instant, mut packet: Vec<u8>) {
        if self.rng.chance(self.cfg.corrupt) && flip_one_bit(&mut self.rng, &mut packet) {
            self.stats.corrupted += 1;
        }
        let Some(depart) = self.bottleneck(now, packet.len()) else {
            self.stats.dropped_queue += 1;
            return;
        };
        let t = self.cfg.ecn_mark_threshold;
        if t > 0 && self.backlog_bytes > t && mark_ce(&mut packet) {
            self.stats.ce_marked += 1;
        }
        let reorder = self.rng.chance(self.cfg.reorder);
        let at = if reorder && self.cfg.delay > Duration::ZERO {
            // netem: a reordered packet skips the delay and overtakes the ones in flight.
            self.stats.reordered += 1;
            depart
        } else {
            let mut at = depart + self.cfg.delay;
            let j = self.cfg.jitter.total_micros();
            if j > 0 {
                let off = self.rng.below(j.saturating_mul(2).saturating_add(1));
                at = if off >= j {
                    at + Duration::from_micros(off - j)
                } else {
                    (at - Duration::from_micros(j - off)).max(depart)
                };
            }
            at
        };
        if reorder && self.cfg.delay == Duration::ZERO {
            // No delay to skip: hold this one back so the next packet overtakes it.
            self.stats.reordered += 1;
            if let Some((_, prev)) = self.held.take() {
                self.insert(at, prev);
            }
            self.held = Some((at + REORDER_MAX_HOLD, packet));
            return;
        }
        self.insert(at, packet);
        if let Some((_, prev)) = self.held.take() {
            // The successor is queued; the held packet follows right behind it.
            self.insert(at, prev);
        }
    }

    /// The bottleneck: departure time of a packet of `len` bytes arriving at `now`, or `None` when
    /// the queue is full (tail drop). A packet always fits an empty queue.
    fn bottleneck(&mut self, now: Instant, len: usize) -> Option<Instant> {
        let Some(rate) = self.cfg.rate_bps.filter(|r| *r > 0) else {
            return Some(now);
        };
        while self.backlog.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, n)) = self.backlog.pop_front() {
                self.backlog_bytes -= n;
            }
        }
        let limit = self.cfg.queue_bytes;
        if limit > 0 && !self.backlog.is_empty() && self.backlog_bytes + len > limit {
            return None;
        }
        let rate = u128::from(rate);
        let start = self.busy_until.max(u128::from(now.total_micros()) * rate);
        self.busy_until = start + len as u128 * 8 * 1_000_000;
        let depart_us = self.busy_until.div_ceil(rate);
        let depart = Instant::from_micros(u64::try_from(depart_us).unwrap_or(u64::MAX));
        self.backlog.push_back((depart, len));
        self.backlog_bytes += len;
        Some(depart)
    }

    fn insert(&mut self, at: Instant, packet: Vec<u8>) {
        if self.cfg.reorder > 0.0 {
            self.seq += 1;
            self.heap.push(Reverse(InFlight {
                at,
                seq: self.seq,
                packet,
            }));
        } else {
            // FIFO: never deliver before the packet ahead (jitter must not reorder).
            let at = at.max(self.last_at);
            self.last_at = at;
            self.fifo.push_back((at, packet));
        }
    }

    /// The next packet whose delivery time is ≤ `now`.
    pub fn poll_deliver(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.held.as_ref().is_some_and(|(t, _)| *t <= now)
            && let Some((t, p)) = self.held.take()
        {
            self.insert(t, p);
        }
        let p = if self.cfg.reorder > 0.0 {
            if self.heap.peek().is_some_and(|Reverse(f)| f.at <= now) {
                self.heap.pop().map(|Reverse(f)| f.packet)
            } else {
                None
            }
        } else if self.fifo.front().is_some_and(|(t, _)| *t <= now) {
            self.fifo.pop_front().map(|(_, p)| p)
        } else {
            None
        };
        if p.is_some() {
            self.stats.delivered += 1;
        }
        p
    }

    /// When the next packet is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let next = if self.cfg.reorder > 0.0 {
            self.heap.peek().map(|Reverse(f)| f.at)
        } else {
            self.fifo.front().map(|(t, _)| *t)
        };
        match (next, self.held.as_ref().map(|(t, _)| *t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Packets inside the link (queued, in flight or held back).
    pub fn in_flight(&self) -> usize {
        self.fifo.len() + self.heap.len() + usize::from(self.held.is_some())
    }

    pub fn stats(&self) -> &ImpairStats {
        &self.stats
    }
}

/// Flip one random bit past the first byte (the first byte carries the IPv4 version and IHL).
/// Returns false when there is nothing to flip.
fn flip_one_bit(rng: &mut Rng, packet: &mut [u8]) -> bool {
    let bits = packet.len() as u64 * 8;
    let bit = match bits {
        0 => return false,
        8 => rng.below(8),
        _ => 8 + rng.below(bits - 8),
    };
    let Ok(byte) = usize::try_from(bit / 8) else {
        return false;
    };
    match packet.get_mut(byte) {
        Some(b) => {
            *b ^= 1 << (bit % 8);
            true
        }
        None => false,
    }
}

/// RFC 3168 §5: set CE on an ECT(0)/ECT(1) IPv4 packet and fix its header checksum (RFC 1071).
fn mark_ce(ip: &mut [u8]) -> bool {
    let Some(&v) = ip.first() else { return false };
    let ihl = usize::from(v & 0x0f) * 4;
    if v >> 4 != 4 || ihl < 20 || ip.len() < ihl || ip[1] & 0x03 == 0 || ip[1] & 0x03 == 0x03 {
        return false;
    }
    ip[1] |= 0x03;
    ip[10] = 0;
    ip[11] = 0;
    let c = crate::wire::checksum::checksum(&ip[..ihl]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    true
}
