//! The link emulator, one impairment at a time, over many packets with fixed seeds.

use tunstack::link::{Impair, ImpairConfig};
use tunstack::{Duration, Instant};

/// A numbered packet: an IPv4-looking first byte, the sequence number, padding.
fn packet(n: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len.max(8)];
    p[0] = 0x45;
    p[4..8].copy_from_slice(&n.to_be_bytes());
    p
}

fn number(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[4], p[5], p[6], p[7]])
}

/// Deliver everything due up to `until`, at the time it is due.
fn drain(link: &mut Impair, until: Instant, out: &mut Vec<(Instant, Vec<u8>)>) {
    while let Some(t) = link.poll_timeout().filter(|t| *t <= until) {
        let before = out.len();
        while let Some(p) = link.poll_deliver(t) {
            out.push((t, p));
        }
        assert!(
            out.len() > before,
            "poll_timeout said {t:?} but nothing was due"
        );
    }
}

/// Push `n` packets `gap` apart, deliver everything; (delivery time, packet) in delivery order.
fn run(cfg: ImpairConfig, seed: u64, n: u32, gap: Duration) -> (Impair, Vec<(Instant, Vec<u8>)>) {
    let mut link = Impair::new(cfg, seed);
    let mut out = Vec::new();
    for i in 0..n {
        let now = Instant::ZERO + gap.saturating_mul(u64::from(i));
        drain(&mut link, now, &mut out);
        link.push(now, packet(i, 64));
    }
    drain(&mut link, Instant::from_micros(u64::MAX), &mut out);
    assert_eq!(link.in_flight(), 0);
    (link, out)
}

const N: u32 = 100_000;
const GAP: Duration = Duration::from_micros(100);

fn within(x: u64, expect: f64, tol: f64) -> bool {
    (x as f64 - expect).abs() <= tol * expect
}

#[test]
fn transparent_link_delivers_everything_in_order_immediately() {
    let (link, out) = run(ImpairConfig::default(), 1, 1000, GAP);
    assert_eq!(out.len(), 1000);
    for (i, (t, p)) in out.iter().enumerate() {
        assert_eq!(number(p), i as u32);
        assert_eq!(*t, Instant::ZERO + GAP.saturating_mul(i as u64));
    }
    assert_eq!(link.stats().delivered, 1000);
    assert!(ImpairConfig::default().is_transparent());
}

#[test]
fn loss_drops_the_configured_fraction_and_counts_it() {
    let cfg = ImpairConfig {
        loss: 0.1,
        ..Default::default()
    };
    assert!(!cfg.is_transparent());
    let (link, out) = run(cfg, 42, N, GAP);
    let s = link.stats();
    assert!(within(s.dropped_loss, 0.1 * N as f64, 0.05), "{s:?}");
    assert_eq!(s.packets_in, u64::from(N));
    assert_eq!(s.delivered + s.dropped_loss, u64::from(N));
    assert_eq!(out.len() as u64, s.delivered);
    // Survivors keep their order.
    assert!(out.windows(2).all(|w| number(&w[0].1) < number(&w[1].1)));
}

#[test]
fn duplicate_adds_an_identical_copy_right_behind() {
    let cfg = ImpairConfig {
        duplicate: 0.05,
        ..Default::default()
    };
    let (link, out) = run(cfg, 7, N, GAP);
    let s = link.stats();
    assert!(within(s.duplicated, 0.05 * N as f64, 0.05), "{s:?}");
    assert_eq!(s.delivered, u64::from(N) + s.duplicated);
    let pairs = out.windows(2).filter(|w| w[0].1 == w[1].1).count() as u64;
    assert_eq!(pairs, s.duplicated);
}

#[test]
fn corrupt_flips_exactly_one_bit_never_in_the_first_byte() {
    let cfg = ImpairConfig {
        corrupt: 0.2,
        ..Default::default()
    };
    let (link, out) = run(cfg, 9, 20_000, GAP);
    let s = link.stats();
    assert!(within(s.corrupted, 0.2 * 20_000.0, 0.05), "{s:?}");
    let mut changed = 0u64;
    for (i, (_, p)) in out.iter().enumerate() {
        let orig = packet(i as u32, 64);
        let bits: u32 = p.iter().zip(&orig).map(|(a, b)| (a ^ b).count_ones()).sum();
        assert!(bits <= 1, "packet {i}: {bits} bits differ");
        assert_eq!(p[0], 0x45, "first byte must stay IPv4-looking");
        changed += u64::from(bits);
    }
    assert_eq!(changed, s.corrupted);
}

#[test]
fn fixed_delay_is_exact() {
    let d = Duration::from_millis(50);
    let cfg = ImpairConfig {
        delay: d,
        ..Default::default()
    };
    let (_, out) = run(cfg, 3, 1000, GAP);
    for (i, (t, p)) in out.iter().enumerate() {
        assert_eq!(number(p), i as u32);
        assert_eq!(*t, Instant::ZERO + GAP.saturating_mul(i as u64) + d);
    }
    // Not a microsecond early.
    let mut link = Impair::new(
        ImpairConfig {
            delay: d,
            ..Default::default()
        },
        3,
    );
    link.push(Instant::ZERO, packet(0, 64));
    assert!(
        link.poll_deliver(Instant::ZERO + d - Duration::from_micros(1))
            .is_none()
    );
    assert!(link.poll_deliver(Instant::ZERO + d).is_some());
}

