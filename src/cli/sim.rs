//! `tunstack sim`: two endpoints over the emulated link in virtual time (no root, no TUN).
//! Writes an annotated pcapng, a JSON-lines decision trace and SVG plots; prints a summary.
//! See docs/observability.md.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use clap::Args;

use super::units;
use tunstack::capture::{Capture, Direction};
use tunstack::link::ImpairConfig;
use tunstack::link::rules::{self, Rule};
use tunstack::trace::lab::{CLIENT_ADDR, Impl, Lab, LabConfig, Outcome, SERVER_ADDR, Sink};
use tunstack::trace::observer::Totals;
use tunstack::trace::{Event, fmt_us};
use tunstack::{Duration, Instant, StackConfig};

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Bytes each flow sends client → server (b, kb, mb, gb; 1kb = 1024).
    #[arg(long, value_name = "SIZE", default_value = "1mb", value_parser = units::size)]
    pub bytes: u64,
    /// Send for this long (virtual time) instead of a fixed --bytes.
    #[arg(long, value_name = "DURATION", value_parser = units::duration)]
    pub duration: Option<StdDuration>,
    /// Round-trip propagation delay (half each way).
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = units::duration)]
    pub rtt: StdDuration,
    /// Bottleneck rate, each direction (bit, kbit, mbit, gbit).
    #[arg(long, value_name = "RATE", value_parser = units::rate)]
    pub rate: Option<u64>,
    /// Bottleneck queue (tail drop beyond it); default one bandwidth-delay product (≥ 64kb).
    #[arg(long, value_name = "SIZE", value_parser = units::size, requires = "rate")]
    pub queue: Option<u64>,
    /// Random loss, each direction (e.g. 1%).
    #[arg(long, value_name = "PCT", value_parser = units::percent)]
    pub loss: Option<f64>,
    /// Random reordering, each direction.
    #[arg(long, value_name = "PCT", value_parser = units::percent)]
    pub reorder: Option<f64>,
    /// Random duplication, each direction.
    #[arg(long, value_name = "PCT", value_parser = units::percent)]
    pub duplicate: Option<f64>,
    /// Random corruption (one bit flipped), each direction.
    #[arg(long, value_name = "PCT", value_parser = units::percent)]
    pub corrupt: Option<f64>,
    /// Congestion control of both endpoints.
    #[arg(long, value_name = "ALGO", default_value = "newreno", value_parser = ["cubic", "newreno", "reno", "none"])]
    pub cc: String,
    /// Negotiate SACK (RFC 2018).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    pub sack: String,
    /// Loss detection: rack (RACK-TLP, RFC 8985, with SACK), dupack (three duplicate ACKs,
    /// RFC 5681/6675, with SACK), sack (= rack) or newreno (three duplicate ACKs, SACK off, RFC 6582).
    #[arg(long, value_name = "ALGO", default_value = "rack", value_parser = ["rack", "dupack", "sack", "newreno"])]
    pub recovery: String,
    /// Pace TCP data at gain × cwnd / SRTT (default: the stack's, off).
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    pub pacing: Option<String>,
    /// Negotiate timestamps (RFC 7323). Off, F-RTO judges timeouts instead of Eifel.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    pub timestamps: String,
    /// Undo reductions shown spurious (Eifel, RFC 3522, and F-RTO).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    pub undo: String,
    /// F-RTO spurious-timeout detection without timestamps (RFC 5682).
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    pub frto: String,
    /// Seed for every random choice (ISNs, ports, the emulator).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Parallel connections, each sending --bytes.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub flows: u32,
    /// Client implementation.
    #[arg(long, value_name = "IMPL", default_value = "ours", value_parser = ["ours", "smoltcp"])]
    pub client: String,
    /// Server implementation.
    #[arg(long, value_name = "IMPL", default_value = "ours", value_parser = ["ours", "smoltcp"])]
    pub server: String,
    /// Write the client's view as pcapng, every packet commented with its cause and TCB state.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Write the decision trace (JSON lines, docs/trace-schema.md).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write SVG plots (time-sequence, cwnd, RTT) into this directory.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// A scripted impairment, e.g. 'drop data#3' (repeatable; see docs/observability.md).
    #[arg(long = "impair", value_name = "RULE")]
    pub impair: Vec<String>,
    /// A file of impairment rules, one per line (# comments).
    #[arg(long, value_name = "FILE")]
    pub impair_file: Option<PathBuf>,
    /// Socket send and receive buffers of both endpoints; default: 2 × (bandwidth-delay product +
    /// queue), at least 256kb, so the window does not limit the link.
    #[arg(long, value_name = "SIZE", value_parser = units::size)]
    pub buffer: Option<u64>,
    /// Give up after this much virtual time.
    #[arg(long, value_name = "DURATION", default_value = "60min", value_parser = units::duration)]
    pub time_limit: StdDuration,
}

