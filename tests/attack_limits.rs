//! The connection-count limit on a real TUN device (own namespace; skipped loudly without root).
//! Our stack runs in this process with `TcpConfig::max_connections = 20` (the CLI has no
//! `--max-connections` yet). The kernel opens 20 connections and holds them; the 21st to 25th
//! SYNs are refused without disturbing the others (RFC 9293 leaves the policy open; the stack
//! drops the SYN and counts `connection_limit`, so the client's connect times out); once the 20
//! close, new connections are accepted again.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/tcp_tun.rs"]
mod tcp_tun;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use netns::Netns;
use tcp_tun::{KERNEL_ADDR, STACK_ADDR, python, text};
use tunstack::api::TcpListener;
use tunstack::runtime::{Link, Runtime, RuntimeConfig, TunDevice, TunOptions};
use tunstack::tcp::TcpConfig;

const LIMIT: usize = 20;

/// Python: open N connections to HOST PORT one after another (3 s connect timeout each) and
/// keep them; each sends "ping\n" and must read it back. Prints `ok K`, `timeout K`, `refused K`
/// per connection; then closes all, waits, and opens one more (`after ok` or `after FAIL`).
const PY_HOLD: &str = r#"
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for k in range(n):
    try:
        s = socket.create_connection((host, port), timeout=3)
        s.sendall(b"ping\n")
        assert s.recv(5) == b"ping\n"
        held.append(s)
        print("ok", k, flush=True)
    except socket.timeout:
        print("timeout", k, flush=True)
    except ConnectionRefusedError:
        print("refused", k, flush=True)
# The held ones still work.
alive = 0
for s in held:
    s.sendall(b"more\n")
    if s.recv(5) == b"more\n":
        alive += 1
print("alive", alive, flush=True)
for s in held:
    s.close()
time.sleep(2)
try:
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"ping\n")
    print("after", "ok" if s.recv(5) == b"ping\n" else "FAIL", flush=True)
except OSError as e:
    print("after FAIL", e, flush=True)
"#;

fn start_limited(ns: &Netns) -> Runtime {
    let path = format!("/var/run/netns/{}", ns.name);
    std::thread::spawn(move || -> std::io::Result<Runtime> {
        let f = std::fs::File::open(&path)?;
        // SAFETY: setns(2) on an open namespace fd; it changes only this thread's namespace.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let dev = TunDevice::open(&TunOptions {
            name: "tunstack0".into(),
            host_addr: KERNEL_ADDR.parse().expect("addr"),
            prefix_len: 24,
            mtu: 1500,
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let cfg = RuntimeConfig {
            stack: tunstack::StackConfig {
                addr: STACK_ADDR.parse().expect("addr"),
                seed: 9,
                tcp: TcpConfig {
                    max_connections: LIMIT,
                    msl: tunstack::Duration::from_millis(200),
                    ..TcpConfig::default()
                },
                ..Default::default()
            },
            ..Default::default()
        };
        Runtime::start(Link::Tun(dev), cfg)
    })
    .join()
    .expect("the setns thread panicked")
    .expect("start the runtime inside the namespace")
}

#[test]
fn attack_connection_limit_refuses_new_syns_cleanly() {
    if !tcp_tun::root_or_skip("atk-limit") || !netns::have_tool("atk-limit", "python3") {
        return;
    }
    let Some(ns) = Netns::new("atk-limit") else {
        return;
    };
    let rt = start_limited(&ns);
    let net = rt.net();
    let listener = TcpListener::bind(&net, format!("{STACK_ADDR}:7000")).expect("listen");
    // Echo server: a thread per connection.
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let o = python(&ns, 120, PY_HOLD, &[STACK_ADDR, "7000", "25"]);
    let out = text(&o);
    let refused = net
        .with_stack(|s, _| s.tcp().stats().connection_limit)
        .expect("stats");
    eprintln!("attack_limit: connection_limit counter {refused}\n{out}");
    let ok = out.lines().filter(|l| l.starts_with("ok ")).count();
    let turned_away = out
        .lines()
        .filter(|l| l.starts_with("timeout ") || l.starts_with("refused "))
        .count();
    assert_eq!(ok, LIMIT, "{out}");
    assert_eq!(turned_away, 25 - LIMIT, "{out}");
    assert!(out.contains(&format!("alive {LIMIT}")), "{out}");
    assert!(out.contains("after ok"), "{out}");
    assert!(refused >= (25 - LIMIT) as u64, "connection_limit {refused}");
    drop(rt);
}

/// The TUN device deleted under a running `tunstack up` (issue: "device removed ends the
/// runtime with a clear error, not a spin"): it exits non-zero within seconds and says why.
#[test]
fn attack_tun_device_removed_ends_the_runtime_cleanly() {
    let Some(mut ns) = Netns::new("atk-devdel") else {
        return;
    };
    let mut ts = ns.spawn_tunstack(&["up", "--seed", "1", "--serve", "none"]);
    assert!(
        ts.wait_ready(std::time::Duration::from_secs(20)),
        "{}",
        ts.stderr()
    );
    let out = ns.exec(&["ip", "link", "del", "tunstack0"]);
    assert!(out.status.success(), "ip link del: {out:?}");
    let st = ts.wait_exit(std::time::Duration::from_secs(10));
    let err = ts.stderr();
    let st =
        st.unwrap_or_else(|| panic!("still running 10 s after the device was deleted:\n{err}"));
    assert!(
        !st.success(),
        "exit status {st} after losing the device:\n{err}"
    );
    assert!(err.contains("link went away"), "no clear reason:\n{err}");
}
