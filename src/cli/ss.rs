//! `tunstack ss`: ask a running `tunstack up` for its connections and counters, printed like
//! `ss -ti`. The `up` process answers on a Unix socket next to it (`socket_path`): a client
//! connects, sends one line (`ss`), reads the text reply until EOF.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use clap::Args;

use tunstack::Stack;
use tunstack::api::Net;
use tunstack::runtime::nonzero_counters;
use tunstack::trace::fmt_us;

#[derive(Args, Debug, Clone)]
pub struct SsArgs {
    /// The TUN device of the running `tunstack up`.
    #[arg(long = "tun", value_name = "NAME", default_value = "tunstack0")]
    pub tun: String,
    /// The control socket (default: see `socket_path`).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// Where `tunstack up --tun NAME` listens: `$XDG_RUNTIME_DIR/tunstack/NAME.sock`, else
/// `/run/tunstack/NAME.sock` for root, else `/tmp/tunstack-UID/NAME.sock`.
pub fn socket_path(tun: &str) -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("tunstack"),
        _ if uid == 0 => PathBuf::from("/run/tunstack"),
        _ => PathBuf::from(format!("/tmp/tunstack-{uid}")),
    };
    dir.join(format!("{tun}.sock"))
}

/// The `ss -ti`-like report of a stack.
pub fn report(stack: &Stack) -> String {
    let mut s = String::new();
    s += &format!(
        "{:<13}{:<24}{:<24}\n",
        "State", "Local Address:Port", "Peer Address:Port"
    );
    let tcp = stack.tcp();
    for info in tcp.connections() {
        let addr = |a: Option<std::net::SocketAddrV4>| a.map_or("*:*".into(), |a| a.to_string());
        s += &format!(
            "{:<13}{:<24}{:<24}\n",
            info.state,
            addr(info.local),
            addr(info.remote)
        );
        let ss = if info.ssthresh == u32::MAX {
            "inf".to_string()
        } else {
            info.ssthresh.to_string()
        };
        let mut opts = Vec::new();
        if info.sack {
            opts.push("sack".to_string());
        }
        if info.timestamps {
            opts.push("ts".to_string());
        }
        if let Some((snd, rcv)) = info.wscale {
            opts.push(format!("wscale:{snd},{rcv}"));
        }
        let ms = |d: tunstack::Duration| format!("{:.3}", d.total_micros() as f64 / 1000.0);
        s += &format!(
            "\t {} {} rto:{} rtt:{}/{} mss:{} cwnd:{} ssthresh:{} snd_wnd:{} rcv_wnd:{} bytes_sent:{} bytes_acked:{} bytes_received:{} unacked:{} retrans:{}{}{}\n",
            opts.join(" "),
            tcp.config().cc,
            fmt_us(info.rto.total_micros()),
            info.srtt.map_or("-".into(), ms),
            ms(info.rttvar),
            info.mss,
            info.cwnd,
            ss,
            info.snd_wnd,
            info.rcv_wnd,
            info.bytes_sent,
            info.bytes_sent.saturating_sub(u64::from(info.unacked)),
            info.bytes_received,
            info.unacked,
            info.retransmits,
            if info.in_recovery { " recovery" } else { "" },
            // As `ss -ti`: the pacing rate, when the connection is paced (`--pacing on`).
            if info.pacing_rate > 0 {
                format!(
                    " pacing_rate:{:.1}Mbps",
                    info.pacing_rate as f64 * 8.0 / 1e6
                )
            } else {
                String::new()
            },
        );
    }
    s += &format!(
        "ip:  {}\n",
        nonzero_counters(&format!("{:?}", stack.stats()))
    );
    s += &format!("tcp: {}\n", nonzero_counters(&format!("{:?}", tcp.stats())));
    s
}

/// Answers `tunstack ss` for a running stack until dropped (then removes the socket).
pub struct SsServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    wake: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for SsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Closing our end of the wake-up pair ends the thread's poll(2).
        drop(self.wake.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listen on `path` (a stale socket nobody answers on is replaced).
pub fn serve(net: Net, path: &Path) -> io::Result<SsServer> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is in use by another tunstack", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    // The thread sleeps in poll(2) on the listener and on one end of a socket pair whose other
    // end Drop closes: no polling loop.
    let listener = UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    let (wake, woken) = UnixStream::pair()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("tunstack-ss".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if !wait_readable(&listener, &woken) {
                    break;
                }
                match listener.accept() {
                    Ok((conn, _)) => {
                        if let Err(e) = answer(&net, conn) {
                            log::debug!("tunstack ss: {e}");
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        log::warn!("tunstack ss socket: {e}");
                        std::thread::sleep(StdDuration::from_millis(200));
                    }
                }
            }
        })?;
    Ok(SsServer {
        path: path.to_path_buf(),
        stop,
        wake: Some(wake),
        thread: Some(thread),
    })
}

/// Block until `listener` has a connection (true) or `woken` is closed or readable (false).
fn wait_readable(listener: &UnixListener, woken: &UnixStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut fds = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: woken.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a valid array of two initialised pollfd for the call's duration.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if rc < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return rc > 0 && fds[1].revents == 0;
    }
}

/// Start answering `tunstack ss` for `tunstack up --tun NAME`; a failure is only a warning.
pub fn start_for_up(net: &Net, tun: &str) -> Option<SsServer> {
    let path = socket_path(tun);
    match serve(net.clone(), &path) {
        Ok(s) => {
            eprintln!(
                "tunstack: `tunstack ss --tun {tun}` answers on {}",
                path.display()
            );
            Some(s)
        }
        Err(e) => {
            eprintln!(
                "tunstack: warning: no `tunstack ss` socket at {}: {e}",
                path.display()
            );
            None
        }
    }
}

fn answer(net: &Net, conn: UnixStream) -> io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(StdDuration::from_secs(2)))?;
    conn.set_write_timeout(Some(StdDuration::from_secs(2)))?;
    let mut line = String::new();
    BufReader::new(conn.try_clone()?)
        .take(256)
        .read_line(&mut line)?;
    let text = match line.trim() {
        "ss" | "" => net.with_stack(|s, _| report(s))?,
        other => format!("unknown request {other:?} (expected \"ss\")\n"),
    };
    let mut conn = conn;
    conn.write_all(text.as_bytes())
}

pub fn run(a: SsArgs) -> ExitCode {
    let path = a.socket.unwrap_or_else(|| socket_path(&a.tun));
    let mut conn = match UnixStream::connect(&path) {
        Ok(c) => c,
        Err(e) => {
            return super::fail(format!(
                "no running `tunstack up --tun {}` answers at {}: {e}",
                a.tun,
                path.display()
            ));
        }
    };
    let _ = conn.set_read_timeout(Some(StdDuration::from_secs(5)));
    let mut out = String::new();
    let res = conn
        .write_all(b"ss\n")
        .and_then(|_| conn.read_to_string(&mut out));
    match res {
        Ok(_) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(format!("{}: {e}", path.display())),
    }
}
