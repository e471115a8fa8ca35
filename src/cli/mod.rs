//! `tunstack up` and `tunstack connect`.

pub mod args;
pub mod plot;
pub mod sim;
mod smol;
pub mod ss;
pub mod units;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command, ConnectArgs, EmuArgs, TunArgs, UpArgs};
use tunstack::api::TcpStream;
use tunstack::link::ImpairConfig;
use tunstack::runtime::{self, DeviceError, Link, Runtime, RuntimeConfig, TunDevice, TunOptions};
use tunstack::{Duration, StackConfig};

/// Exit status when we lack the privilege to open the TUN device (sysexits EX_NOPERM).
pub const EXIT_NO_PRIVILEGE: u8 = 77;
pub const EXIT_FAILURE: u8 = 1;
/// `connect` stopped by SIGINT/SIGTERM (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_millis()
        .init();
    match cli.cmd {
        Command::Up(a) => up(a),
        Command::Connect(a) => connect(a),
        Command::Sim(a) => sim::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Ss(a) => ss::run(a),
    }
}

/// A usage error found after parsing: clap prints it and exits with status 2.
fn usage_error(msg: String) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::ArgumentConflict, msg)
        .exit()
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("tunstack: {msg}");
    ExitCode::from(EXIT_FAILURE)
}

fn check_tun_args(t: &TunArgs) {
    let (addr, prefix) = t.addr;
    if t.host_addr == addr {
        usage_error(format!(
            "--host-addr {} equals the stack's --addr",
            t.host_addr
        ));
    }
    if !units::same_subnet(addr, t.host_addr, prefix) {
        usage_error(format!(
            "--host-addr {} is not in the stack's subnet {addr}/{prefix} \
             (give --host-addr an address in that subnet)",
            t.host_addr
        ));
    }
}

/// Default of `--offload` when neither the flag nor TUNSTACK_OFFLOAD says: off, so that what a
/// capture on the device (tshark -i, a conformance probe's packet socket) shows is what a peer
/// gets: segments of at most the MSS (RFC 9293 §3.7.1), one per packet. `--offload on` trades
/// that for speed (docs/benchmarks.md).
const OFFLOAD_DEFAULT: bool = false;

/// `--offload`, else TUNSTACK_OFFLOAD, else the default; off (and said so) when a capture, a
/// trace or the emulator is on, since they see, drop and delay packets one by one.
fn offload_choice(t: &TunArgs, e: &EmuArgs, rules: &[tunstack::link::rules::Rule]) -> bool {
    let asked = match t.offload.as_deref() {
        Some(v) => Some(v == "on"),
        None => runtime::offload_from_env(),
    };
    let want = asked.unwrap_or(OFFLOAD_DEFAULT);
    let per_packet = t.pcap.is_some()
        || t.trace.is_some()
        || !rules.is_empty()
        || !impair_config(e).is_transparent();
    if want && per_packet {
        if asked == Some(true) {
            eprintln!(
                "tunstack: offloads off: --pcap, --trace and the emulator work on single packets"
            );
        }
        return false;
    }
    want
}

fn impair_config(e: &EmuArgs) -> ImpairConfig {
    let d = |x: Option<std::time::Duration>| x.map_or(Duration::ZERO, Duration::from);
    ImpairConfig {
        loss: e.loss.unwrap_or(0.0),
        delay: d(e.delay),
        jitter: d(e.jitter),
        reorder: e.reorder.unwrap_or(0.0),
        duplicate: e.duplicate.unwrap_or(0.0),
        corrupt: e.corrupt.unwrap_or(0.0),
        rate_bps: e.rate,
        queue_bytes: e.queue.map_or(64 * 1024, |q| q as usize),
        ecn_mark_threshold: e.ecn_mark.map_or(0, |q| q as usize),
    }
}

