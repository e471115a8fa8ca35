//! `make bench-loss`: goodput of our senders (NewReno and CUBIC, each with and without SACK)
//! and of smoltcp (its better of Reno and CUBIC) over the simulated path of
//! tests/common/loss_net.rs, for RTT {10, 50, 200 ms} × random loss {0, 0.1, 1, 3 %} ×
//! bottleneck {10, 100 Mbit/s} (queue = one BDP), beside the Mathis bound
//! MSS/RTT·1.22/√p; then Jain's fairness index of 2 and 4 competing flows. Virtual time:
//! BENCH_SECS (default 30) seconds per flow. Prints Markdown tables (docs/loss-recovery.md).
//! BENCH_TIMESTAMPS=off: our senders without the timestamp option.

#[path = "grid.rs"]
mod grid;
#[path = "../../tests/common/loss_net.rs"]
mod net;

use grid::{BUF, SEEDS, jain, path, receiver_cfg, rows_on_two_threads, run_flows};
use net::{A_IP, B_IP, Net, PathCfg, ours};
use smoltcp::socket::tcp::CongestionControl as SmolCc;
use tunstack::reference::{SmolConfig, SmolStack};
use tunstack::tcp::TcpConfig;
use tunstack::time::{Duration, Instant};

const MSS: f64 = 1448.0;
#[derive(Clone, Copy, Debug)]
enum Sender {
    Ours { cc: &'static str, sack: bool },
    Smol(SmolCc),
}

/// BENCH_TIMESTAMPS=off: our senders without timestamps (RFC 7323), so that F-RTO (RFC 5682)
/// rather than Eifel (RFC 3522) judges their timeouts.
fn sender_cfg(cc: &str, sack: bool) -> TcpConfig {
    TcpConfig {
        cc: cc.into(),
        sack,
        timestamps: std::env::var("BENCH_TIMESTAMPS").map_or(true, |v| v != "off"),
        send_buffer: BUF,
        recv_buffer: 64 * 1024,
        ..TcpConfig::default()
    }
}

fn run(s: Sender, p: PathCfg, flows: usize, stagger: Duration, secs: u64) -> Vec<f64> {
    match s {
        Sender::Ours { cc, sack } => {
            run_flows(
                ours(A_IP, sender_cfg(cc, sack), p.seed),
                p,
                flows,
                stagger,
                secs,
            )
            .0
        }
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
            run_flows(a, p, flows, stagger, secs).0
        }
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
            let p = path(rtt as u64, loss, mbit as u64, 1, 1);
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
    let rows = rows_on_two_threads(&grid, |&(mbit, rtt, loss)| {
        // The mean of SEEDS runs: one slow-start overshoot or one early
        // random loss decides a single 200 ms run.
        let mean = |s: Sender| {
            (0..SEEDS)
                .map(|k| {
                    let p = path(rtt, loss, mbit, 1, 42 + rtt + mbit + 1000 * k);
                    run(s, p, 1, Duration::ZERO, secs)[0]
                })
                .sum::<f64>()
                / SEEDS as f64
        };
        let mut row = format!("| {mbit} Mbit/s | {rtt} ms | {} % |", loss * 100.0);
        for (_, s) in ours_list {
            row += &format!(" {:.2} |", mean(s));
        }
        let smol = [SmolCc::Reno, SmolCc::Cubic]
            .into_iter()
            .map(|c| mean(Sender::Smol(c)))
            .fold(0.0, f64::max);
        row += &format!(" {smol:.2} |");
        if loss > 0.0 {
            let m = MSS * 8.0 / (rtt as f64 / 1000.0) * 1.22 / loss.sqrt() / 1e6;
            row += &format!(" {m:.2} |");
        } else {
            row += " – |";
        }
        row
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
                    let p = path(50, loss, mbit, 1, 9 + flows as u64);
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
