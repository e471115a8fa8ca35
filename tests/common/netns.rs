//! A network namespace per test, for anything that creates a TUN device or sends packets.
//!
//! Usage (in a `tests/*.rs` file: `mod common;` then `use common::netns::Netns;`):
//! ```ignore
//! let Some(mut ns) = Netns::new("ping") else { return }; // prints "SKIPPED: ..." if not root
//! let mut ts = ns.spawn_tunstack(&["up", "--serve", "all"]); // `ip netns exec NS tunstack ...`
//! assert!(ts.wait_ready(Duration::from_secs(10)), "{}", ts.stderr());
//! let out = ns.exec(&["ping", "-c", "3", "198.18.0.2"]); // any command inside the namespace
//! assert!(out.status.success());
//! ts.signal(libc::SIGTERM);
//! let status = ts.wait_exit(Duration::from_secs(10)).expect("exits");
//! // Dropping `ts` (or a `Proc` from `ns.spawn`) kills that child by pid if it still runs;
//! // dropping `ns` deletes the namespace, even when the test panics.
//! ```
//! Namespaces are named `ts-<purpose>-<pid>`: give each test its own purpose.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// True if we may create namespaces and TUN devices; otherwise prints a loud SKIPPED line.
pub fn have_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIPPED: {test}: needs root/CAP_NET_ADMIN for TUN");
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIPPED: {test}: needs the `ip` tool (iproute2)");
        return false;
    }
    true
}

/// True if `prog` can be run (e.g. socat, setpriv); otherwise prints a loud SKIPPED line.
pub fn have_tool(test: &str, prog: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: {test}: needs `{prog}`");
    }
    ok
}

/// The path of the tunstack binary cargo built for this test run.
pub fn tunstack_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tunstack")
}

/// A network namespace that is deleted on drop.
pub struct Netns {
    pub name: String,
    spawned: usize,
}

impl Netns {
    /// Create `ts-<purpose>-<pid>` with its loopback up. `None` (after printing SKIPPED) if we
    /// are not root; panics if root but the namespace cannot be created.
    pub fn new(purpose: &str) -> Option<Netns> {
        if !have_root(purpose) {
            return None;
        }
        let name = format!("ts-{purpose}-{}", std::process::id());
        // A namespace left by a crashed earlier run with our pid would make `add` fail.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns { name, spawned: 0 };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        Some(ns)
    }

    /// A `Command` that runs `prog` inside the namespace.
    pub fn command(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c
    }

    /// Run a command inside the namespace to completion (stdin closed).
    pub fn exec(&self, args: &[&str]) -> Output {
        let (prog, rest) = args.split_first().expect("a command");
        self.command(prog)
            .args(rest)
            .stdin(Stdio::null())
            .output()
            .expect("run ip netns exec")
    }

    /// Run with a shell inside the namespace (`sh -c script`).
    pub fn sh(&self, script: &str) -> Output {
        self.exec(&["sh", "-c", script])
    }

    /// Start a command (made with `command`); it is killed (by pid) and reaped when the
    /// returned `Proc` is dropped.
    pub fn spawn(&mut self, cmd: &mut Command) -> Proc {
        self.spawned += 1;
        Proc(cmd.spawn().expect("spawn in namespace"))
    }

    /// Start `tunstack ARGS...` inside the namespace, stderr captured to a file.
    pub fn spawn_tunstack(&mut self, args: &[&str]) -> Tunstack {
        self.spawn_tunstack_with(self.command(tunstack_bin()), args)
    }

    /// Like `spawn_tunstack`, from a prepared command (e.g. `setpriv ... tunstack`).
    pub fn spawn_tunstack_with(&mut self, cmd: Command, args: &[&str]) -> Tunstack {
        self.spawn_tunstack_inner(cmd, args, Stdio::null())
    }

    /// Like `spawn_tunstack`, with stdin a pipe the caller writes to (e.g. `tunstack connect`);
    /// dropping the `ChildStdin` is EOF.
    pub fn spawn_tunstack_stdin(&mut self, args: &[&str]) -> (Tunstack, std::process::ChildStdin) {
        let mut ts = self.spawn_tunstack_inner(self.command(tunstack_bin()), args, Stdio::piped());
        let stdin = ts
            .child
            .as_mut()
            .and_then(|c| c.stdin.take())
            .expect("piped stdin");
        (ts, stdin)
    }

    fn spawn_tunstack_inner(&mut self, mut cmd: Command, args: &[&str], stdin: Stdio) -> Tunstack {
        let stderr_path =
            std::env::temp_dir().join(format!("{}-{}.stderr", self.name, self.spawned));
        let file = fs::File::create(&stderr_path).expect("stderr file");
        self.spawned += 1;
        let child = cmd
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn tunstack");
        Tunstack {
            child: Some(child),
            stderr_path,
        }
    }

    /// Wait until network device `dev` exists in the namespace.
    pub fn wait_for_device(&self, dev: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.exec(&["ip", "link", "show", dev]).status.success() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Netns {
    /// Declare the `Netns` before its `Proc`s and `Tunstack`s: they drop (killed) first.
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A child process, killed by pid and reaped on drop (also when a test panics).
pub struct Proc(pub Child);

impl Drop for Proc {
    /// SIGTERM first, so a wrapper such as `timeout` passes it on to its child (a SIGKILL would
    /// end the wrapper and orphan the child); SIGKILL after a second if it is still there.
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            // SAFETY: kill(2) on the pid of our own child, which we have not reaped yet.
            unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
            let end = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while std::time::Instant::now() < end && self.0.try_wait().ok().flatten().is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if self.0.try_wait().ok().flatten().is_none() {
                let _ = self.0.kill();
            }
        }
        let _ = self.0.wait();
    }
}

/// A running `tunstack` inside a namespace.
pub struct Tunstack {
    child: Option<Child>,
    stderr_path: PathBuf,
}

impl Tunstack {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything tunstack wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Wait until tunstack printed its "ready" line (false if it exited or timed out).
    pub fn wait_ready(&mut self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.stderr().contains("tunstack: ready") {
                return true;
            }
            if let Some(c) = self.child.as_mut()
                && c.try_wait().ok().flatten().is_some()
            {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn signal(&self, sig: libc::c_int) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) on the pid of our own child.
            unsafe { libc::kill(pid as libc::pid_t, sig) };
        }
    }

    /// Wait for exit; `None` if still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        let c = self.child.as_mut()?;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tunstack {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if c.try_wait().ok().flatten().is_none() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
        let _ = fs::remove_file(&self.stderr_path);
    }
}