/// "loss 2% delay 50ms ...", or None for a clean link.
fn describe_emulator(e: &EmuArgs) -> Option<String> {
    let pct = |name: &str, v: Option<f64>| {
        v.filter(|p| *p > 0.0)
            .map(|p| format!("{name} {}%", p * 100.0))
    };
    let dur = |name: &str, v: Option<std::time::Duration>| {
        v.filter(|d| !d.is_zero()).map(|d| format!("{name} {d:?}"))
    };
    let parts: Vec<String> = [
        pct("loss", e.loss),
        dur("delay", e.delay),
        dur("jitter", e.jitter),
        pct("reorder", e.reorder),
        pct("duplicate", e.duplicate),
        pct("corrupt", e.corrupt),
        e.rate.map(|r| format!("rate {r} bit/s")),
        e.rate
            .map(|_| format!("queue {} bytes", e.queue.unwrap_or(64 * 1024))),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Open the device and start the driver.
fn bring_up(
    t: &TunArgs,
    e: &EmuArgs,
    stats: Option<u64>,
) -> Result<(Runtime, String, u64, bool), ExitCode> {
    check_tun_args(t);
    let rules =
        sim::load_rules(&e.impair, e.impair_file.as_ref()).unwrap_or_else(|m| usage_error(m));
    for r in &rules {
        eprintln!("tunstack: impairment rule: {}", r.text());
    }
    let seed = t.seed.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        now ^ u64::from(std::process::id()).rotate_left(32)
    });
    let (addr, prefix_len) = t.addr;
    let mut stack = StackConfig {
        addr,
        prefix_len,
        mtu: t.mtu as usize,
        seed,
        ..StackConfig::default()
    };
    if let Some(msl) = t.msl {
        stack.tcp.msl = Duration::from(msl);
    }
    if let Some(cc) = &t.cc {
        stack.tcp.cc = cc.clone();
    }
    if let Some(v) = &t.sack {
        stack.tcp.sack = v == "on";
    }
    if let Some(r) = t
        .recovery
        .as_deref()
        .and_then(tunstack::tcp::Recovery::parse)
    {
        stack.tcp.recovery = r;
    }
    if let Some(v) = &t.ecn {
        stack.tcp.ecn = v == "on";
    }
    if let Some(v) = &t.timestamps {
        stack.tcp.timestamps = v == "on";
    }
    if let Some(v) = &t.undo {
        stack.tcp.undo = v == "on";
    }
    if let Some(v) = &t.frto {
        stack.tcp.frto = v == "on";
    }
    if let Some(v) = &t.pacing {
        stack.tcp.pacing = v == "on";
    }
    stack.tcp.max_connections = t
        .max_connections
        .map_or(stack.tcp.max_connections, |n| n as usize);
    if let Some(b) = t.tcp_buffer {
        stack.tcp.set_buffers(b as usize);
    }
    if let Some(m) = t.tcp_memory {
        stack.tcp.max_buffer_memory = m as usize;
    }
    if let Some(m) = t.frag_mem {
        stack.frag_mem_limit = m as usize;
    }
    if let Some(n) = t.udp_queue {
        stack.udp_queue_len = n as usize;
    }
    let offload = offload_choice(t, e, &rules);
    let dev = TunDevice::open_with(
        &TunOptions {
            name: t.tun.clone(),
            host_addr: t.host_addr,
            prefix_len,
            mtu: t.mtu as usize,
        },
        offload,
    )
    .map_err(|err| match err {
        DeviceError::NoPrivilege(msg) => {
            eprintln!("tunstack: {msg}");
            ExitCode::from(EXIT_NO_PRIVILEGE)
        }
        DeviceError::Other(msg) => fail(msg),
    })?;
    let name = dev.name().to_string();
    let cfg = RuntimeConfig {
        stack,
        impair: Some(impair_config(e)),
        impair_seed: seed,
        pcap: t.pcap.clone().map(|p| (p, t.pcap_max_bytes)),
        stats_interval: stats.map(std::time::Duration::from_secs),
        rules,
        trace: t.trace.clone(),
    };
    let rt = Runtime::start(Link::Tun(dev), cfg).map_err(fail)?;
    runtime::signals::install(&rt.net())
        .map_err(|e| fail(format!("installing signal handlers: {e}")))?;
    Ok((rt, name, seed, offload))
}

