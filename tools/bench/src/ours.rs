//! Connection rate with our stack as the client: a TUN device driven by tunstack's runtime,
//! connect + 1-byte request + 1-byte answer + close against a kernel echo server, in a loop.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
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

/// `inline`: the client runs inside the driver thread (`services::inline_client`), `threads`
/// connections at a time, instead of `threads` application threads over the blocking `api`.
pub fn crr(
    tun: &str,
    to: SocketAddr,
    secs: f64,
    threads: usize,
    inline: bool,
) -> io::Result<String> {
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
    if inline {
        let SocketAddr::V4(remote) = to else {
            return Err(io::Error::other("IPv4 only"));
        };
        let t0 = Instant::now();
        let counts = net.run_inline(move |stack, inline, now| {
            let until = now + tunstack::Duration::from_secs_f64(secs);
            inline.start_crr(stack, now, remote, threads, until)
        })?;
        std::thread::sleep(Duration::from_secs_f64(secs));
        let el = t0.elapsed().as_secs_f64();
        let ok = counts.ok.load(std::sync::atomic::Ordering::Relaxed);
        let failed = counts.failed.load(std::sync::atomic::Ordering::Relaxed);
        drop(rt);
        return Ok(format!(
            "conns={ok} failed={failed} parallel={threads} inline=1 secs={el:.3} per_sec={:.0}",
            ok as f64 / el
        ));
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

/// Kernel client sockets per `tsbench hold` child (a process may have at most 20,000 fds here).
const PER_CHILD: usize = 15_000;

/// `n` idle established connections to our stack, accepted by one thread that only holds them
/// (no service thread per connection): time to establish them all and the growth of this
/// process's resident memory per connection. The kernel clients live in `tsbench hold` child
/// processes (their memory is not in our RSS).
pub fn idle(tun: &str, n: usize, backlog: usize) -> io::Result<String> {
    let mut stack = config();
    stack.tcp.backlog = backlog;
    stack.tcp.max_connections = n + 1024;
    let rt = start(tun, stack)?;
    let net = rt.net();
    let listener = tunstack::api::TcpListener::bind(&net, "198.18.0.2:7000")?;
    let held = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let h2 = held.clone();
    std::thread::spawn(move || {
        while let Ok((s, _)) = listener.accept() {
            h2.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let pid = std::process::id();
    let rss0 = super::load::vm_rss_kib(pid).unwrap_or(0);
    let t0 = Instant::now();
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    let mut left = n;
    let mut first = 2000usize;
    while left > 0 {
        let k = left.min(PER_CHILD);
        left -= k;
        let from = first.to_string();
        first += k + 100;
        children.push(
            Command::new(&exe)
                .args(["hold", "--to", "198.18.0.2:7000", "--n", &k.to_string()])
                .args(["--from", &from])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?,
        );
    }
    let (mut open, mut failed) = (0usize, 0u64);
    for c in &mut children {
        let mut line = String::new();
        if let Some(out) = c.stdout.as_mut() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        for kv in line.split_whitespace() {
            match kv.split_once('=') {
                Some(("open", v)) => open += v.parse::<usize>().unwrap_or(0),
                Some(("failed", v)) => failed += v.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
    }
    let count = || held.lock().unwrap_or_else(|p| p.into_inner()).len();
    // Time to the last accept; stop waiting once nothing new came for 2 s (a connection the
    // client sees as open but we never accept is reported as open > accepted).
    let (mut last, mut last_n) = (t0.elapsed(), count());
    while last_n < open && t0.elapsed() < last + Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(1));
        let c = count();
        if c != last_n {
            (last, last_n) = (t0.elapsed(), c);
        }
    }
    let el = last.as_secs_f64().max(1e-6);
    std::thread::sleep(Duration::from_millis(300));
    let rss1 = super::load::vm_rss_kib(pid).unwrap_or(0);
    let accepted = count();
    let (cookies, overflows) = net
        .with_stack(|s, _| {
            let t = s.tcp().stats();
            (t.syncookies_sent, t.listen_overflows)
        })
        .unwrap_or_default();
    let line = format!(
        "open={open} accepted={accepted} failed={failed} secs={el:.3} per_sec={:.0} rss0_kib={rss0} rss1_kib={rss1} bytes_per_conn={:.0} syncookies={cookies} overflows={overflows}",
        accepted as f64 / el,
        rss1.saturating_sub(rss0) as f64 * 1024.0 / accepted.max(1) as f64
    );
    for mut c in children {
        drop(c.stdin.take());
        let _ = c.wait();
    }
    drop(rt);
    Ok(line)
}

/// A blocking connect from an explicit source port (the kernel's search for a free ephemeral
/// port grows with the connections already open: O(n²) for 50,000 of them).
fn connect_from(port: u16, to: SocketAddr) -> io::Result<std::net::TcpStream> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        return Err(io::Error::other("IPv4 only"));
    };
    let sa = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: socket/bind/connect with valid sockaddr_in values; the fd is owned by the
    // TcpStream (or closed) on every path.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = std::net::TcpStream::from_raw_fd(fd);
        let local = sa(super::tunloop::HOST, port);
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        let remote = sa(*to.ip(), to.port());
        if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(s)
    }
}

/// The client side of `idle`: open `n` connections from source ports `first..`, print
/// `open=K failed=F`, hold them until stdin closes.
pub fn hold(to: SocketAddr, n: usize, first: u16) -> io::Result<String> {
    super::load::raise_nofile(n as u64 + 256);
    let mut conns = Vec::with_capacity(n);
    let mut failed = 0u64;
    let mut port = first;
    while conns.len() < n && failed < 100 && port < u16::MAX {
        match connect_from(port, to) {
            Ok(s) => conns.push(s),
            Err(_) => failed += 1,
        }
        port += 1;
    }
    println!("open={} failed={failed}", conns.len());
    io::stdout().flush()?;
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
    Ok(String::new())
}
