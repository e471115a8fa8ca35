//! `Impair`: a seeded, deterministic, sans-IO link emulator for one direction.
//!
//! SKELETON: the interface is fixed; the behaviour (loss, delay, jitter, reorder, duplicate,
//! corrupt, rate limit with a bounded queue) is being written. For now it passes packets through.

use std::collections::VecDeque;

use crate::time::{Duration, Instant};

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
    /// Bottleneck queue in bytes (tail drop beyond it); only with a rate.
    pub queue_bytes: usize,
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
}

pub struct Impair {
    #[allow(dead_code)]
    cfg: ImpairConfig,
    #[allow(dead_code)]
    rng: crate::rng::Rng,
    queue: VecDeque<(Instant, Vec<u8>)>,
    stats: ImpairStats,
}

impl Impair {
    pub fn new(cfg: ImpairConfig, seed: u64) -> Self {
        Impair {
            cfg,
            rng: crate::rng::Rng::new(seed),
            queue: VecDeque::new(),
            stats: ImpairStats::default(),
        }
    }

    /// A packet enters the link at `now`.
    pub fn push(&mut self, now: Instant, packet: Vec<u8>) {
        self.stats.packets_in += 1;
        self.queue.push_back((now, packet));
    }

    /// The next packet whose delivery time is ≤ `now`.
    pub fn poll_deliver(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.queue.front().is_some_and(|(t, _)| *t <= now) {
            self.stats.delivered += 1;
            return self.queue.pop_front().map(|(_, p)| p);
        }
        None
    }

    /// When the next packet is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.front().map(|(t, _)| *t)
    }

    pub fn stats(&self) -> &ImpairStats {
        &self.stats
    }
}