fn up(a: UpArgs) -> ExitCode {
    if a.stack == args::StackKind::Smoltcp {
        return smol::up(a);
    }
    if let Some(path) = &a.dns_zone {
        match tunstack::services::dns::Zone::load(path) {
            Ok(z) => tunstack::services::dns::set_zone(z),
            Err(e) => usage_error(format!("--dns-zone {e}")),
        }
    }
    let (rt, name, seed, offload) = match bring_up(&a.tun, &a.emu, a.stats) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let net = rt.net();
    let (addr, prefix) = a.tun.addr;
    let mut served = Vec::new();
    for svc in &a.serve.0 {
        match tunstack::services::start(&net, addr, *svc) {
            Ok(_) => served.push(format!("{svc}/{}", svc.port())),
            Err(e) => eprintln!("tunstack: cannot start {svc} on port {}: {e}", svc.port()),
        }
    }
    eprintln!(
        "tunstack: up on {name}: stack {addr}/{prefix}, kernel side {}, mtu {}, seed {seed}, \
         offloads {}",
        a.tun.host_addr,
        a.tun.mtu,
        if offload { "on" } else { "off" }
    );
    eprintln!(
        "tunstack: serving {}",
        if served.is_empty() {
            "nothing".to_string()
        } else {
            served.join(", ")
        }
    );
    if let Some(line) = describe_emulator(&a.emu) {
        eprintln!("tunstack: emulator (each direction): {line}");
    }
    let _ss = ss::start_for_up(&net, &name);
    eprintln!("tunstack: ready (try: ping {addr}; Ctrl-C or SIGTERM to stop)");
    match rt.wait() {
        Ok(r) => {
            if runtime::signals::requested() {
                eprintln!(
                    "tunstack: signal {} received, shutting down",
                    runtime::signals::which()
                );
            }
            eprint!("{r}");
            if a.serve.0.contains(&tunstack::services::Service::Dns) {
                eprintln!("{}", tunstack::services::dns::summary());
            }
            eprintln!("tunstack: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("the stack stopped: {e}")),
    }
}

fn connect(a: ConnectArgs) -> ExitCode {
    let resolved = a
        .target
        .to_socket_addrs()
        .map(|mut i| i.find(SocketAddr::is_ipv4));
    let target = match resolved {
        Ok(Some(t)) => t,
        Ok(None) => usage_error(format!("{}: no IPv4 address", a.target)),
        Err(e) => usage_error(format!("{}: {e} (expected HOST:PORT)", a.target)),
    };
    if let SocketAddr::V4(t) = target
        && !units::same_subnet(*t.ip(), a.tun.addr.0, a.tun.addr.1)
    {
        log::warn!(
            "{target} is outside {}/{}: it only works if the kernel routes it",
            a.tun.addr.0,
            a.tun.addr.1
        );
    }
    let (rt, _name, _seed, _offload) = match bring_up(&a.tun, &a.emu, None) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let net = rt.net();
    let code = match TcpStream::connect_timeout(&net, &target, a.timeout) {
        Ok(s) => copy_both_ways(s),
        Err(e) => fail(format!("connect to {target}: {e}")),
    };
    let code = if runtime::signals::requested() {
        eprintln!("tunstack: interrupted");
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        code
    };
    match rt.shutdown() {
        Ok(r) => log::info!("{r}"),
        Err(e) => log::warn!("{e}"),
    }
    code
}

/// stdin → socket (then shutdown(Write)) while socket → stdout; done when both are.
fn copy_both_ways(s: TcpStream) -> ExitCode {
    let writer = match s.try_clone() {
        Ok(w) => w,
        Err(e) => return fail(e),
    };
    let up = std::thread::spawn(move || -> io::Result<()> {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stdin.read(&mut buf)?;
            if n == 0 {
                return writer.shutdown(std::net::Shutdown::Write);
            }
            (&writer).write_all(&buf[..n])?;
        }
    });
    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match (&s).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if stdout
                    .write_all(&buf[..n])
                    .and_then(|_| stdout.flush())
                    .is_err()
                {
                    break; // stdout closed: nothing more to show
                }
            }
            // Interrupted: `connect` reports it.
            Err(_) if runtime::signals::requested() => return ExitCode::from(EXIT_INTERRUPTED),
            // The connection failed: do not wait for stdin (it may never end).
            Err(e) => return fail(format!("receiving: {e}")),
        }
    }
    let code = match up.join() {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => fail(format!("sending: {e}")),
        Err(_) => fail("the stdin thread failed"),
    };
    if code == ExitCode::SUCCESS
        && let Err(e) = s.wait_fin_acked()
    {
        if runtime::signals::requested() {
            return ExitCode::from(EXIT_INTERRUPTED);
        }
        return fail(format!("delivering the last bytes: {e}"));
    }
    code
}
