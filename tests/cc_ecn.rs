// RFC 3168 §6.1: ECN negotiation, CE -> ECE until CWR, one window reduction per window of data,
// over the simulated bottleneck that marks CE above a queue threshold instead of dropping.
#[path = "common/loss_net.rs"]
mod net;

use net::{A_IP, B_IP, Net, PathCfg, ours};
use tunstack::tcp::TcpConfig;
use tunstack::time::{Duration, Instant};

fn cfg(ecn: bool) -> TcpConfig {
    TcpConfig {
        ecn,
        send_buffer: 1 << 20,
        recv_buffer: 1 << 20,
        ..TcpConfig::default()
    }
}

fn path(ce: u64) -> PathCfg {
    PathCfg {
        rtt: Duration::from_millis(20),
        rate_bps: 10_000_000,
        queue_bytes: 400_000,
        loss: 0.0,
        ce_threshold: ce,
        seed: 11,
    }
}

#[test]
fn ecn_is_negotiated_only_when_both_ask() {
    // §6.1.1: ECN-setup SYN (ECE+CWR) and SYN,ACK (ECE).
    for (a, b, want) in [
        (true, true, true),
        (true, false, false),
        (false, true, false),
    ] {
        let mut n = Net::new(ours(A_IP, cfg(a), 1), ours(B_IP, cfg(b), 2), path(0));
        n.add_flow(10_000);
        n.run(Instant::from_secs(5));
        let c = n.a.tcp().connection(n.senders[0].h).unwrap();
        assert_eq!(c.ecn_negotiated(), want, "A {a} B {b}");
        assert_eq!(n.receivers[0].received, 10_000);
    }
}

#[test]
fn ce_marks_reduce_the_window_without_loss() {
    // §6.1.2-6.1.3: the queue marks instead of dropping; the receiver echoes ECE, the sender
    // reduces (no retransmission) and answers with CWR.
    let mut n = Net::new(
        ours(A_IP, cfg(true), 1),
        ours(B_IP, cfg(true), 2),
        path(30_000),
    );
    n.add_flow(3_000_000);
    n.run(Instant::from_secs(60));
    assert_eq!(n.receivers[0].received, 3_000_000);
    let (a, b) = (n.a.tcp().stats().clone(), n.b.tcp().stats().clone());
    assert!(net::MARKS.with(|m| m.get()) > 0);
    assert!(b.ecn_ce_received > 0, "{b:?}");
    assert!(a.ecn_reductions > 0, "{a:?}");
    assert_eq!(n.queue_drops, 0);
    assert_eq!(a.retransmits, 0, "{a:?}");
    // Without ECN nothing is ECT(0), so the queue marks nothing (§6.1.5).
    let before = net::MARKS.with(|m| m.get());
    let mut n = Net::new(
        ours(A_IP, cfg(false), 1),
        ours(B_IP, cfg(false), 2),
        path(30_000),
    );
    n.add_flow(3_000_000);
    n.run(Instant::from_secs(60));
    assert_eq!(net::MARKS.with(|m| m.get()), before);
    assert_eq!(n.a.tcp().stats().ecn_reductions, 0);
}

#[test]
fn emulator_marks_ect_packets_above_the_threshold() {
    // The link emulator's RFC 3168 option: ECT packets beyond `ecn_mark_threshold` bytes of
    // backlog leave with CE (and a valid header checksum); non-ECT packets are never marked.
    use tunstack::link::{Impair, ImpairConfig};
    let cfg = ImpairConfig {
        rate_bps: Some(1_000_000),
        queue_bytes: 100_000,
        ecn_mark_threshold: 3000,
        ..ImpairConfig::default()
    };
    let mut link = Impair::new(cfg, 1);
    let packet = |tos: u8| {
        let mut p = vec![0u8; 1000];
        p[0] = 0x45;
        p[1] = tos;
        p[2..4].copy_from_slice(&1000u16.to_be_bytes());
        p[9] = 17;
        let c = tunstack::wire::checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    };
    for i in 0..10 {
        link.push(Instant::ZERO, packet(if i % 2 == 0 { 0x02 } else { 0 }));
    }
    let mut out = Vec::new();
    while let Some(p) = link.poll_deliver(Instant::from_secs(1)) {
        out.push(p);
    }
    assert_eq!(out.len(), 10);
    let ce: Vec<usize> = (0..10).filter(|&i| out[i][1] & 3 == 3).collect();
    // Backlog after packet i is (i + 1)·1000 bytes: above 3000 from the fourth on; ECT: even.
    assert_eq!(ce, vec![4, 6, 8]);
    assert_eq!(link.stats().ce_marked, 3);
    for p in &out {
        assert_eq!(tunstack::wire::checksum::checksum(&p[..20]), 0);
    }
}
