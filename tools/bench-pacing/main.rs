//! `make bench-pacing`: what pacing (src/tcp/pacing.rs) buys on the simulated path of
//! tests/common/loss_net.rs (the path of `make bench-loss`). CUBIC+SACK and NewReno+SACK, each
//! with pacing off and on, over RTT {10, 50, 200 ms} × random loss {0, 0.1, 1 %} × bottleneck
//! {10, 100 Mbit/s} × tail-drop queue {1 BDP, 1/4 BDP} (at least 30 / 10 packets); goodput
//! (mean of 3 seeds) and the bottleneck's queue drops. Then Jain's fairness index of 2 and 4
//! flows (RTT 50 ms, started 1 s apart) with pacing off and on. BENCH_SECS (default 30)
//! seconds of virtual time per flow; BENCH_ONE=mbit,rtt,loss,queue_div,cc(0 newreno,1 cubic)
//! runs one cell (both pacing settings) and prints the sender's counters;
//! BENCH_FAIR=mbit,queue_div,loss,flows,cc one fairness run. BENCH_UNDO=0 turns the Eifel undo off.

#[path = "../bench-loss/grid.rs"]
mod grid;
#[path = "../../tests/common/loss_net.rs"]
mod net;

use grid::{BUF, SEEDS, jain, path, rows_on_two_threads, run_flows};
use net::{A_IP, Net, PathCfg, ours};
use tunstack::tcp::TcpConfig;
use tunstack::time::Duration;

fn sender_cfg(cc: &str, pacing: bool) -> TcpConfig {
    TcpConfig {
        cc: cc.into(),
        pacing,
        // BENCH_UNDO=0: without the Eifel undo (RFC 3522), to see what it changes.
        undo: std::env::var("BENCH_UNDO").map_or(true, |v| v != "0"),
        send_buffer: BUF,
        recv_buffer: 64 * 1024,
        ..TcpConfig::default()
    }
}

/// Per-flow goodput (Mbit/s) and the queue drops, for `flows` flows started `stagger` apart.
fn run(
    cc: &str,
    pacing: bool,
    p: PathCfg,
    flows: usize,
    stagger: Duration,
    secs: u64,
) -> (Vec<f64>, u64, Net<tunstack::Stack, tunstack::Stack>) {
    let (g, n) = run_flows(
        ours(A_IP, sender_cfg(cc, pacing), p.seed),
        p,
        flows,
        stagger,
        secs,
    );
    (g, n.queue_drops, n)
}

const SENDERS: [(&str, &str); 2] = [("CUBIC+SACK", "cubic"), ("NewReno+SACK", "newreno")];

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    if let Ok(one) = std::env::var("BENCH_FAIR") {
        // BENCH_FAIR=mbit,queue_div,loss,flows,cc(0 newreno, 1 cubic): one fairness run.
        let v: Vec<f64> = one.split(',').filter_map(|x| x.parse().ok()).collect();
        if let [mbit, qdiv, loss, flows, who] = v[..] {
            let cc = if who as u32 == 0 { "newreno" } else { "cubic" };
            for pacing in [false, true] {
                let seed = std::env::var("BENCH_SEED")
                    .ok()
                    .and_then(|s| s.parse().ok());
                let p = path(
                    50,
                    loss,
                    mbit as u64,
                    qdiv as u64,
                    seed.unwrap_or(9 + flows as u64),
                );
                let (g, drops, n) =
                    run(cc, pacing, p, flows as usize, Duration::from_secs(1), secs);
                println!(
                    "{cc} pacing {pacing}: {g:.2?} Jain {:.3}, queue drops {drops}",
                    jain(&g)
                );
                println!("  {:?}", n.a.tcp().stats());
            }
        }
        return;
    }
    if let Ok(one) = std::env::var("BENCH_ONE") {
        let v: Vec<f64> = one.split(',').filter_map(|x| x.parse().ok()).collect();
        if let [mbit, rtt, loss, qdiv, who] = v[..] {
            let cc = if who as u32 == 0 { "newreno" } else { "cubic" };
            for pacing in [false, true] {
                let p = path(rtt as u64, loss, mbit as u64, qdiv as u64, 1);
                let (g, drops, n) = run(cc, pacing, p, 1, Duration::ZERO, secs);
                println!("{cc} pacing {pacing}: {g:?} Mbit/s, queue drops {drops}");
                println!("  {:?}", n.a.tcp().stats());
                println!("  {:?}", n.a.tcp().info(n.senders[0].h));
            }
        }
        return;
    }
    let mut grid = Vec::new();
    for qdiv in [1u64, 4] {
        for mbit in [10u64, 100] {
            for rtt in [10u64, 50, 200] {
                for loss in [0.0, 0.001, 0.01] {
                    grid.push((qdiv, mbit, rtt, loss));
                }
            }
        }
    }
    println!(
        "Goodput in Mbit/s (mean of {SEEDS} seeds, one {secs} s flow) with pacing off → on, and the bottleneck's queue drops (sum of the seeds) off → on.\n"
    );
    print!("| queue | bottleneck | RTT | loss |");
    for (name, _) in SENDERS {
        print!(" {name} off → on | drops off → on |");
    }
    println!("\n|---|---|---|---|---|---|---|---|");
    let rows = rows_on_two_threads(&grid, |&(qdiv, mbit, rtt, loss)| {
        let q = if qdiv == 1 { "1 BDP" } else { "¼ BDP" };
        let mut row = format!("| {q} | {mbit} Mbit/s | {rtt} ms | {} % |", loss * 100.0);
        for (_, cc) in SENDERS {
            let mut g = [0.0f64; 2];
            let mut d = [0u64; 2];
            for (i, pacing) in [false, true].into_iter().enumerate() {
                for k in 0..SEEDS {
                    let p = path(rtt, loss, mbit, qdiv, 42 + rtt + mbit + 1000 * k);
                    let (v, drops, _) = run(cc, pacing, p, 1, Duration::ZERO, secs);
                    g[i] += v[0] / SEEDS as f64;
                    d[i] += drops;
                }
            }
            row += &format!(" {:.2} → {:.2} | {} → {} |", g[0], g[1], d[0], d[1]);
        }
        row
    });
    for r in rows {
        println!("{r}");
    }
    println!(
        "\nFairness: flows started 1 s apart, RTT 50 ms, {secs} s; Jain's index and total Mbit/s, pacing off → on.\n"
    );
    println!("| sender | queue | bottleneck | loss | flows | Jain off → on | total off → on |");
    println!("|---|---|---|---|---|---|---|");
    for (name, cc) in SENDERS {
        for qdiv in [1u64, 4] {
            for mbit in [10u64, 100] {
                for loss in [0.0, 0.001] {
                    for flows in [2usize, 4] {
                        let p = path(50, loss, mbit, qdiv, 9 + flows as u64);
                        let r: Vec<Vec<f64>> = [false, true]
                            .into_iter()
                            .map(|pacing| run(cc, pacing, p, flows, Duration::from_secs(1), secs).0)
                            .collect();
                        let q = if qdiv == 1 { "1 BDP" } else { "¼ BDP" };
                        println!(
                            "| {name} | {q} | {mbit} Mbit/s | {} % | {flows} | {:.3} → {:.3} | {:.2} → {:.2} |",
                            loss * 100.0,
                            jain(&r[0]),
                            jain(&r[1]),
                            r[0].iter().sum::<f64>(),
                            r[1].iter().sum::<f64>()
                        );
                    }
                }
            }
        }
    }
}
