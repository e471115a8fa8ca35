// Pacing (src/tcp/pacing.rs, src/tcp/connection/pace.rs) end to end on the simulated path of
// tests/common/loss_net.rs: a window leaves in quanta spaced quantum/rate apart (Linux
// tcp_update_pacing_rate: rate = 1.2 × W / SRTT in congestion avoidance), back to back when
// pacing is off; the stack's deadline is the next release; an RTO retransmission is not held
// behind the pacing clock; a paced transfer over a lossy path delivers every byte.
#[path = "common/loss_net.rs"]
mod net;

use std::cell::RefCell;
use std::rc::Rc;

use net::{A_IP, B_IP, Fate, Net, PathCfg, SegInfo, ours};
use tunstack::Stack;
use tunstack::tcp::TcpConfig;
use tunstack::tcp::timer::Timer;
use tunstack::time::{Duration, Instant};

const MSS: u64 = 1448; // 1460 minus the timestamp option
/// The receiver's window: 20 segments. With `cc: "none"` it is the whole window W.
const WND: usize = 20 * MSS as usize;

fn sender(pacing: bool) -> TcpConfig {
    TcpConfig {
        cc: "none".into(),
        pacing,
        send_buffer: 1 << 20,
        ..TcpConfig::default()
    }
}

fn receiver() -> TcpConfig {
    TcpConfig {
        recv_buffer: WND,
        delayed_ack: Duration::ZERO,
        ..TcpConfig::default()
    }
}

fn path(loss: f64) -> PathCfg {
    PathCfg {
        rtt: Duration::from_millis(100),
        rate_bps: 0,
        queue_bytes: 0,
        loss,
        ce_threshold: 0,
        seed: 3,
    }
}

type Log = Rc<RefCell<Vec<SegInfo>>>;

/// A net whose filter logs every data segment A sends (and applies `fate`).
fn net(
    a: TcpConfig,
    loss: f64,
    mut fate: impl FnMut(&SegInfo) -> Fate + 'static,
) -> (Net<Stack, Stack>, Log) {
    let mut n = Net::new(ours(A_IP, a, 1), ours(B_IP, receiver(), 2), path(loss));
    let log: Log = Rc::default();
    let l = log.clone();
    n.filter = Some(Box::new(move |s| {
        l.borrow_mut().push(*s);
        fate(s)
    }));
    (n, log)
}

/// Departure instants (µs) of first transmissions between `from` and `to`, and the number of
/// segments that left at each.
fn bursts(log: &Log, from: Instant, to: Instant) -> Vec<(u64, usize)> {
    let mut out: Vec<(u64, usize)> = Vec::new();
    for s in log.borrow().iter() {
        if s.nth != 1 || s.len == 0 || s.at < from || s.at >= to {
            continue;
        }
        let t = s.at.total_micros();
        match out.last_mut() {
            Some((lt, k)) if *lt == t => *k += 1,
            _ => out.push((t, 1)),
        }
    }
    out
}

#[test]
fn a_window_leaves_in_quanta_spaced_quantum_over_rate() {
    let (mut n, log) = net(sender(true), 0.0, |_| Fate::Pass);
    n.add_flow(4 << 20);
    n.run(Instant::from_secs(2));
    let info = n.a.tcp_info(n.senders[0].h).expect("info");
    let srtt = info.srtt.expect("srtt");
    assert_eq!(srtt, Duration::from_millis(100), "{info:?}");
    // Congestion avoidance (ssthresh unlimited with cc none): 1.2 × 20 × 1448 B / 100 ms.
    assert_eq!(info.pacing_rate, 347_520);
    let b = bursts(&log, Instant::from_secs(1), Instant::from_secs(2));
    // Quantum = max(2 segments, 1 ms of data) = 2 segments; 2896 B / 347520 B/s = 8333.3 µs.
    // The ACK clock then repeats the paced pattern: 10 quanta per round trip.
    assert!(b.len() >= 100, "{b:?}");
    assert!(b.iter().all(|&(_, k)| k <= 2), "{b:?}");
    let gaps: Vec<u64> = b.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let paced = gaps.iter().filter(|g| (8333..=8334).contains(*g)).count();
    assert!(paced * 10 >= gaps.len() * 7, "gaps {gaps:?}");
    // Never faster than half an interval (the lateness credit after the window's idle gap).
    assert!(gaps.iter().all(|&g| g >= 4166), "gaps {gaps:?}");
}

