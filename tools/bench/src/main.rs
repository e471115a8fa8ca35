//! `tsbench`: the measuring tools of `make bench` (see docs/benchmarks.md). Each subcommand
//! prints one `key=value` line on stdout.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use tunstack_bench::{
    engine, engine_crr, evserve, load, ours, report, tcpsink, tcpsource, tunloop,
};

const USAGE: &str = "usage: tsbench <command> [--flag value]...
  send     --to ADDR --secs S          kernel client writes zeros (to a discard server)
  recv     --to ADDR --secs S          kernel client reads (from a chargen server)
  rr       --to ADDR --rounds N        1-byte ping-pong to an echo server: p50/p99
  crr      --to ADDR --secs S [--threads T]   connect + 1-byte request/answer + close per second
                                       (T clients, each one connection at a time; default 1)
  idle     --to ADDR --n N [--pid P] [--hold S]   N idle connections to an echo server
  serve    --listen ADDR --mode discard|chargen|echo|echo-ev   kernel-side server (echo-ev:
                                       one thread, epoll; the others: a thread per connection)
  tun-read --tun NAME --secs S [--mtu M]    bare TUN read loop (kernel UDP flood)
  tun-write --tun NAME --secs S [--mtu M]   bare TUN write loop
  tcp-sink --tun NAME --secs S [--mtu M] [--ack every2|eagain] [--no-csum] [--window BYTES]
                                       [--batch N (eagain: ACK after N segments at most, 0: none)]
                                       bare TCP receiver
                                       on the TUN (a kernel client writes to it)
  tcp-source --tun NAME --secs S [--mtu M] [--no-csum] [--burst N]   bare TCP sender on the TUN (to a
                                       kernel reader)
  our-crr  --tun NAME --to ADDR --secs S [--threads T] [--inline]  connection rate, our stack
                                       as client (T threads over the api; --inline: T connections
                                       at a time from a client in the driver thread)
  our-idle --tun NAME --n N [--backlog B]  N idle connections to our stack in this process
  hold     --to ADDR --n N [--from PORT]         (used by our-idle) hold N connections until stdin closes
  report   --results FILE              render docs/benchmarks.md (markdown on stdout)
  engine   --mb N [--mtu M] [--offload] [--ack-every K] bulk transfer between two in-memory stacks (callgrind)
  engine-crr --n N [--msl-ms M] [--step-us U]   connect + 1-byte echo + close, N times, between
                                       two in-memory stacks (server: inline echo; callgrind)";

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| w[1].as_str())
}

fn need<T: std::str::FromStr>(args: &[String], name: &str) -> io::Result<T> {
    flag(args, name)
        .ok_or_else(|| io::Error::other(format!("missing {name}")))?
        .parse()
        .map_err(|_| io::Error::other(format!("bad value for {name}")))
}

fn opt<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> io::Result<T> {
    match flag(args, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| io::Error::other(format!("bad value for {name}"))),
    }
}

fn run(args: &[String]) -> io::Result<String> {
    let cmd = args.first().map(String::as_str).unwrap_or("");
    let to = || need::<SocketAddr>(args, "--to");
    match cmd {
        "send" => load::send(to()?, need(args, "--secs")?),
        "recv" => load::recv(to()?, need(args, "--secs")?),
        "rr" => load::rr(to()?, need(args, "--rounds")?),
        "crr" => load::crr(to()?, need(args, "--secs")?, opt(args, "--threads", 1)?),
        "idle" => load::idle(
            to()?,
            need(args, "--n")?,
            flag(args, "--pid").and_then(|p| p.parse().ok()),
            opt(args, "--hold", 0.0)?,
        ),
        "serve" => match need::<String>(args, "--mode")?.as_str() {
            "echo-ev" => evserve::echo(need(args, "--listen")?),
            m => load::serve(need(args, "--listen")?, m),
        },
        "tun-read" => tunloop::read_loop(
            &need::<String>(args, "--tun")?,
            opt(args, "--mtu", 1500)?,
            need(args, "--secs")?,
        ),
        "tun-write" => tunloop::write_loop(
            &need::<String>(args, "--tun")?,
            opt(args, "--mtu", 1500)?,
            need(args, "--secs")?,
        ),
        "tcp-sink" => tcpsink::run(
            &need::<String>(args, "--tun")?,
            opt(args, "--mtu", 1500)?,
            need(args, "--secs")?,
            opt(args, "--ack", tunstack_bench::tcpceil::AckPolicy::Every2)?,
            !args.iter().any(|a| a == "--no-csum"),
            opt(args, "--window", tcpsink::SINK_WINDOW)?,
            opt(args, "--batch", tunstack_bench::tcpceil::BATCH_MAX)?,
        ),
        "tcp-source" => tcpsource::run(
            &need::<String>(args, "--tun")?,
            opt(args, "--mtu", 1500)?,
            need(args, "--secs")?,
            !args.iter().any(|a| a == "--no-csum"),
            opt(args, "--burst", tcpsource::BURST)?,
        ),
        "our-crr" => ours::crr(
            &need::<String>(args, "--tun")?,
            to()?,
            need(args, "--secs")?,
            opt(args, "--threads", 2)?,
            args.iter().any(|a| a == "--inline"),
        ),
        "our-idle" => ours::idle(
            &need::<String>(args, "--tun")?,
            need(args, "--n")?,
            opt(args, "--backlog", 4096)?,
        ),
        "hold" => ours::hold(to()?, need(args, "--n")?, opt(args, "--from", 2000)?),
        "report" => report::render(&need::<String>(args, "--results")?),
        "engine" => {
            let mb: u64 = need(args, "--mb")?;
            let offload = args.iter().any(|a| a == "--offload");
            let mut p = engine::Pair::with_offload(opt(args, "--mtu", 1500)?, offload);
            p.ack_every = opt(args, "--ack-every", 0)?;
            p.transfer_untimed(mb << 20);
            Ok(format!("segments={} bytes={}", p.segments, p.bytes))
        }
        "engine-crr" => {
            let msl = tunstack::Duration::from_millis(opt(args, "--msl-ms", 250)?);
            let step = tunstack::Duration::from_micros(opt(args, "--step-us", 10)?);
            let mut p = engine_crr::CrrPair::new(msl, step);
            p.run(need(args, "--n")?);
            Ok(format!(
                "conns={} failed={} sim_secs={:.3} client_conns={} server_conns={}",
                p.conns,
                p.failed,
                p.elapsed().as_secs_f64(),
                p.client.tcp().connection_count(),
                p.server.tcp().connection_count()
            ))
        }
        _ => Err(io::Error::other(USAGE)),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tsbench: {e}");
            ExitCode::FAILURE
        }
    }
}
