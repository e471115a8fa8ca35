//! What `bench-loss` and `bench-pacing` share: the receiver, the path of the grid, running flows
//! over `tests/common/loss_net.rs`, Jain's index, and the grid's rows computed on two threads.
//! Included by both with `#[path]` next to `mod net`.

use super::net::{B_IP, Net, PathCfg, ours};
use tunstack::link::TcpEndpoint;
use tunstack::tcp::TcpConfig;
use tunstack::time::{Duration, Instant};

/// The sender's send buffer and the receiver's window: more than 2 BDP at 100 Mbit/s × 200 ms.
pub const BUF: usize = 8 << 20;
/// Seeds per grid cell (the mean is reported): one slow-start overshoot or one early random
/// loss decides a single 200 ms run.
pub const SEEDS: u64 = 3;

/// Our receiver: SACK on, delayed ACK (the default 40 ms), an 8 MB window.
pub fn receiver_cfg() -> TcpConfig {
    TcpConfig {
        recv_buffer: BUF,
        send_buffer: 64 * 1024,
        reassembly_max_segments: 8192,
        ..TcpConfig::default()
    }
}

/// `queue_div` 1: a tail-drop queue of one BDP (at least 30 packets); 4: a quarter BDP (at
/// least 10 packets). Random `loss` on the data direction.
pub fn path(rtt_ms: u64, loss: f64, mbit: u64, queue_div: u64, seed: u64) -> PathCfg {
    let rate = mbit * 1_000_000;
    let bdp = rate / 8 * rtt_ms / 1000;
    let min = if queue_div == 1 { 30 } else { 10 } * 1500;
    PathCfg {
        rtt: Duration::from_millis(rtt_ms),
        rate_bps: rate,
        queue_bytes: (bdp / queue_div.max(1)).max(min),
        loss,
        ce_threshold: 0,
        seed,
    }
}

/// Runs `flows` flows from `a` to our receiver, started `stagger` apart, for `secs` seconds of
/// virtual time; per-flow goodput in Mbit/s and the network (for its counters).
pub fn run_flows<A: TcpEndpoint>(
    a: A,
    p: PathCfg,
    flows: usize,
    stagger: Duration,
    secs: u64,
) -> (Vec<f64>, Net<A, tunstack::Stack>) {
    let b = ours(B_IP, receiver_cfg(), p.seed ^ 0x77);
    let mut n = Net::new(a, b, p);
    for i in 0..flows {
        n.run(Instant::ZERO + stagger.saturating_mul(i as u64));
        n.add_flow(u64::MAX);
    }
    n.run(Instant::from_secs(secs));
    let mut g: Vec<f64> = n
        .receivers
        .iter()
        .map(|r| r.received as f64 * 8.0 / secs as f64 / 1e6)
        .collect();
    g.resize(flows, 0.0);
    (g, n)
}

/// Jain's fairness index: (Σx)² / (n·Σx²); 1 = fair.
pub fn jain(x: &[f64]) -> f64 {
    let s: f64 = x.iter().sum();
    let q: f64 = x.iter().map(|v| v * v).sum();
    if q == 0.0 {
        0.0
    } else {
        s * s / (x.len() as f64 * q)
    }
}

/// One table row per cell, the cells split over two threads (the grid is deterministic, so the
/// order and the numbers do not depend on the split).
pub fn rows_on_two_threads<T: Sync>(cells: &[T], row: impl Fn(&T) -> String + Sync) -> Vec<String> {
    let row = &row;
    std::thread::scope(|sc| {
        let parts: Vec<_> = cells
            .chunks(cells.len().div_ceil(2).max(1))
            .map(|part| sc.spawn(move || part.iter().map(row).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}