#[test]
fn without_pacing_a_window_leaves_back_to_back() {
    let (mut n, log) = net(sender(false), 0.0, |_| Fate::Pass);
    n.add_flow(4 << 20);
    n.run(Instant::from_secs(2));
    assert_eq!(n.a.tcp_info(n.senders[0].h).expect("info").pacing_rate, 0);
    let b = bursts(&log, Instant::from_secs(1), Instant::from_secs(2));
    // One burst of the whole window per round trip (20 segments at one instant).
    let max = b.iter().map(|&(_, k)| k).max().unwrap_or(0);
    assert!(max >= 10, "{b:?}");
    assert!(b.len() < 50, "{b:?}");
}

#[test]
fn the_deadline_is_the_next_release() {
    let (mut n, log) = net(sender(true), 0.0, |_| Fate::Pass);
    n.add_flow(4 << 20);
    // Step until pacing holds data back (the ACKs of the unpaced initial window return
    // together and open more than one quantum at once).
    let h = n.senders[0].h;
    while n
        .a
        .tcp()
        .connection(h)
        .and_then(|c| c.pacing_release())
        .is_none()
    {
        assert!(
            n.now < Instant::from_secs(1),
            "pacing never held anything back"
        );
        n.run(n.now + Duration::from_micros(500));
    }
    let c = n.a.tcp().connection(h).expect("conn");
    let release = c.pacing_release().expect("held back");
    let rto = c.timer(Timer::Retransmit).expect("data in flight");
    assert!(release > n.now && release < rto, "{release} {rto}");
    assert_eq!(n.a.poll_timeout(), Some(release));
    // The release is one quantum after the last one left.
    let last = log.borrow().last().map(|s| s.at).expect("sent");
    let gap = (release - last).total_micros();
    assert!(
        (8333..=8334).contains(&gap) || (4166..=4167).contains(&gap),
        "gap {gap}"
    );
    // Nothing goes before it; at it the next quantum goes.
    let mut buf = vec![0u8; 1500];
    let before = release - Duration::from_micros(1);
    n.a.handle_timeout(before);
    assert!(n.a.poll_transmit(before, &mut buf).is_none());
    n.a.handle_timeout(release);
    assert!(n.a.poll_transmit(release, &mut buf).is_some());
}

#[test]
fn an_rto_retransmission_is_not_held_behind_the_pacing_clock() {
    // Black-hole the first transmission of everything from 1 MB on: no ACK comes back, the RTO
    // fires, and its retransmission leaves at the RTO deadline itself.
    let cut = 1 << 20;
    let mut cfg = sender(true);
    cfg.sack = false; // no tail loss probe: the timer is a plain RTO
    let (mut n, log) = net(cfg, 0.0, move |s| {
        if s.offset >= cut && s.nth == 1 {
            Fate::Drop
        } else {
            Fate::Pass
        }
    });
    n.add_flow(4 << 20);
    // Run until the last ACK is in (first dropped segment + one RTT), then read the RTO.
    let first_drop = loop {
        n.run(n.now + Duration::from_millis(10));
        if let Some(s) = log.borrow().iter().find(|s| s.offset >= cut) {
            break s.at;
        }
    };
    n.run(first_drop + Duration::from_millis(150));
    let h = n.senders[0].h;
    let info = n.a.tcp_info(h).expect("info");
    assert!(info.pacing_rate > 0, "paced before the loss: {info:?}");
    let rto_at =
        n.a.tcp()
            .connection(h)
            .and_then(|c| c.timer(Timer::Retransmit))
            .expect("RTO armed");
    n.run(rto_at + Duration::from_millis(1));
    let rtx = log
        .borrow()
        .iter()
        .find(|s| s.nth == 2)
        .copied()
        .expect("retransmitted");
    assert_eq!(
        Some(rtx.offset),
        log.borrow().iter().map(|s| s.offset).find(|&o| o >= cut)
    );
    assert_eq!(rtx.at, rto_at, "RTO retransmission delayed");
    assert_eq!(n.a.tcp().stats().rto_expirations, 1);
}

