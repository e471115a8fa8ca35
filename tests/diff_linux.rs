// Issue 5 §4: the Linux column of the differential. Every corpus trace (tests/diff/corpus.rs) is
// played against a kernel socket: the test owns a TUN inside its own network namespace, writes
// the crafted segments into it (the kernel receives them from 198.18.0.1) and reads the kernel's
// answers back, the way packetdrill works. The kernel's answers are printed next to ours and
// smoltcp's (`cargo test --test diff_linux -- --nocapture`, also target/differential-linux.md).
// Skipped loudly without root. Real time: traces run in parallel, one namespace per worker.

mod common;
#[path = "diff/corpus.rs"]
mod corpus;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown as NetShutdown, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration as StdDuration;

use common::netns::Netns;
use tunstack::link::{Endpoint, TcpEndpoint};
use tunstack::reference::diff::{self, Answer, Trace};
use tunstack::reference::{SmolConfig, SmolStack};
use tunstack::stack::{Stack, StackConfig};
use tunstack::tcp::Shutdown;
use tunstack::time::Instant;
use tunstack::{SocketError, TcpHandle};

const WORKERS: usize = 8;

enum Sock {
    Listener(TcpListener),
    Stream(TcpStream),
}

/// A kernel TCP endpoint behind a TUN, driven in real time (virtual time is mapped onto the
/// wall clock: `handle_*` sleep until their `now`).
struct Linux {
    tun: tun_tap::Iface,
    epoch: std::time::Instant,
    socks: HashMap<u32, Sock>,
    next: u32,
    settle: bool,
}

impl Linux {
    fn sleep_until(&self, now: Instant) {
        let target = self.epoch + StdDuration::from_micros(now.total_micros());
        let real = std::time::Instant::now();
        if target > real {
            std::thread::sleep(target - real);
        }
    }
    fn stream(&mut self, h: TcpHandle) -> Result<&mut TcpStream, SocketError> {
        match self.socks.get_mut(&h.0) {
            Some(Sock::Stream(s)) => Ok(s),
            Some(Sock::Listener(_)) => Err(SocketError::NotConnected),
            None => Err(SocketError::InvalidHandle),
        }
    }
    fn insert(&mut self, s: Sock) -> TcpHandle {
        self.next += 1;
        self.socks.insert(self.next, s);
        TcpHandle(self.next)
    }
}

fn map_err(e: std::io::Error) -> SocketError {
    match e.kind() {
        ErrorKind::WouldBlock => SocketError::WouldBlock,
        ErrorKind::ConnectionReset => SocketError::ConnectionReset,
        ErrorKind::ConnectionRefused => SocketError::ConnectionRefused,
        ErrorKind::BrokenPipe => SocketError::BrokenPipe,
        ErrorKind::NotConnected => SocketError::NotConnected,
        ErrorKind::TimedOut => SocketError::TimedOut,
        _ => SocketError::InvalidInput,
    }
}

impl Endpoint for Linux {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.sleep_until(now);
        let _ = self.tun.send(packet);
        self.settle = true;
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.sleep_until(now);
    }
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        if std::mem::take(&mut self.settle) {
            // Give the kernel a moment to answer what we just wrote.
            let mut pfd = libc::pollfd {
                fd: self.tun.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            unsafe { libc::poll(&mut pfd, 1, 20) };
        }
        loop {
            let n = self.tun.recv(buf).ok()?;
            let p = buf.get(..n)?;
            // Only IPv4/TCP is compared.
            if p.first().is_some_and(|b| b >> 4 == 4) && p.get(9) == Some(&6) {
                return Some(n);
            }
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl TcpEndpoint for Linux {
    fn name(&self) -> &'static str {
        "linux"
    }
    fn tcp_listen(&mut self, local: SocketAddrV4) -> Result<TcpHandle, SocketError> {
        let l = TcpListener::bind(local).map_err(map_err)?;
        l.set_nonblocking(true).map_err(map_err)?;
        Ok(self.insert(Sock::Listener(l)))
    }
    fn tcp_accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, SocketError> {
        let Some(Sock::Listener(l)) = self.socks.get(&listener.0) else {
            return Err(SocketError::InvalidHandle);
        };
        let (s, _) = l.accept().map_err(map_err)?;
        s.set_nonblocking(true).map_err(map_err)?;
        Ok(self.insert(Sock::Stream(s)))
    }
    fn tcp_connect(&mut self, _: Instant, _: SocketAddrV4) -> Result<TcpHandle, SocketError> {
        Err(SocketError::InvalidInput) // the corpus only opens passively
    }
    fn tcp_send(&mut self, _: Instant, h: TcpHandle, data: &[u8]) -> Result<usize, SocketError> {
        self.stream(h)?.write(data).map_err(map_err)
    }
    fn tcp_recv(&mut self, _: Instant, h: TcpHandle, buf: &mut [u8]) -> Result<usize, SocketError> {
        self.stream(h)?.read(buf).map_err(map_err)
    }
    fn tcp_shutdown(&mut self, _: Instant, h: TcpHandle, how: Shutdown) -> Result<(), SocketError> {
        let how = match how {
            Shutdown::Read => NetShutdown::Read,
            Shutdown::Write => NetShutdown::Write,
            Shutdown::Both => NetShutdown::Both,
        };
        self.stream(h)?.shutdown(how).map_err(map_err)
    }
    fn tcp_close(&mut self, _: Instant, h: TcpHandle) {
        self.socks.remove(&h.0);
    }
    fn tcp_abort(&mut self, _: Instant, h: TcpHandle) {
        if let Some(Sock::Stream(s)) = self.socks.remove(&h.0) {
            // SO_LINGER with a zero timeout: close() sends RST.
            let lg = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid fd and a linger struct of the size we pass.
            unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&lg as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
        }
    }
    fn tcp_state(&self, _: TcpHandle) -> Option<&'static str> {
        None
    }
    fn tcp_states(&self) -> Vec<&'static str> {
        // This thread's namespace (not the process's): /proc/thread-self.
        let t = std::fs::read_to_string("/proc/thread-self/net/tcp").unwrap_or_default();
        t.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(3))
            .filter_map(|st| match st {
                "01" => Some("ESTABLISHED"),
                "02" => Some("SYN-SENT"),
                "03" => Some("SYN-RECEIVED"),
                "04" => Some("FIN-WAIT-1"),
                "05" => Some("FIN-WAIT-2"),
                "06" => Some("TIME-WAIT"),
                "07" => Some("CLOSED"),
                "08" => Some("CLOSE-WAIT"),
                "09" => Some("LAST-ACK"),
                "0B" => Some("CLOSING"),
                _ => None, // LISTEN
            })
            .collect()
    }
}

