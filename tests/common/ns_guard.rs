//! A private network-namespace guard for the TUN tests of the link/capture area, plus a running
//! `tunstack up` inside it. Every namespace is ours (`ts-<purpose>-<pid>`) and is deleted on drop,
//! even when the test panics; the tunstack we started is stopped by its pid.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const KERNEL_ADDR: &str = "198.18.0.1";
pub const STACK_ADDR: &str = "198.18.0.2";

/// Why a TUN test cannot run here (printed loudly, then the test returns).
pub fn skip(why: &str) {
    eprintln!("\n*** SKIPPED ({why}) ***\n");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub struct Ns {
    pub name: String,
}

impl Ns {
    /// A fresh namespace, or `None` (after printing SKIPPED) without root/netns support.
    pub fn new(purpose: &str) -> Option<Ns> {
        if !is_root() || !std::path::Path::new("/dev/net/tun").exists() {
            skip("needs root for TUN/netns");
            return None;
        }
        let name = format!("ts-{purpose}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip("needs root for TUN/netns: `ip netns add` failed");
            return None;
        }
        let ns = Ns { name };
        ns.run(&["ip", "link", "set", "lo", "up"]);
        Some(ns)
    }

    /// A command that runs inside the namespace.
    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c
    }

    /// Run `argv` inside the namespace and collect its output.
    pub fn run(&self, argv: &[&str]) -> Output {
        let mut c = self.cmd(argv[0]);
        c.args(&argv[1..]);
        c.output().expect("run a command in the namespace")
    }

    /// Start `tunstack up <args>` inside the namespace and wait until the kernel side has its
    /// address. `None` (after printing SKIPPED) when the binary is still the skeleton.
    pub fn tunstack(&self, args: &[&str]) -> Option<Tunstack> {
        let log = std::env::temp_dir().join(format!("{}.log", self.name));
        let file = std::fs::File::create(&log).expect("log file");
        let child = self
            .cmd(env!("CARGO_BIN_EXE_tunstack"))
            .arg("up")
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log fd"))
            .stderr(file)
            .spawn()
            .expect("spawn tunstack");
        let mut ts = Tunstack { child, log };
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = ts.child.try_wait() {
                let out = ts.output();
                if out.contains("not built yet") {
                    skip("tunstack up is still the skeleton on this branch");
                    return None;
                }
                panic!(
                    "tunstack up {args:?} exited with {status} before the device was up:\n{out}"
                );
            }
            let addrs = self.run(&["ip", "-o", "-4", "addr", "show"]);
            if String::from_utf8_lossy(&addrs.stdout).contains(&format!("inet {KERNEL_ADDR}/")) {
                return Some(ts);
            }
            assert!(
                Instant::now() < until,
                "no TUN device with {KERNEL_ADDR} after 10 s:\n{}",
                ts.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A `tunstack up` we started (`ip netns exec` execs it, so the child pid is tunstack's).
pub struct Tunstack {
    child: Child,
    log: PathBuf,
}

impl Tunstack {
    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ask it to stop (SIGINT, as Ctrl-C), wait up to 5 s, then SIGKILL. Returns its output.
    pub fn stop(&mut self) -> String {
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id() as libc::pid_t;
            // SAFETY: signalling a child we spawned and have not reaped.
            unsafe { libc::kill(pid, libc::SIGINT) };
            let until = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = self.child.try_wait() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        self.output()
    }
}

impl Drop for Tunstack {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}