#[test]
fn a_paced_transfer_over_a_lossy_path_delivers_every_byte() {
    for cc in ["cubic", "newreno"] {
        let a = TcpConfig {
            cc: cc.into(),
            pacing: true,
            send_buffer: 256 * 1024,
            ..TcpConfig::default()
        };
        let b = TcpConfig {
            recv_buffer: 256 * 1024,
            ..TcpConfig::default()
        };
        let p = PathCfg {
            rtt: Duration::from_millis(40),
            rate_bps: 10_000_000,
            queue_bytes: 50_000,
            loss: 0.01,
            ce_threshold: 0,
            seed: 11,
        };
        let mut n = Net::new(ours(A_IP, a, 1), ours(B_IP, b, 2), p);
        let bytes = 2_000_000;
        n.add_flow(bytes);
        let mut max_rate = 0;
        while !n.receivers.first().is_some_and(|r| r.eof) && n.now < Instant::from_secs(120) {
            n.run(n.now + Duration::from_millis(100));
            if let Some(i) = n.a.tcp_info(n.senders[0].h) {
                max_rate = max_rate.max(i.pacing_rate);
            }
        }
        let r = &n.receivers[0];
        assert!(
            r.eof && !r.corrupt,
            "{cc}: received {} of {bytes}",
            r.received
        );
        assert_eq!(r.received, bytes, "{cc}");
        assert!(n.random_drops > 0, "{cc}: the path lost nothing");
        assert!(max_rate > 0, "{cc}: never paced");
    }
}

#[test]
fn pacing_is_switchable_per_connection() {
    // Stack default off, this connection on: paced; stack default on, this connection off: not.
    for stack_default in [false, true] {
        let (mut n, log) = net(sender(stack_default), 0.0, |_| Fate::Pass);
        n.add_flow(4 << 20);
        let h = n.senders[0].h;
        let now = n.now;
        n.a.tcp_mut()
            .set_pacing(now, h, !stack_default)
            .expect("live connection");
        n.run(Instant::from_secs(2));
        let rate = n.a.tcp_info(h).expect("info").pacing_rate;
        let b = bursts(&log, Instant::from_secs(1), Instant::from_secs(2));
        let max = b.iter().map(|&(_, k)| k).max().unwrap_or(0);
        if stack_default {
            assert_eq!(rate, 0);
            assert!(max >= 10, "{b:?}");
        } else {
            assert_eq!(rate, 347_520);
            assert!(max <= 2, "{b:?}");
        }
    }
}

#[test]
fn a_paced_run_is_deterministic_under_the_virtual_clock() {
    let run = || {
        let (mut n, log) = net(sender(true), 0.02, |_| Fate::Pass);
        n.add_flow(1 << 20);
        n.run(Instant::from_secs(60));
        assert!(n.receivers[0].eof && !n.receivers[0].corrupt);
        let v: Vec<(Instant, u64, u32)> = log
            .borrow()
            .iter()
            .map(|s| (s.at, s.offset, s.nth))
            .collect();
        (v, n.now)
    };
    let (a, ta) = run();
    let (b, tb) = run();
    assert!(
        a.iter().any(|s| s.2 > 1),
        "the 2 % loss caused no retransmission"
    );
    assert_eq!(ta, tb);
    assert!(a == b, "two runs with the same seeds sent differently");
}
