//! `make bench-loss`: goodput of our senders (NewReno and CUBIC, each with and without SACK)
//! and of smoltcp (its better of Reno and CUBIC) over the simulated path of
//! tests/common/loss_net.rs, for RTT {10, 50, 200 ms} × random loss {0, 0.1, 1, 3 %} ×
//! bottleneck {10, 100 Mbit/s} (queue = one BDP), beside the Mathis bound
//! MSS/RTT·1.22/√p; then Jain's fairness index of 2 and 4 competing flows. Virtual time:
//! BENCH_SECS (default 30) seconds per flow. Prints Markdown tables (docs/loss-recovery.md).

#[path = "../../tests/common/loss_net.rs"]
mod net;

use net::{A_IP, B_IP, Net, PathCfg, ours};
use smoltcp::socket::tcp::CongestionControl as SmolCc;
use tunstack::link::TcpEndpoint;
use tunstack::reference::{SmolConfig, SmolStack};
use tunstack::tcp::TcpConfig;
use tunstack::time::{Duration, Instant};

const MSS: f64 = 1448.0;
const BUF: usize = 8 << 20;
/// Seeds per grid cell (the mean is reported).
const SEEDS: u64 = 3;

#[derive(Clone, Copy, Debug)]
enum Sender {
    Ours { cc: &'static str, sack: bool },
    Smol(SmolCc),
}

fn receiver_cfg() -> TcpConfig {
    TcpConfig {
        recv_buffer: BUF,
        send_buffer: 64 * 1024,
        reassembly_max_segments: 8192,
        ..TcpConfig::default()
    }
}

fn sender_cfg(cc: &str, sack: bool) -> TcpConfig {
    TcpConfig {
        cc: cc.into(),
        sack,
        send_buffer: BUF,
        recv_buffer: 64 * 1024,
        ..TcpConfig::default()
    }
}

fn path(rtt_ms: u64, loss: f64, mbit: u64, seed: u64) -> PathCfg {
    let rate = mbit * 1_000_000;
    let bdp = rate / 8 * rtt_ms / 1000;
    PathCfg {
        rtt: Duration::from_millis(rtt_ms),
        rate_bps: rate,
        queue_bytes: bdp.max(30 * 1500),
        loss,
        ce_threshold: 0,
        seed,
    }
}

/// Per-flow goodput in Mbit/s for `flows` flows started `stagger` apart.
fn run_net<A: TcpEndpoint>(
    a: A,
    p: PathCfg,
    flows: usize,
    stagger: Duration,
    secs: u64,
) -> Vec<f64> {
    let b = ours(B_IP, receiver_cfg(), p.seed ^ 0x77);
    let mut n = Net::new(a, b, p);
    let end = Instant::from_secs(secs);
    for i in 0..flows {
        n.run(Instant::ZERO + stagger.saturating_mul(i as u64));
        n.add_flow(u64::MAX);
    }
    n.run(end);
    let mut out: Vec<f64> = n
        .receivers
        .iter()
        .map(|r| r.received as f64 * 8.0 / secs as f64 / 1e6)
        .collect();
    out.resize(flows, 0.0);
    out
}

fn run(s: Sender, p: PathCfg, flows: usize, stagger: Duration, secs: u64) -> Vec<f64> {
    match s {
        Sender::Ours { cc, sack } => run_net(
            ours(A_IP, sender_cfg(cc, sack), p.seed),
            p,
            flows,
            stagger,
            secs,
        ),
        Sender::Smol(cc) => {
            let a = SmolStack::new(SmolConfig {
                addr: A_IP,
                gateway: B_IP,
                rx_buffer: 64 * 1024,
                tx_buffer: BUF,
                seed: p.seed,
                congestion: cc,
                ..SmolConfig::default()
            });
            run_net(a, p, flows, stagger, secs)
        }
    }
}

fn jain(x: &[f64]) -> f64 {
    let s: f64 = x.iter().sum();
    let q: f64 = x.iter().map(|v| v * v).sum();
    if q == 0.0 {
        0.0
    } else {
        s * s / (x.len() as f64 * q)
    }
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    if let Ok(one) = std::env::var("BENCH_ONE") {
        // BENCH_ONE=mbit,rtt_ms,loss,sender(0-3 ours, 4 smoltcp reno, 5 smoltcp cubic): one run.
        let v: Vec<f64> = one.split(',').filter_map(|x| x.parse().ok()).collect();
        if let [mbit, rtt, loss, who] = v[..] {
            let p = path(rtt as u64, loss, mbit as u64, 1);
            let s = match who as u32 {
                0 => Sender::Ours {
                    cc: "newreno",
                    sack: false,
                },
                1 => Sender::Ours {
                    cc: "newreno",
                    sack: true,
                },
                2 => Sender::Ours {
                    cc: "cubic",
                    sack: false,
                },
                3 => Sender::Ours {
                    cc: "cubic",
                    sack: true,
                },
                4 => Sender::Smol(SmolCc::Reno),
                _ => Sender::Smol(SmolCc::Cubic),
            };
            println!("{:?}", run(s, p, 1, Duration::ZERO, secs));
            if let Sender::Ours { cc, sack } = s {
                // The sender's counters, for a closer look.
                let b = ours(B_IP, receiver_cfg(), p.seed ^ 0x77);
                let mut n = Net::new(ours(A_IP, sender_cfg(cc, sack), p.seed), b, p);
                n.add_flow(u64::MAX);
                n.run(Instant::from_secs(secs));
                println!(
                    "{:?}\n{:?}",
                    n.a.tcp().stats(),
                    n.a.tcp().info(n.senders[0].h)
                );
                println!(
                    "queue drops {} random drops {}",
                    n.queue_drops, n.random_drops
                );
            }
        }
        return;
    }
    let ours_list = [
        (
            "NewReno",
            Sender::Ours {
                cc: "newreno",
                sack: false,
            },
        ),
        (
            "NewReno+SACK",
            Sender::Ours {
                cc: "newreno",
                sack: true,
            },
        ),
        (
            "CUBIC",
            Sender::Ours {
                cc: "cubic",
                sack: false,
            },
        ),
        (
            "CUBIC+SACK",
            Sender::Ours {
                cc: "cubic",
                sack: true,
            },
        ),
    ];
    let mut grid = Vec::new();
    for mbit in [10u64, 100] {
        for rtt in [10u64, 50, 200] {
            for loss in [0.0, 0.001, 0.01, 0.03] {
                grid.push((mbit, rtt, loss));
            }
        }
    }
    println!(
        "Goodput, Mbit/s, one {secs} s flow (virtual time), mean of {SEEDS} seeds; queue = 1 BDP; smoltcp: better of Reno/CUBIC.\n"
    );
    print!("| bottleneck | RTT | loss |");
    for (name, _) in ours_list {
        print!(" {name} |");
    }
    println!(" smoltcp | Mathis bound |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let rows: Vec<String> = std::thread::scope(|sc| {
        let chunks: Vec<_> = grid
            .chunks(grid.len().div_ceil(2))
            .map(|part| {
                sc.spawn(move || {
                    part.iter()
                        .map(|&(mbit, rtt, loss)| {
                            // The mean of SEEDS runs: one slow-start overshoot or one early
                            // random loss decides a single 200 ms run.
                            let mean = |s: Sender| {
                                (0..SEEDS)
                                    .map(|k| {
                                        let p = path(rtt, loss, mbit, 42 + rtt + mbit + 1000 * k);
                                        run(s, p, 1, Duration::ZERO, secs)[0]
                                    })
                                    .sum::<f64>()
                                    / SEEDS as f64
                            };
                            let mut row =
                                format!("| {mbit} Mbit/s | {rtt} ms | {} % |", loss * 100.0);
                            for (_, s) in ours_list {
                                row += &format!(" {:.2} |", mean(s));
                            }
                            let smol = [SmolCc::Reno, SmolCc::Cubic]
                                .into_iter()
                                .map(|c| mean(Sender::Smol(c)))
                                .fold(0.0, f64::max);
                            row += &format!(" {smol:.2} |");
                            if loss > 0.0 {
                                let m =
                                    MSS * 8.0 / (rtt as f64 / 1000.0) * 1.22 / loss.sqrt() / 1e6;
                                row += &format!(" {m:.2} |");
                            } else {
                                row += " – |";
                            }
                            row
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for r in rows {
        println!("{r}");
    }
    println!(
        "\nFairness: flows started 1 s apart on one bottleneck, RTT 50 ms, {secs} s; Jain's index (1 = fair) and total Mbit/s.\n"
    );
    println!("| sender | bottleneck | loss | flows | per-flow Mbit/s | total | Jain |");
    println!("|---|---|---|---|---|---|---|");
    for (name, s) in [ours_list[1], ours_list[3]] {
        for mbit in [10u64, 100] {
            for loss in [0.0, 0.001] {
                for flows in [2usize, 4] {
                    let p = path(50, loss, mbit, 9 + flows as u64);
                    let g = run(s, p, flows, Duration::from_secs(1), secs);
                    let per: Vec<String> = g.iter().map(|v| format!("{v:.2}")).collect();
                    println!(
                        "| {name} | {mbit} Mbit/s | {} % | {flows} | {} | {:.2} | {:.3} |",
                        loss * 100.0,
                        per.join(" / "),
                        g.iter().sum::<f64>(),
                        jain(&g)
                    );
                }
            }
        }
    }
}
