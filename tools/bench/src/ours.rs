//! Connection rate with our stack as the client: a TUN device driven by tunstack's runtime,
//! connect + 1-byte request + 1-byte answer + close against a kernel echo server, in a loop.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tunstack::StackConfig;
use tunstack::api::TcpStream;
use tunstack::runtime::{Link, Runtime, RuntimeConfig, TunDevice, TunOptions};

/// Our stack on a new TUN device `tun` (198.18.0.2, kernel side 198.18.0.1).
fn start(tun: &str, stack: StackConfig) -> io::Result<Runtime> {
    let dev = TunDevice::open(&TunOptions {
        name: tun.to_string(),
        host_addr: super::tunloop::HOST,
        prefix_len: 24,
        mtu: 1500,
    })
    .map_err(io::Error::from)?;
    Runtime::start(
        Link::Tun(dev),
        RuntimeConfig {
            stack,
            ..RuntimeConfig::default()
        },
    )
}

fn config() -> StackConfig {
    StackConfig {
        addr: super::tunloop::PEER,
        seed: 7,
        ..StackConfig::default()
    }
}

pub fn crr(tun: &str, to: SocketAddr, secs: f64, threads: usize) -> io::Result<String> {
    let mut stack = config();
    // We close first, so our side holds TIME-WAIT: a short MSL recycles the ephemeral ports
    // (the same shortcut a lab takes with --msl).
    stack.tcp.msl = tunstack::Duration::from_millis(250);
    let rt = start(tun, stack)?;
    let net = rt.net();
    // Wait for the kernel server to be reachable through the new device.
    let t_wait = Instant::now();
    while TcpStream::connect_timeout(&net, &to, Duration::from_secs(1)).is_err() {
        if t_wait.elapsed() > Duration::from_secs(5) {
            return Err(io::Error::other("kernel echo server not reachable"));
        }
    }
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(secs);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let net = net.clone();
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < end {
                    let r = (|| -> io::Result<()> {
                        let mut s = TcpStream::connect_timeout(&net, &to, Duration::from_secs(2))?;
                        s.set_nodelay(true)?;
                        s.write_all(b"x")?;
                        let mut b = [0u8; 1];
                        s.read_exact(&mut b)?;
                        Ok(())
                    })();
                    match r {
                        Ok(()) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for w in workers {
        let (a, b) = w.join().unwrap_or((0, 0));
        ok += a;
        failed += b;
    }
    let el = t0.elapsed().as_secs_f64();
    drop(rt);
    Ok(format!(
        "conns={ok} failed={failed} secs={el:.3} per_sec={:.0}",
        ok as f64 / el
    ))
}

/// `n` idle established connections to our stack, accepted by one thread that only holds them
/// (no service thread per connection): time to establish them all and the growth of this
/// process's resident memory per connection (the kernel clients' memory is not in our RSS).
pub fn idle(tun: &str, n: usize, backlog: usize) -> io::Result<String> {
    super::load::raise_nofile(n as u64 + 1024);
    let mut stack = config();
    stack.tcp.backlog = backlog;
    stack.tcp.max_connections = n + 1024;
    let rt = start(tun, stack)?;
    let net = rt.net();
    let listener = tunstack::api::TcpListener::bind(&net, "198.18.0.2:7000")?;
    let accepter = std::thread::spawn(move || {
        let mut held = Vec::with_capacity(n);
        while held.len() < n {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => break,
            }
        }
        held
    });
    std::thread::sleep(Duration::from_millis(300));
    let pid = std::process::id();
    let rss0 = super::load::vm_rss_kib(pid).unwrap_or(0);
    let to: SocketAddr = "198.18.0.2:7000".parse().map_err(io::Error::other)?;
    let t0 = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let mut failed = 0u64;
    while conns.len() < n && failed < 1000 {
        match std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5)) {
            Ok(s) => conns.push(s),
            Err(_) => failed += 1,
        }
    }
    let held = accepter
        .join()
        .map_err(|_| io::Error::other("accept thread"))?;
    let el = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let rss1 = super::load::vm_rss_kib(pid).unwrap_or(0);
    let conns_n = held.len().max(1);
    let line = format!(
        "open={} accepted={} failed={failed} secs={el:.3} per_sec={:.0} rss0_kib={rss0} rss1_kib={rss1} bytes_per_conn={:.0}",
        conns.len(),
        held.len(),
        conns.len() as f64 / el,
        rss1.saturating_sub(rss0) as f64 * 1024.0 / conns_n as f64
    );
    drop(conns);
    drop(held);
    drop(rt);
    Ok(line)
}