/// Exit status for a bad rule or unsupported option (like a clap usage error).
const EXIT_USAGE: u8 = 2;

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("tunstack sim: {msg}");
    ExitCode::from(EXIT_USAGE)
}

/// The rules from --impair and --impair-file, or a message naming the bad one.
pub fn load_rules(inline: &[String], file: Option<&PathBuf>) -> Result<Vec<Rule>, String> {
    let mut out = Vec::new();
    for (i, r) in inline.iter().enumerate() {
        let rule = rules::parse_rule(r).map_err(|e| format!("--impair #{}: {}", i + 1, e.msg))?;
        out.push(rule);
    }
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let rules = rules::parse_rules(&text)
            .map_err(|e| format!("{} line {}: {:?}: {}", f.display(), e.line, e.rule, e.msg))?;
        out.extend(rules);
    }
    Ok(out)
}

pub fn lab_config(a: &SimArgs, rules: Vec<Rule>) -> LabConfig {
    let one_way = Duration::from_micros(a.rtt.as_micros() as u64 / 2);
    let bdp = a
        .rate
        .map_or(0, |r| (r as u128 * a.rtt.as_micros() / 8_000_000) as u64);
    let link = ImpairConfig {
        loss: a.loss.unwrap_or(0.0),
        delay: one_way,
        jitter: Duration::ZERO,
        reorder: a.reorder.unwrap_or(0.0),
        duplicate: a.duplicate.unwrap_or(0.0),
        corrupt: a.corrupt.unwrap_or(0.0),
        rate_bps: a.rate,
        queue_bytes: a.queue.unwrap_or(bdp.max(64 * 1024)) as usize,
        ..ImpairConfig::default()
    };
    let buffer = a.buffer.map_or_else(
        || (2 * (bdp + link.queue_bytes as u64)).max(256 * 1024),
        |b| b.max(1),
    ) as usize;
    let stack = |addr, seed| {
        let mut s = StackConfig {
            addr,
            seed,
            ..StackConfig::default()
        };
        s.tcp.send_buffer = buffer;
        s.tcp.recv_buffer = buffer;
        // Room for a window's worth of out-of-order segments.
        s.tcp.reassembly_max_segments = s.tcp.reassembly_max_segments.max(buffer / 1000);
        s.tcp.cc = a.cc.clone();
        s.tcp.sack = a.sack == "on" && a.recovery != "newreno";
        s.tcp.recovery = match a.recovery.as_str() {
            "dupack" | "newreno" => tunstack::tcp::Recovery::DupAck,
            _ => tunstack::tcp::Recovery::Rack,
        };
        if let Some(p) = &a.pacing {
            s.tcp.pacing = p == "on";
        }
        s.tcp.timestamps = a.timestamps == "on";
        s.tcp.undo = a.undo == "on";
        s.tcp.frto = a.frto == "on";
        s
    };
    let mut rng = tunstack::rng::Rng::new(a.seed);
    let (sc, ss, sl) = (rng.next_u64(), rng.next_u64(), rng.next_u64());
    let limit = match a.duration {
        Some(d) => a.time_limit.min(d + StdDuration::from_secs(600)),
        None => a.time_limit,
    };
    let which = |s: &str| {
        if s == "smoltcp" {
            Impl::Smoltcp
        } else {
            Impl::Ours
        }
    };
    LabConfig {
        client: stack(CLIENT_ADDR, sc),
        server: stack(SERVER_ADDR, ss),
        client_impl: which(&a.client),
        server_impl: which(&a.server),
        c2s: link.clone(),
        s2c: link,
        rules,
        seed: sl,
        bytes: a.bytes,
        duration: a.duration.map(Duration::from),
        flows: a.flows,
        record: a.pcap.is_some() || a.trace.is_some() || a.plot.is_some(),
        time_limit: Duration::from(limit),
    }
}

