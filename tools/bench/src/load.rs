//! Load clients on kernel sockets (bulk, ping-pong, connection rate, idle connections) and the
//! kernel-side servers of the Linux column. Each prints one `key=value` line for tools/bench.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Bytes per read/write call of the bulk clients.
const CHUNK: usize = 256 * 1024;

fn connect(to: SocketAddr) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&to, Duration::from_secs(5))
}

/// Bulk: write zeros to `to` (a discard server) for `secs`; bytes/s counted by the sender.
/// The receiver's ACKs bound what can be written, so this is the delivered rate within one
/// socket buffer (a few ms at these rates).
pub fn send(to: SocketAddr, secs: f64) -> io::Result<String> {
    let mut s = connect(to)?;
    let buf = vec![0u8; CHUNK];
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(secs);
    let mut bytes = 0u64;
    while Instant::now() < end {
        bytes += s.write(&buf)? as u64;
    }
    let el = t0.elapsed().as_secs_f64();
    let _ = s.shutdown(Shutdown::Both);
    Ok(rate_line(bytes, el))
}

/// Bulk: read from `to` (a chargen server) for `secs`.
pub fn recv(to: SocketAddr, secs: f64) -> io::Result<String> {
    let mut s = connect(to)?;
    let mut buf = vec![0u8; CHUNK];
    // Skip the slow-start ramp: it is part of neither direction's steady rate.
    let warm = Instant::now() + Duration::from_millis(200);
    while Instant::now() < warm {
        if s.read(&mut buf)? == 0 {
            return Err(io::Error::other("server closed"));
        }
    }
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(secs);
    let mut bytes = 0u64;
    while Instant::now() < end {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
    }
    let el = t0.elapsed().as_secs_f64();
    Ok(rate_line(bytes, el))
}

fn rate_line(bytes: u64, secs: f64) -> String {
    format!(
        "bytes={bytes} secs={secs:.3} gbps={:.4}",
        bytes as f64 * 8.0 / secs / 1e9
    )
}

/// 1-byte ping-pong over one connection: `rounds` round trips; p50/p99/max in µs.
pub fn rr(to: SocketAddr, rounds: usize) -> io::Result<String> {
    let mut s = connect(to)?;
    s.set_nodelay(true)?;
    let mut b = [0u8; 1];
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..rounds + 100 {
        let t = Instant::now();
        s.write_all(b"x")?;
        s.read_exact(&mut b)?;
        if i >= 100 {
            lat.push(t.elapsed().as_nanos() as u64);
        }
    }
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    Ok(format!(
        "rounds={rounds} p50_us={:.1} p99_us={:.1} max_us={:.1}",
        q(0.5),
        q(0.99),
        q(1.0)
    ))
}

/// Connection rate: connect, 1-byte request, 1-byte answer, close; as many as fit in `secs`,
/// from `threads` clients each with one connection at a time (one client is the limit even
/// for Linux ↔ Linux: about 8k/s here).
pub fn crr(to: SocketAddr, secs: f64, threads: usize) -> io::Result<String> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < end {
                    match one_crr(to) {
                        Ok(()) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0u64, 0u64);
    for w in workers {
        let (o, f) = w
            .join()
            .map_err(|_| io::Error::other("a crr client panicked"))?;
        ok += o;
        failed += f;
    }
    let el = t0.elapsed().as_secs_f64();
    Ok(format!(
        "conns={ok} failed={failed} threads={threads} secs={el:.3} per_sec={:.0}",
        ok as f64 / el
    ))
}

fn one_crr(to: SocketAddr) -> io::Result<()> {
    let mut s = connect(to)?;
    s.set_nodelay(true)?;
    // SO_LINGER 0 would skip TIME-WAIT on our side only by resetting; close normally instead
    // (the kernel recycles TIME-WAIT ports; the server side closes after us).
    s.write_all(b"x")?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    Ok(())
}

/// Open `n` connections and keep them idle; report the time to establish them and the RSS
/// growth of process `pid` (our stack) per connection. Holds them `hold` seconds.
pub fn idle(to: SocketAddr, n: usize, pid: Option<u32>, hold: f64) -> io::Result<String> {
    raise_nofile(n as u64 + 1024);
    let rss0 = pid.and_then(vm_rss_kib);
    let t0 = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let mut failed = 0u64;
    for _ in 0..n {
        match connect(to) {
            Ok(s) => conns.push(s),
            Err(_) => failed += 1,
        }
    }
    // Every connection answers one byte: they are established on both sides, not in a queue.
    for s in &mut conns {
        let _ = s.write_all(b"x");
    }
    let mut b = [0u8; 1];
    let mut echoed = 0u64;
    for s in &mut conns {
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        if s.read_exact(&mut b).is_ok() {
            echoed += 1;
        }
    }
    let el = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let rss1 = pid.and_then(vm_rss_kib);
    let per = match (rss0, rss1) {
        (Some(a), Some(b)) => format!(
            "{:.0}",
            (b.saturating_sub(a)) as f64 * 1024.0 / conns.len().max(1) as f64
        ),
        _ => "-".into(),
    };
    std::thread::sleep(Duration::from_secs_f64(hold));
    Ok(format!(
        "open={} echoed={echoed} failed={failed} secs={el:.3} per_sec={:.0} rss0_kib={} rss1_kib={} bytes_per_conn={per}",
        conns.len(),
        conns.len() as f64 / el,
        rss0.unwrap_or(0),
        rss1.unwrap_or(0),
    ))
}

pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Raise the soft fd limit towards `n` (up to the hard limit, which we may not raise).
pub fn raise_nofile(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct; failure only means fewer fds.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        let want = libc::rlimit {
            rlim_cur: n.max(lim.rlim_cur),
            rlim_max: n.max(lim.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
            lim.rlim_cur = lim.rlim_max.min(n.max(lim.rlim_cur));
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Kernel-side servers for the Linux column: discard, chargen (zeros), echo; one thread each.
pub fn serve(listen: SocketAddr, mode: &str) -> io::Result<String> {
    raise_nofile(70_000);
    let l = TcpListener::bind(listen)?;
    eprintln!("tsbench: serving {mode} on {listen}");
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        let mode = mode.to_string();
        std::thread::spawn(move || {
            let _ = s.set_nodelay(true);
            let mut buf = vec![0u8; CHUNK];
            let _ = match mode.as_str() {
                "discard" => (|| -> io::Result<()> {
                    while s.read(&mut buf)? > 0 {}
                    Ok(())
                })(),
                "chargen" => (|| -> io::Result<()> {
                    loop {
                        s.write_all(&buf)?;
                    }
                })(),
                _ => (|| -> io::Result<()> {
                    loop {
                        let n = s.read(&mut buf)?;
                        if n == 0 {
                            return Ok(());
                        }
                        s.write_all(&buf[..n])?;
                    }
                })(),
            };
        });
    }
    Ok(String::new())
}
