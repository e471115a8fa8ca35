//! The bottleneck: serialization spacing at the configured rate and tail drop past the queue.

use tunstack::link::{Impair, ImpairConfig};
use tunstack::{Duration, Instant};

fn packet(n: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[4..8].copy_from_slice(&n.to_be_bytes());
    p
}

fn deliver_all(link: &mut Impair) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(t) = link.poll_timeout() {
        while let Some(p) = link.poll_deliver(t) {
            out.push((t, p));
        }
    }
    out
}

#[test]
fn departures_are_spaced_by_size_over_rate_exactly() {
    // 1 Mbit/s, 1250-byte packets: 10 ms each. A burst at t=0 leaves at 10, 20, 30 ... ms.
    let mut link = Impair::new(
        ImpairConfig {
            rate_bps: Some(1_000_000),
            ..Default::default()
        },
        1,
    );
    for i in 0..50 {
        link.push(Instant::ZERO, packet(i, 1250));
    }
    let out = deliver_all(&mut link);
    assert_eq!(out.len(), 50);
    for (i, (t, _)) in out.iter().enumerate() {
        assert_eq!(*t, Instant::from_millis(10 * (i as u64 + 1)));
    }
    assert_eq!(link.stats().dropped_queue, 0, "queue_bytes 0 = unbounded");
}

#[test]
fn fractional_serialization_times_do_not_drift() {
    // 100 bytes at 3 Mbit/s = 266.67 µs each. After 3000 packets
    // exactly 800 ms: rounding must not accumulate.
    let mut link = Impair::new(
        ImpairConfig {
            rate_bps: Some(3_000_000),
            ..Default::default()
        },
        1,
    );
    for i in 0..3000 {
        link.push(Instant::ZERO, packet(i, 100));
    }
    let out = deliver_all(&mut link);
    assert_eq!(out.len(), 3000);
    assert_eq!(out[2999].0, Instant::from_millis(800));
    for (i, (t, _)) in out.iter().enumerate() {
        // Departure = end of serialization rounded up to the µs: (i+1) * 800/3 µs.
        assert_eq!(t.total_micros(), ((i as u64 + 1) * 800).div_ceil(3));
    }
    assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn rate_then_delay() {
    let mut link = Impair::new(
        ImpairConfig {
            rate_bps: Some(8_000_000),
            delay: Duration::from_millis(20),
            ..Default::default()
        },
        1,
    );
    // 1000 bytes at 8 Mbit/s = 1 ms, then 20 ms of propagation.
    link.push(Instant::from_millis(5), packet(0, 1000));
    link.push(Instant::from_millis(5), packet(1, 1000));
    let out = deliver_all(&mut link);
    assert_eq!(out[0].0, Instant::from_millis(26));
    assert_eq!(out[1].0, Instant::from_millis(27));
}

#[test]
fn queue_tail_drops_beyond_its_size_and_recovers() {
    // Queue of 5000 bytes holds four 1250-byte packets (the one being sent counts).
    let mut link = Impair::new(
        ImpairConfig {
            rate_bps: Some(1_000_000),
            queue_bytes: 5000,
            ..Default::default()
        },
        1,
    );
    for i in 0..10 {
        link.push(Instant::ZERO, packet(i, 1250));
    }
    assert_eq!(link.stats().dropped_queue, 6);
    // After the first one left (10 ms) there is room for exactly one more.
    link.push(Instant::from_millis(10), packet(10, 1250));
    link.push(Instant::from_millis(10), packet(11, 1250));
    assert_eq!(link.stats().dropped_queue, 7);
    let out = deliver_all(&mut link);
    let nums: Vec<u8> = out.iter().map(|(_, p)| p[7]).collect();
    assert_eq!(nums, vec![0, 1, 2, 3, 10]);
    assert_eq!(out[4].0, Instant::from_millis(50));
    let s = link.stats();
    assert_eq!(s.packets_in, 12);
    assert_eq!(s.delivered + s.dropped_queue, 12);
}

#[test]
fn a_packet_larger_than_the_queue_still_passes_an_empty_queue() {
    let mut link = Impair::new(
        ImpairConfig {
            rate_bps: Some(1_000_000),
            queue_bytes: 100,
            ..Default::default()
        },
        1,
    );
    link.push(Instant::ZERO, packet(0, 1500));
    link.push(Instant::ZERO, packet(1, 50));
    assert_eq!(link.stats().dropped_queue, 1);
    assert_eq!(deliver_all(&mut link).len(), 1);
}