struct FileSink {
    pcap: Option<Capture>,
    trace: Option<BufWriter<File>>,
    /// Trace lines kept for --plot.
    lines: Option<Vec<String>>,
    err: Option<io::Error>,
}

impl Sink for FileSink {
    fn event(&mut self, e: &Event) {
        if self.trace.is_none() && self.lines.is_none() {
            return;
        }
        let line = e.to_json();
        if let Some(w) = self.trace.as_mut()
            && let Err(err) = writeln!(w, "{line}")
        {
            self.err.get_or_insert(err);
        }
        if let Some(l) = self.lines.as_mut() {
            l.push(line);
        }
    }
    fn packet(&mut self, t: Instant, dir: Direction, bytes: &[u8], comment: Option<&str>) {
        if let Some(c) = self.pcap.as_mut()
            && let Err(err) = c.write_with_comment(t.total_micros(), dir, bytes, comment)
        {
            self.err.get_or_insert(err);
        }
    }
}

pub fn run(a: SimArgs) -> ExitCode {
    if matches!(a.recovery.as_str(), "rack" | "sack" | "dupack") && a.sack == "off" {
        return usage("--recovery rack|sack|dupack needs --sack on (or use --recovery newreno)");
    }
    let rules = match load_rules(&a.impair, a.impair_file.as_ref()) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let cfg = lab_config(&a, rules);
    let mut sink = FileSink {
        pcap: None,
        trace: None,
        lines: a.plot.as_ref().map(|_| Vec::new()),
        err: None,
    };
    if let Some(p) = &a.pcap {
        match Capture::create(p, 0) {
            Ok(c) => sink.pcap = Some(c),
            Err(e) => return super::fail(format!("{}: {e}", p.display())),
        }
    }
    if let Some(p) = &a.trace {
        match File::create(p) {
            Ok(f) => sink.trace = Some(BufWriter::with_capacity(1 << 16, f)),
            Err(e) => return super::fail(format!("{}: {e}", p.display())),
        }
    }
    let mut lab = match Lab::new(cfg.clone()) {
        Ok(l) => l,
        Err(e) => return super::fail(format!("setting up: {e}")),
    };
    let wall = std::time::Instant::now();
    let out = lab.run(&mut sink);
    let wall = wall.elapsed();
    if let Some(w) = sink.trace.as_mut()
        && let Err(e) = w.flush()
    {
        sink.err.get_or_insert(e);
    }
    if let Some(c) = sink.pcap.as_mut()
        && let Err(e) = c.flush()
    {
        sink.err.get_or_insert(e);
    }
    if let Some(e) = sink.err {
        return super::fail(format!("writing output: {e}"));
    }
    print!("{}", summary(&a, &cfg, &out));
    eprintln!(
        "tunstack sim: {} of virtual time in {:.2} s of wall time",
        out.end,
        wall.as_secs_f64()
    );
    if let (Some(dir), Some(lines)) = (&a.plot, &sink.lines) {
        match tunstack::plot::render_dir(
            lines.iter().map(String::as_str),
            dir,
            &tunstack::plot::View {
                host: "client".into(),
                flow: 1,
                window: None,
            },
        ) {
            Ok(files) => {
                for f in files {
                    println!("plot           {}", f.display());
                }
            }
            Err(e) => return super::fail(format!("plots: {e}")),
        }
    }
    if out.completed {
        ExitCode::SUCCESS
    } else {
        eprintln!("tunstack sim: the transfer did not complete (see the trace)");
        ExitCode::from(super::EXIT_FAILURE)
    }
}

