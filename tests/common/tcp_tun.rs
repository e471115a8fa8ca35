//! Helpers for the real-TUN TCP interop tests (`tests/tun_tcp*.rs`): a `tunstack up` in a
//! private namespace, kernel-side clients and servers (python3 sockets, curl), seeded test data,
//! and a tshark summary of a capture for failure messages. Uses `netns.rs` for the namespace.
//!
//! Include it with `#[path = "common/netns.rs"] mod netns;` and
//! `#[path = "common/tcp_tun.rs"] mod tcp_tun;` (it refers to `super::netns`).
#![allow(dead_code)]

use std::cell::RefCell;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::netns::{Netns, Proc, Tunstack, have_tool};

pub const KERNEL_ADDR: &str = "198.18.0.1";
pub const STACK_ADDR: &str = "198.18.0.2";

/// `big` in release builds (what CI runs), `small` in debug builds (slow stack, shared cores).
pub fn size(release: usize, debug: usize) -> usize {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

/// stdout + stderr of a finished command, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A namespace with `tunstack up` running in it. Field order matters: the tunstack is
/// killed before the namespace is deleted.
pub struct Lab {
    ts: RefCell<Tunstack>,
    pub ns: Netns,
    pub pcap: Option<PathBuf>,
}

impl Lab {
    /// `tunstack up --seed 1 EXTRA...` in `ts-<purpose>-<pid>`; `None` (SKIPPED printed) without
    /// root or without the tools the test needs.
    pub fn up(purpose: &str, extra: &[&str], tools: &[&str]) -> Option<Lab> {
        Self::up_inner(purpose, extra, tools, false)
    }

    /// Like `up`, also recording a pcap (see `trace`).
    pub fn up_with_pcap(purpose: &str, extra: &[&str], tools: &[&str]) -> Option<Lab> {
        Self::up_inner(purpose, extra, tools, true)
    }

    fn up_inner(purpose: &str, extra: &[&str], tools: &[&str], pcap: bool) -> Option<Lab> {
        if !root_or_skip(purpose) {
            return None;
        }
        for t in tools {
            if !have_tool(purpose, t) {
                return None;
            }
        }
        let mut ns = Netns::new(purpose)?;
        let pcap = pcap.then(|| temp_path(&ns, "trace.pcap"));
        let mut args: Vec<String> = vec!["up".into(), "--seed".into(), "1".into()];
        if let Some(p) = &pcap {
            args.push("--pcap".into());
            args.push(p.display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut ts = ns.spawn_tunstack(&argv);
        assert!(
            ts.wait_ready(Duration::from_secs(15)),
            "tunstack {argv:?} did not get ready:\n{}",
            ts.stderr()
        );
        Some(Lab {
            ts: RefCell::new(ts),
            ns,
            pcap,
        })
    }

    /// What tunstack printed so far.
    pub fn stderr(&self) -> String {
        self.ts.borrow().stderr()
    }

    /// Stop tunstack (SIGTERM; it prints its report and flushes the capture). Returns its
    /// stderr; true in `.1` if it exited within 10 s.
    pub fn stop(&self) -> (String, bool) {
        let mut ts = self.ts.borrow_mut();
        ts.signal(libc::SIGTERM);
        let exited = ts.wait_exit(Duration::from_secs(10)).is_some();
        (ts.stderr(), exited)
    }

    /// For failure messages: stop tunstack, then its stderr (with the final report) and a
    /// `tshark` summary of the first and last `lines` packets of the capture.
    pub fn diagnose(&self, lines: usize) -> String {
        let (err, exited) = self.stop();
        let trace = match &self.pcap {
            Some(p) => tshark_summary(p, lines),
            None => "(no capture)".into(),
        };
        format!(
            "--- tunstack{} stderr:\n{err}\n--- trace:\n{trace}",
            if exited {
                ""
            } else {
                " (did not exit on SIGTERM)"
            }
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(p) = &self.pcap {
            let _ = fs::remove_file(p);
        }
    }
}

/// Prints the loud SKIPPED line the task asks for when we are not root.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/dev/net/tun").exists() {
        eprintln!("\n*** SKIPPED: {test}: needs root for TUN/netns ***\n");
        return false;
    }
    true
}

/// A per-namespace temporary file path (removed by `TempFile` or `Lab`).
pub fn temp_path(ns: &Netns, name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}-{name}", ns.name))
}

/// A temporary file deleted on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(ns: &Netns, name: &str) -> TempFile {
        TempFile(temp_path(ns, name))
    }
    pub fn with(ns: &Netns, name: &str, data: &[u8]) -> TempFile {
        let f = TempFile::new(ns, name);
        fs::write(&f.0, data).expect("write temp file");
        f
    }
    pub fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
    pub fn read(&self) -> Vec<u8> {
        fs::read(&self.0).unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// `n` pseudo-random bytes from a seeded xorshift64* (deterministic test data).
pub fn seeded_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// SHA-256 in hex, by coreutils `sha256sum` (independent of the stack's own SHA-256).
pub fn sha256sum_file(path: &str) -> String {
    let o = Command::new("timeout")
        .args(["60", "sha256sum", path])
        .output()
        .expect("run sha256sum");
    assert!(o.status.success(), "sha256sum: {}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Where two byte strings first differ, for messages (None if equal).
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// Assert two transfers are equal with a short message (sizes, first difference, SHA-256s).
pub fn assert_same(what: &str, sent: &[u8], got: &[u8], context: &dyn Fn() -> String) {
    if let Some(at) = first_difference(sent, got) {
        let mut a = tunstack::services::sha256::Sha256::new();
        a.update(sent);
        let mut b = tunstack::services::sha256::Sha256::new();
        b.update(got);
        panic!(
            "{what}: sent {} bytes (sha256 {}), got {} bytes (sha256 {}), first difference at \
             offset {at}\n{}",
            sent.len(),
            a.hex(),
            got.len(),
            b.hex(),
            context()
        );
    }
}

/// Run `timeout SECS python3 -c SCRIPT ARGS...` inside the namespace.
pub fn python(ns: &Netns, secs: u32, script: &str, args: &[&str]) -> Output {
    let s = secs.to_string();
    let mut argv = vec!["timeout", s.as_str(), "python3", "-c", script];
    argv.extend_from_slice(args);
    ns.exec(&argv)
}

/// Start `timeout SECS python3 -c SCRIPT ARGS...` in the background (killed on drop).
pub fn spawn_python(ns: &mut Netns, secs: u32, script: &str, args: &[&str]) -> Proc {
    let mut c = ns.command("timeout");
    c.arg(secs.to_string())
        .args(["python3", "-c", script])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ns.spawn(&mut c)
}

/// Wait for a background process; kill it after `timeout`. Returns its output.
pub fn wait_output(mut p: Proc, timeout: Duration) -> Option<Output> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Ok(Some(_)) = p.0.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !matches!(p.0.try_wait(), Ok(Some(_))) {
        return None; // dropping `p` kills it
    }
    let mut out = Vec::new();
    let mut err = Vec::new();
    if let Some(o) = p.0.stdout.as_mut() {
        let _ = o.read_to_end(&mut out);
    }
    if let Some(e) = p.0.stderr.as_mut() {
        let _ = e.read_to_end(&mut err);
    }
    let status = p.0.wait().ok()?;
    Some(Output {
        status,
        stdout: out,
        stderr: err,
    })
}

/// Poll `cond` every 20 ms until it holds (true) or `timeout` passes (false).
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Wait until `path` exists (a "ready" flag written by a helper script).
pub fn wait_for_file(path: &Path, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// First and last `lines` packets of a pcap, as `tshark` summarises them.
pub fn tshark_summary(pcap: &Path, lines: usize) -> String {
    let o = Command::new("timeout")
        .args(["30", "tshark", "-n", "-r"])
        .arg(pcap)
        .output();
    let Ok(o) = o else {
        return "(tshark not available)".into();
    };
    let all = String::from_utf8_lossy(&o.stdout);
    let v: Vec<&str> = all.lines().collect();
    if v.len() <= 2 * lines {
        return v.join("\n");
    }
    format!(
        "{}\n  ... {} packets ...\n{}",
        v[..lines].join("\n"),
        v.len() - 2 * lines,
        v[v.len() - lines..].join("\n")
    )
}

/// Python: connect to HOST PORT, send the file IN while reading everything into OUT, then
/// half-close; stops at EOF. A per-operation socket timeout turns a stall into an error.
pub const PY_ECHO_CLIENT: &str = r#"
import socket, sys, threading
host, port, inp, outp = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
data = open(inp, 'rb').read()
s = socket.create_connection((host, port), timeout=30)
err = []
def tx():
    try:
        # sendall's timeout covers the whole call: send in chunks so it bounds a stall only.
        for i in range(0, len(data), 1 << 16):
            s.sendall(data[i:i + (1 << 16)])
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        err.append(e)
t = threading.Thread(target=tx)
t.start()
n = 0
with open(outp, 'wb') as f:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        f.write(b)
        n += len(b)
t.join()
if err:
    raise err[0]
print('received', n)
"#;

/// Python: listen on 0.0.0.0:PORT, touch READY, accept one connection, send the file IN while
/// reading everything into OUT; half-close after sending (or, with a 5th argument
/// `fin-after-eof`, only once the peer's EOF has been read too); stops at EOF.
pub const PY_ONE_SHOT_SERVER: &str = r#"
import socket, sys, threading
port, inp, outp, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
fin_after_eof = sys.argv[5:] == ['fin-after-eof']
data = open(inp, 'rb').read()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('0.0.0.0', port))
ls.listen(1)
open(ready, 'w').close()
s, peer = ls.accept()
s.settimeout(30)
print('peer', peer[0], peer[1], flush=True)
err = []
def tx():
    try:
        # sendall's timeout covers the whole call: send in chunks so it bounds a stall only.
        for i in range(0, len(data), 1 << 16):
            s.sendall(data[i:i + (1 << 16)])
        if not fin_after_eof:
            s.shutdown(socket.SHUT_WR)
    except Exception as e:
        err.append(e)
t = threading.Thread(target=tx)
t.start()
n = 0
with open(outp, 'wb') as f:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        f.write(b)
        n += len(b)
t.join()
if err:
    raise err[0]
if fin_after_eof:
    s.shutdown(socket.SHUT_WR)
print('received', n)
"#;

/// Python: N concurrent non-blocking connections to HOST PORT; each sends its own small message
/// and must read exactly that back, then closes. Prints `ok N maxopen M`, or the failures.
pub const PY_MANY_CLIENTS: &str = r#"
import errno, resource, selectors, socket, sys, time
host, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
sel = selectors.DefaultSelector()
state = {}
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    rc = s.connect_ex((host, port))
    if rc not in (0, errno.EINPROGRESS):
        print('connect', i, errno.errorcode.get(rc, rc)); sys.exit(1)
    msg = ('hello %d from the kernel\n' % i).encode()
    state[s] = [i, msg, b'', 'connecting']
    sel.register(s, selectors.EVENT_WRITE)
done, failed, est, maxest = 0, [], 0, 0
def close(s, st, why=None):
    global est
    if why is not None:
        failed.append((st[0], why))
    if st[3] == 'reading':
        est -= 1
    st[3] = 'closed'
    sel.unregister(s)
    s.close()
deadline = time.time() + secs
while done + len(failed) < n and time.time() < deadline:
    for key, ev in sel.select(timeout=1.0):
        s = key.fileobj
        st = state[s]
        if st[3] == 'connecting':
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                close(s, st, 'connect ' + errno.errorcode.get(e, str(e)))
                continue
            est += 1
            maxest = max(maxest, est)
            st[3] = 'reading'
            s.sendall(st[1])
            sel.modify(s, selectors.EVENT_READ)
        else:
            try:
                b = s.recv(4096)
            except OSError as e:
                close(s, st, 'recv ' + str(e))
                continue
            st[2] += b
            if not b or len(st[2]) >= len(st[1]):
                if st[2] == st[1]:
                    done += 1
                    close(s, st)
                else:
                    close(s, st, 'got %r' % st[2][:60])
print('ok', done, 'failed', len(failed), 'max_established', maxest)
for f in failed[:20]:
    print('FAIL', f)
if done != n:
    left = {}
    for st in state.values():
        left[st[3]] = left.get(st[3], 0) + 1
    print('by state', left)
    sys.exit(1)
"#;

/// Python: connect to HOST PORT and report how it fails: prints `refused`, `connected`, or the error.
pub const PY_CONNECT_RESULT: &str = r#"
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    print('connected')
except ConnectionRefusedError:
    print('refused')
except Exception as e:
    print('error', repr(e))
"#;

/// Start our stack in this process, inside `ns`: a short-lived thread joins the namespace with
/// setns(2) (which affects only that thread), opens the TUN device there and starts the
/// runtime, whose driver thread inherits the namespace. The calling thread stays where it was.
pub fn start_runtime_in(ns: &Netns, seed: u64) -> tunstack::runtime::Runtime {
    use std::os::fd::AsRawFd;
    use tunstack::runtime::{Link, Runtime, RuntimeConfig, TunDevice, TunOptions};
    let path = format!("/var/run/netns/{}", ns.name);
    std::thread::spawn(move || -> std::io::Result<Runtime> {
        let f = fs::File::open(&path)?;
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
                seed,
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

/// Run `f` on a new thread; its result, or `None` if it takes longer than `timeout` (the
/// thread is left behind; shutting the runtime down unblocks it).
pub fn with_timeout<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(timeout).ok()
}

/// Python: connect to HOST PORT, send "ping\n", then read until the connection ends; prints
/// `reset` (ECONNRESET), `eof` (a FIN), or `timeout`, after the bytes it read.
pub const PY_RESET_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b'ping\n')
got = b''
try:
    while True:
        b = s.recv(4096)
        if not b:
            print('read', len(got)); print('eof'); break
        got += b
except ConnectionResetError:
    print('read', len(got)); print('reset')
except socket.timeout:
    print('read', len(got)); print('timeout')
"#;

/// Python: listen on 0.0.0.0:PORT, touch READY, accept one connection, read "hello", answer
/// "ok", then read until the connection ends; prints `reset`, `eof` or `timeout`.
pub const PY_RESET_SERVER: &str = r#"
import socket, sys
port, ready = int(sys.argv[1]), sys.argv[2]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('0.0.0.0', port))
ls.listen(1)
open(ready, 'w').close()
s, peer = ls.accept()
s.settimeout(20)
got = b''
while not got.endswith(b'hello'):
    b = s.recv(100)
    if not b:
        print('eof before hello'); sys.exit(1)
    got += b
s.sendall(b'ok')
try:
    while True:
        b = s.recv(4096)
        if not b:
            print('eof'); break
except ConnectionResetError:
    print('reset')
except socket.timeout:
    print('timeout')
"#;

/// A counter from the first line of tunstack's final report that starts with `line` (e.g.
/// "emulator out:"). Both report styles are read: `name: N` (Debug) and `name=N` (the summary,
/// which leaves out zero counters: a line without the name reads as 0).
pub fn report_line_counter(report: &str, line: &str, name: &str) -> Option<u64> {
    let l = report.lines().find(|l| l.starts_with(line))?;
    if let Some(v) = report_counter(l, name) {
        return Some(v);
    }
    let key = format!("{name}=");
    match l.find(&key) {
        Some(at) => l[at + key.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok(),
        None => Some(0),
    }
}

/// A counter from tunstack's final report (`name: N` in the `tcp: TcpStats { .. }` line).
pub fn report_counter(report: &str, name: &str) -> Option<u64> {
    let key = format!(" {name}: ");
    let at = report.find(&key)? + key.len();
    let digits: String = report[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Run `tshark -r PCAP -Y FILTER -T fields -e F...` (one line per packet, tab-separated).
pub fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut c = Command::new("timeout");
    c.args(["60", "tshark", "-n", "-r"])
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let o = c.output().expect("run tshark");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Python: connect to HOST PORT, run a scripted exchange chosen by MODE, print what happened.
/// `zerowin`: a 16 KiB receive buffer; send 2 MiB while not reading for 3 s, then read it all.
/// `urgent`: "abc", then "!" with MSG_OOB, then "def"; read the echo until EOF.
/// `rst N`: N connections that send 1000 bytes and close with SO_LINGER 0 (a RST);
/// `rst-now N`: the same without data, right after connecting.
/// `twreuse N`: N HTTP/1.0-style requests (`Connection: close`, the server closes first) from the
/// same source port 40000, so each new SYN meets the previous connection in TIME-WAIT.
/// `read N`: read N bytes, write them raw to stdout, close with data unread.
/// `discard N`: send N bytes, half-close, expect EOF.
/// `keepalive`: TCP keep-alive after 1 s idle, every 1 s, 2 probes; idle 6 s, then echo.
/// `fastopen`: `sendto(MSG_FASTOPEN)` (the SYN asks for a TFO cookie), then echo.
/// `http-parallel K N`: K threads each GET /bytes/N and check the body.
/// `rst-blocked`: never read, send until the kernel's own send buffer is full (so the peer's
/// echo is blocked writing to us), wait 1 s, then close with SO_LINGER 0 (a RST).
pub const PY_SCENARIO: &str = r#"
import socket, struct, sys, threading, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def read_all(s):
    got = b''
    while True:
        b = s.recv(1 << 16)
        if not b:
            return got
        got += b
if mode == 'zerowin':
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(30)
    s.connect((host, port))
    data = bytes((i * 7 + i // 251) & 255 for i in range(1 << 21))
    def tx():
        for i in range(0, len(data), 1 << 16):
            s.sendall(data[i:i + (1 << 16)])
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=tx)
    t.start()
    time.sleep(3)
    got = read_all(s)
    t.join()
    print('zerowin', 'same' if got == data else 'DIFFERENT', len(got))
elif mode == 'urgent':
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b'abc')
    s.send(b'!', socket.MSG_OOB)
    s.sendall(b'def')
    s.shutdown(socket.SHUT_WR)
    print('urgent', read_all(s))
elif mode in ('rst', 'rst-now'):
    for i in range(int(sys.argv[4])):
        c = socket.create_connection((host, port), timeout=10)
        if mode == 'rst':
            c.sendall(b'x' * 1000)
            time.sleep(0.01)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close()
    print('rst done')
elif mode == 'twreuse':
    for i in range(int(sys.argv[4])):
        # The kernel's own side (LAST-ACK) must end first: retry while the port is still busy.
        for attempt in range(100):
            time.sleep(0.1)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.settimeout(30)
            try:
                s.bind(('198.18.0.1', 40000))
                s.connect((host, port))
                break
            except OSError as e:
                if e.errno not in (98, 99):  # EADDRINUSE, EADDRNOTAVAIL
                    raise
                s.close()
        s.sendall(b'GET /bytes/1000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
        got = read_all(s)
        s.close()
        body = bytes(10 if i % 64 == 63 else 97 + i % 26 for i in range(1000))
        ok = got.startswith(b'HTTP/1.1 200') and got.split(b'\r\n\r\n', 1)[-1] == body
        print('twreuse', i, len(got), 'ok' if ok else 'BAD', flush=True)
elif mode == 'read':
    n = int(sys.argv[4])
    s = socket.create_connection((host, port), timeout=10)
    got = b''
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            break
        got += b
    s.close()
    sys.stdout.buffer.write(got)
elif mode == 'discard':
    s = socket.create_connection((host, port), timeout=20)
    data = b'discard me ' * (int(sys.argv[4]) // 11)
    for i in range(0, len(data), 1 << 16):
        s.sendall(data[i:i + (1 << 16)])
    s.shutdown(socket.SHUT_WR)
    print('discard', len(data), 'eof' if read_all(s) == b'' else 'DATA')
elif mode == 'keepalive':
    s = socket.create_connection((host, port), timeout=20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
    time.sleep(6)
    try:
        s.sendall(b'still here')
        got = b''
        while len(got) < 10:
            b = s.recv(100)
            if not b:
                break
            got += b
        print('keepalive', got)
    except OSError as e:
        print('keepalive error', e)
elif mode == 'fastopen':
    s = socket.socket()
    s.sendto(b'fast hello', socket.MSG_FASTOPEN, (host, port))  # blocking: waits for the handshake
    s.settimeout(10)
    s.shutdown(socket.SHUT_WR)
    print('fastopen', read_all(s))
elif mode == 'http-parallel':
    import http.client
    k, n = int(sys.argv[4]), int(sys.argv[5])
    body = bytes(10 if i % 64 == 63 else 97 + i % 26 for i in range(65536))
    want = (body * (n // 65536 + 1))[:n]
    res = [None] * k
    def get(j):
        try:
            c = http.client.HTTPConnection(host, port, timeout=30)
            c.request('GET', '/bytes/%d' % n)
            r = c.getresponse()
            d = r.read()
            res[j] = 'ok' if r.status == 200 and d == want else 'BAD %d %d' % (r.status, len(d))
        except Exception as e:
            res[j] = 'ERR %r' % e
    ts = [threading.Thread(target=get, args=(j,)) for j in range(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print('parallel', res)
elif mode == 'rst-blocked':
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(10)
    s.connect((host, port))
    s.setblocking(False)
    sent, chunk, idle = 0, b'z' * 65536, 0
    while idle < 20:
        try:
            sent += s.send(chunk)
            idle = 0
        except BlockingIOError:
            idle += 1
            time.sleep(0.05)
    time.sleep(1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()
    print('rst-blocked sent', sent)
"#;

/// Python: listen on 0.0.0.0:PORT, touch READY, accept one connection, read until EOF (the
/// peer's FIN), then send N bytes of the /bytes pattern and close. Prints what it read.
pub const PY_SERVER_AFTER_EOF: &str = r#"
import socket, sys
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('0.0.0.0', port))
ls.listen(1)
open(ready, 'w').close()
s, peer = ls.accept()
s.settimeout(30)
got = b''
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
print('read', len(got), flush=True)
block = bytes(10 if i % 64 == 63 else 97 + i % 26 for i in range(65536))
data = (block * (n // 65536 + 1))[:n]
for i in range(0, n, 1 << 16):
    s.sendall(data[i:i + (1 << 16)])
s.close()
print('sent', n)
"#;

/// Python: an echo server on 0.0.0.0:PORT for many connections at once (selectors); touches
/// READY once listening; with a 3rd argument `close-after-first`, each connection is closed
/// (FIN) right after its first echo; `reset-after-first` closes it with SO_LINGER 0 (RST).
pub const PY_ECHO_SERVER: &str = r#"
import selectors, socket, struct, sys
port, ready = int(sys.argv[1]), sys.argv[2]
after = sys.argv[3] if len(sys.argv) > 3 else ''
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('0.0.0.0', port))
ls.listen(1024)
ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ)
open(ready, 'w').close()
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is ls:
            c, _ = ls.accept()
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            b = s.recv(65536)
        except OSError:
            b = b''
        if not b:
            sel.unregister(s); s.close(); continue
        s.setblocking(True); s.sendall(b); s.setblocking(False)
        if after:
            if after == 'reset-after-first':
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            sel.unregister(s); s.close()
"#;

/// An absolute counter of the namespace's kernel network stack (`nstat -asz NAME`), e.g.
/// `TcpRetransSegs`; each namespace starts from zero.
pub fn kernel_counter(ns: &Netns, name: &str) -> Option<u64> {
    let o = ns.exec(&["timeout", "10", "nstat", "-asz", name]);
    String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some(name)).then(|| f.next()?.parse().ok())?
    })
}