#[test]
fn jitter_spreads_delay_but_never_reorders_by_default() {
    let (d, j) = (Duration::from_millis(10), Duration::from_millis(2));
    let cfg = ImpairConfig {
        delay: d,
        jitter: j,
        ..Default::default()
    };
    let (link, out) = run(cfg, 11, 20_000, GAP);
    assert_eq!(link.stats().reordered, 0);
    let mut sum = 0u64;
    let mut distinct = std::collections::HashSet::new();
    for (i, (t, p)) in out.iter().enumerate() {
        assert_eq!(number(p), i as u32, "jitter reordered");
        let sent = Instant::ZERO + GAP.saturating_mul(i as u64);
        let lat = (*t - sent).total_micros();
        assert!((8_000..=12_000).contains(&lat), "latency {lat}");
        sum += lat;
        distinct.insert(lat);
    }
    assert!(distinct.len() > 100, "jitter had no effect");
    let mean = sum as f64 / out.len() as f64;
    // FIFO holds some packets back a little, so the mean sits at or above the delay.
    assert!((10_000.0..11_500.0).contains(&mean), "mean {mean}");
}

fn inversions(out: &[(Instant, Vec<u8>)]) -> usize {
    out.windows(2)
        .filter(|w| number(&w[0].1) > number(&w[1].1))
        .count()
}

#[test]
fn reorder_with_delay_sends_packets_ahead() {
    let d = Duration::from_millis(5);
    let cfg = ImpairConfig {
        delay: d,
        reorder: 0.1,
        ..Default::default()
    };
    let (link, out) = run(cfg, 5, N, GAP);
    let s = link.stats();
    assert!(within(s.reordered, 0.1 * N as f64, 0.05), "{s:?}");
    assert_eq!(out.len(), N as usize);
    // A reordered packet skips the delay: delivered when pushed.
    let early = out
        .iter()
        .filter(|(t, p)| *t == Instant::ZERO + GAP.saturating_mul(u64::from(number(p))))
        .count() as u64;
    assert_eq!(early, s.reordered);
    assert!(inversions(&out) as u64 >= s.reordered / 2);
    // Nothing lost, nothing doubled.
    let mut nums: Vec<u32> = out.iter().map(|(_, p)| number(p)).collect();
    nums.sort_unstable();
    assert!(nums.iter().enumerate().all(|(i, n)| *n == i as u32));
}

#[test]
fn with_reorder_set_jitter_may_reorder_too() {
    let cfg = ImpairConfig {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        reorder: 0.0001,
        ..Default::default()
    };
    let (link, out) = run(cfg, 12, 20_000, GAP);
    assert_eq!(out.len(), 20_000);
    // Far more inversions than packets picked for reordering: jitter reorders.
    assert!(inversions(&out) as u64 > 100 * (link.stats().reordered + 1));
    for (t, p) in &out {
        let sent = Instant::ZERO + GAP.saturating_mul(u64::from(number(p)));
        let lat = (*t - sent).total_micros();
        assert!(lat == 0 || (5_000..=15_000).contains(&lat), "latency {lat}");
    }
}

#[test]
fn reorder_without_delay_swaps_with_the_next_packet() {
    let cfg = ImpairConfig {
        reorder: 0.1,
        ..Default::default()
    };
    let (link, out) = run(cfg, 6, N, GAP);
    let s = link.stats();
    assert!(within(s.reordered, 0.1 * N as f64, 0.05), "{s:?}");
    assert_eq!(out.len(), N as usize);
    let inv = inversions(&out) as u64;
    // Each held packet is overtaken (runs of held packets overlap a little).
    assert!(
        inv >= s.reordered * 8 / 10 && inv <= s.reordered,
        "{inv} vs {s:?}"
    );
    // A held packet waits for its successor only (GAP < REORDER_MAX_HOLD).
    for w in out.windows(2) {
        if number(&w[0].1) > number(&w[1].1) {
            assert!(number(&w[0].1) - number(&w[1].1) <= 2);
        }
    }
}

#[test]
fn reorder_without_delay_releases_a_lone_held_packet() {
    let mut link = Impair::new(
        ImpairConfig {
            reorder: 1.0,
            ..Default::default()
        },
        1,
    );
    link.push(Instant::ZERO, packet(0, 64));
    let t = link.poll_timeout().expect("held packet has a deadline");
    assert_eq!(t, Instant::ZERO + tunstack::link::impair::REORDER_MAX_HOLD);
    assert!(link.poll_deliver(Instant::ZERO).is_none());
    assert_eq!(link.poll_deliver(t).map(|p| number(&p)), Some(0));
}

#[test]
fn same_seed_same_output_different_seed_different_output() {
    let cfg = ImpairConfig {
        loss: 0.05,
        delay: Duration::from_millis(3),
        jitter: Duration::from_millis(1),
        reorder: 0.05,
        duplicate: 0.05,
        corrupt: 0.05,
        rate_bps: Some(4_000_000),
        queue_bytes: 2048,
        ecn_mark_threshold: 0,
    };
    let (l1, o1) = run(cfg.clone(), 1234, 10_000, GAP);
    let (l2, o2) = run(cfg.clone(), 1234, 10_000, GAP);
    let (l3, o3) = run(cfg, 1235, 10_000, GAP);
    assert_eq!(o1, o2);
    assert_eq!(l1.stats(), l2.stats());
    assert_ne!(o1, o3);
    assert_ne!(l1.stats(), l3.stats());
    // Every copy is accounted for: delivered or dropped with a reason.
    for l in [&l1, &l3] {
        let s = l.stats();
        assert!(
            s.dropped_queue > 0 && s.dropped_loss > 0 && s.corrupted > 0,
            "{s:?}"
        );
        assert_eq!(
            s.packets_in + s.duplicated,
            s.delivered + s.dropped_loss + s.dropped_queue
        );
    }
}