/// Enter `ns` on this thread only (the process stays where it is).
fn enter(ns: &Netns) {
    let f = std::fs::File::open(format!("/var/run/netns/{}", ns.name)).expect("netns file");
    // SAFETY: a valid namespace fd; affects only the calling thread.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
}

/// Play `traces` in a fresh namespace per trace (no state carries over), on this thread.
fn worker(w: usize, traces: Vec<Trace>) -> Vec<(&'static str, Answer)> {
    let mut out = Vec::new();
    for (i, t) in traces.into_iter().enumerate() {
        let ns = Netns::new(&format!("dl{w}x{i}")).expect("namespace");
        enter(&ns);
        let dev = "tsdiff0";
        let tun = tun_tap::Iface::without_packet_info(dev, tun_tap::Mode::Tun).expect("tun");
        let mut nonblock: libc::c_int = 1;
        // SAFETY: FIONBIO on our TUN fd with a valid int.
        let r = unsafe { libc::ioctl(tun.as_raw_fd(), libc::FIONBIO, &mut nonblock) };
        assert_eq!(r, 0, "FIONBIO: {}", std::io::Error::last_os_error());
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
        for args in [
            vec!["addr", "add", "198.18.0.2/24", "dev", dev],
            vec!["link", "set", dev, "up"],
        ] {
            let o = ns.exec(&[&["ip"][..], &args[..]].concat());
            assert!(o.status.success(), "ip {args:?}: {o:?}");
        }
        let ep = Linux {
            tun,
            epoch: std::time::Instant::now() - StdDuration::from_secs(1),
            socks: HashMap::new(),
            next: 0,
            settle: false,
        };
        out.push((t.name, diff::run(ep, &t)));
        drop(ns);
    }
    out
}

fn ours() -> Stack {
    Stack::new(StackConfig {
        addr: diff::HOST,
        seed: 7,
        ..StackConfig::default()
    })
}

fn smol() -> SmolStack {
    SmolStack::new(SmolConfig {
        addr: diff::HOST,
        gateway: diff::PEER,
        seed: 7,
        rx_buffer: 64 * 1024,
        tx_buffer: 64 * 1024,
        ..SmolConfig::default()
    })
}

#[test]
fn linux_column() {
    if !common::netns::have_root("diff_linux") || !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("SKIPPED: diff_linux: needs root and /dev/net/tun");
        return;
    }
    let traces = corpus::corpus();
    let mut parts: Vec<Vec<Trace>> = vec![Vec::new(); WORKERS];
    for (i, t) in traces.iter().enumerate() {
        parts[i % WORKERS].push(t.clone());
    }
    let handles: Vec<_> = parts
        .into_iter()
        .enumerate()
        .map(|(w, p)| std::thread::spawn(move || worker(w, p)))
        .collect();
    let mut linux: HashMap<&str, Answer> = HashMap::new();
    for h in handles {
        linux.extend(h.join().expect("worker"));
    }
    let mut report = String::from("# ours / smoltcp / Linux, per trace\n\n");
    let mut same = [0usize; 3];
    for t in &traces {
        let a = diff::run(ours(), t);
        let b = diff::run(smol(), t);
        let l = &linux[t.name];
        same[0] += usize::from(&a == l);
        same[1] += usize::from(&b == l);
        same[2] += usize::from(a == b);
        let mark = |x: bool| if x { "=" } else { "≠" };
        report.push_str(&format!(
            "### {} (ours{}linux, smoltcp{}linux, ours{}smoltcp)\nours:\n{}smoltcp:\n{}linux:\n{}\n",
            t.name,
            mark(&a == l),
            mark(&b == l),
            mark(a == b),
            a.render(),
            b.render(),
            l.render()
        ));
    }
    let summary = format!(
        "{} traces: ours = Linux in {}, smoltcp = Linux in {}, ours = smoltcp in {}",
        traces.len(),
        same[0],
        same[1],
        same[2]
    );
    println!("{report}\n{summary}");
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write(
        "target/differential-linux.md",
        format!("{report}\n{summary}\n"),
    );
    // The kernel answered: every trace's prologue or first step produced segments somewhere.
    let answered = linux
        .values()
        .filter(|a| a.steps.iter().any(|s| !s.is_empty()))
        .count();
    assert!(
        answered * 2 > traces.len(),
        "the kernel answered only {answered} traces: is the TUN wired up?"
    );
}