fn mbit(bytes: u64, us: u64) -> f64 {
    if us == 0 {
        0.0
    } else {
        bytes as f64 * 8.0 / us as f64
    }
}

/// The summary printed at the end (deterministic: virtual time only).
pub fn summary(a: &SimArgs, cfg: &LabConfig, o: &Outcome) -> String {
    let mut s = String::new();
    let rate = a.rate.map_or_else(
        || "unlimited".to_string(),
        |r| format!("{} Mbit/s", r as f64 / 1e6),
    );
    let what = match a.duration {
        Some(d) => format!("{:?} of data", d),
        None => format!("{} bytes", a.bytes),
    };
    s += &format!(
        "tunstack sim: {} flow(s) × {what} client → server, rtt {}, rate {rate}, queue {} B, buffers {} B, seed {}\n",
        a.flows,
        fmt_us(a.rtt.as_micros() as u64),
        cfg.c2s.queue_bytes,
        cfg.client.tcp.send_buffer,
        a.seed
    );
    let received: u64 = o.flows.iter().map(|f| f.received).sum();
    let last = o
        .flows
        .iter()
        .filter_map(|f| f.done_at)
        .max()
        .unwrap_or(o.end);
    let status = if o.completed {
        "completed"
    } else {
        "INCOMPLETE"
    };
    s += &format!(
        "result         {status}: {received} bytes delivered by {last} (virtual), run ended at {}\n",
        o.end
    );
    s += &format!(
        "goodput        {:.2} Mbit/s\n",
        mbit(received, last.total_micros())
    );
    for (i, f) in o.flows.iter().enumerate().filter(|_| o.flows.len() > 1) {
        let t = f.done_at.unwrap_or(o.end).total_micros();
        s += &format!(
            "  flow {}       {:.2} Mbit/s ({} bytes){}\n",
            i + 1,
            mbit(f.received, t),
            f.received,
            f.error.map_or(String::new(), |e| format!(", error: {e}"))
        );
    }
    for (name, t) in [("client", &o.client), ("server", &o.server)] {
        s += &totals_line(name, t);
    }
    let c = &o.client;
    if let Some(avg) = c.rtt_sum_us.checked_div(c.rtt_samples) {
        s += &format!(
            "rtt (client)   min {} avg {} max {} ({} samples)\n",
            fmt_us(c.rtt_min_us.unwrap_or(0)),
            fmt_us(avg),
            fmt_us(c.rtt_max_us),
            c.rtt_samples
        );
    }
    for (name, l) in [("c2s", &o.c2s), ("s2c", &o.s2c)] {
        s += &format!(
            "link {name}       {} in, {} delivered, lost {}, queue drops {}, duplicated {}, reordered {}, corrupted {}\n",
            l.packets_in,
            l.delivered,
            l.dropped_loss,
            l.dropped_queue,
            l.duplicated,
            l.reordered,
            l.corrupted
        );
    }
    if !cfg.rules.is_empty() {
        s += &format!(
            "rules          {} rule(s), {} action(s)\n",
            cfg.rules.len(),
            o.rule_actions
        );
    }
    for (name, t, imp) in [
        ("client", &o.client, cfg.client_impl),
        ("server", &o.server, cfg.server_impl),
    ] {
        let states: Vec<String> = t
            .time_in_state
            .iter()
            .map(|(st, us)| format!("{st} {}", fmt_us(*us)))
            .collect();
        let states = if states.is_empty() && imp == Impl::Smoltcp {
            "(not visible from outside smoltcp)".to_string()
        } else if states.is_empty() {
            "(no connection was opened)".to_string()
        } else {
            states.join(", ")
        };
        s += &format!("states {name}  {states}\n");
    }
    s
}

fn totals_line(name: &str, t: &Totals) -> String {
    format!(
        "{name:<6}         sent {} segments ({} data), retransmissions {} (RTO {}, fast {}, other {}), dupACKs received {}, drops {}\n",
        t.segments_sent,
        t.data_segments,
        t.retransmissions,
        t.rto_retransmissions,
        t.fast_retransmissions,
        t.other_retransmissions,
        t.dup_acks_received,
        t.packets_dropped
    )
}
