//! `tunstack up` services and `tunstack connect` against kernel tools (ping, socat, curl),
//! each test in its own network namespace. Without root they print "SKIPPED: ..." and pass.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::netns::{Netns, Tunstack, have_tool, tunstack_bin};

const READY: Duration = Duration::from_secs(20);
const EXIT: Duration = Duration::from_secs(10);

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn up(ns: &mut Netns, args: &[&str]) -> Tunstack {
    let mut all = vec!["up"];
    all.extend_from_slice(args);
    let mut ts = ns.spawn_tunstack(&all);
    assert!(ts.wait_ready(READY), "not ready: {}", ts.stderr());
    ts
}

fn stop(mut ts: Tunstack) -> String {
    ts.signal(libc::SIGTERM);
    let st = ts.wait_exit(EXIT).expect("exits after SIGTERM");
    let err = ts.stderr();
    assert_eq!(st.code(), Some(0), "{err}");
    err
}

#[test]
fn ping_udp_echo_tcp_echo_and_http() {
    let Some(mut ns) = Netns::new("svc-all") else {
        return;
    };
    if !have_tool("svc-all", "socat") || !have_tool("svc-all", "curl") {
        return;
    }
    let pcap = std::env::temp_dir().join(format!("{}.pcap", ns.name));
    let pcap_s = pcap.to_string_lossy().into_owned();
    let ts = up(&mut ns, &["--pcap", &pcap_s, "--stats=1"]);

    let o = ns.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"]);
    assert!(o.status.success(), "ping: {}", text(&o));
    assert!(text(&o).contains("3 received"), "{}", text(&o));
    // The capture reaches the file while we run (flushed within about a second).
    let mut live = 0;
    for _ in 0..40 {
        live = std::fs::metadata(&pcap).map(|m| m.len()).unwrap_or(0);
        if live > 6 * 84 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        live > 6 * 84,
        "capture not flushed while running: {live} bytes"
    );

    let o = ns.sh("echo hello-udp | timeout 5 socat -T2 - UDP:198.18.0.2:7");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello-udp\n",
        "{}",
        text(&o)
    );

    let o = ns.sh("printf 'line1\\nline2\\n' | timeout 5 socat - TCP:198.18.0.2:7");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "line1\nline2\n",
        "{}",
        text(&o)
    );

    let o = ns.sh("timeout 5 socat -u TCP:198.18.0.2:19 - | head -c 148");
    let want: Vec<u8> = (0..2).flat_map(tunstack::services::chargen_line).collect();
    assert_eq!(o.stdout, want, "chargen: {}", text(&o));

    let o = ns.exec(&["curl", "-s", "-m", "10", "http://198.18.0.2/"]);
    assert!(text(&o).contains("Hello from tunstack"), "{}", text(&o));
    let o = ns.sh("curl -s -m 20 http://198.18.0.2/bytes/2000000 | wc -c");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "2000000");
    let o = ns.exec(&[
        "curl",
        "-s",
        "-m",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://198.18.0.2/missing",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "404");
    let o =
        ns.sh("head -c 300000 /dev/zero | curl -s -m 20 --data-binary @- http://198.18.0.2/sink");
    assert!(text(&o).contains("bytes=300000"), "{}", text(&o));

    let err = stop(ts);
    assert!(err.contains("icmp_echo_replies=3"), "{err}");
    assert!(err.contains("packets recorded, 0 skipped"), "{err}");
    let len = std::fs::metadata(&pcap).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&pcap);
    assert!(len > 2_000_000, "capture too small: {len} bytes");
}

#[test]
fn connect_copies_both_ways_and_reports_refusal() {
    let Some(mut ns) = Netns::new("cli-connect") else {
        return;
    };
    if !have_tool("cli-connect", "socat") {
        return;
    }
    // Kernel side: an echo server that closes after the client's FIN (socat exits then).
    let mut server = ns.command("socat");
    server.args(["-T10", "TCP-LISTEN:9000,reuseaddr", "EXEC:cat"]);
    let _server = ns.spawn(server.stdout(Stdio::null()).stderr(Stdio::null()));
    std::thread::sleep(Duration::from_millis(300));

    let mut c = ns.command(tunstack_bin());
    c.args([
        "connect",
        "198.18.0.1:9000",
        "--tun",
        "tsconn0",
        "--timeout",
        "5s",
    ]);
    let mut child = ns.spawn(
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut stdin = child.0.stdin.take().expect("stdin");
    let p2 = payload.clone();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&p2);
    });
    let out = child.0.wait_with_output_ref();
    w.join().expect("writer");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        out.stdout == payload,
        "echoed {} of {} bytes",
        out.stdout.len(),
        payload.len()
    );

    // Nobody listens on 9001: the kernel answers RST.
    let o = ns.exec(&[
        tunstack_bin(),
        "connect",
        "198.18.0.1:9001",
        "--tun",
        "tsconn1",
        "--timeout",
        "5s",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("refused"), "{}", text(&o));

    // Every SYN lost on the emulated link: the handshake times out.
    let o = ns.exec(&[
        tunstack_bin(),
        "connect",
        "198.18.0.1:9000",
        "--tun",
        "tsconn2",
        "--loss",
        "100%",
        "--timeout",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("timed out"), "{}", text(&o));
}

/// `Child::wait_with_output` takes the child by value; `Proc` keeps it for its kill guard.
trait WaitRef {
    fn wait_with_output_ref(&mut self) -> std::process::Output;
}

impl WaitRef for std::process::Child {
    fn wait_with_output_ref(&mut self) -> std::process::Output {
        use std::io::Read;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut so = self.stdout.take().expect("stdout");
        let mut se = self.stderr.take().expect("stderr");
        let t = std::thread::spawn(move || {
            let _ = se.read_to_end(&mut stderr);
            stderr
        });
        let _ = so.read_to_end(&mut stdout);
        let stderr = t.join().unwrap_or_default();
        let status = self.wait().expect("wait");
        std::process::Output {
            status,
            stdout,
            stderr,
        }
    }
}

#[test]
fn stats_lines_show_live_connections() {
    let Some(mut ns) = Netns::new("svc-stats") else {
        return;
    };
    if !have_tool("svc-stats", "socat") {
        return;
    }
    let ts = up(&mut ns, &["--serve", "echo", "--stats=1"]);
    // An echo connection that stays open (socat waits on its idle stdin).
    let mut c = ns.command("socat");
    c.args(["-T5", "-", "TCP:198.18.0.2:7"]);
    let _client = ns.spawn(
        c.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mut line = None;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        line = ts
            .stderr()
            .lines()
            .find(|l| l.contains("198.18.0.2:7 -> 198.18.0.1:"))
            .map(str::to_string);
        if line.is_some() {
            break;
        }
    }
    let line = line.unwrap_or_else(|| panic!("no connection line: {}", ts.stderr()));
    for field in [
        "ESTABLISHED",
        "sent=",
        "recv=",
        "srtt=",
        "rto=",
        "cwnd=",
        "retrans=",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    let err = stop(ts);
    assert!(err.contains("connections: 1"), "{err}");
}

#[test]
fn connect_interrupted_by_sigterm_exits_130() {
    let Some(mut ns) = Netns::new("cli-connint") else {
        return;
    };
    if !have_tool("cli-connint", "socat") {
        return;
    }
    // A kernel-side server that accepts and then says nothing for a long time.
    let mut server = ns.command("socat");
    server.args(["TCP-LISTEN:9100,reuseaddr", "SYSTEM:sleep 30"]);
    let _server = ns.spawn(server.stdout(Stdio::null()).stderr(Stdio::null()));
    std::thread::sleep(Duration::from_millis(300));
    // stdin stays open (the pipe is held), so only the signal can end the transfer.
    let (mut ts, _stdin) =
        ns.spawn_tunstack_stdin(&["connect", "198.18.0.1:9100", "--tun", "tsint0"]);
    // Wait until the connection is up (the kernel sees it ESTABLISHED).
    let mut up = false;
    for _ in 0..100 {
        let o = ns.exec(&["ss", "-Htn", "state", "established", "( sport = :9100 )"]);
        if !String::from_utf8_lossy(&o.stdout).trim().is_empty() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "never connected: {}", ts.stderr());
    ts.signal(libc::SIGTERM);
    let st = ts.wait_exit(EXIT).expect("exits after SIGTERM");
    assert_eq!(st.code(), Some(130), "{}", ts.stderr());
    assert!(ts.stderr().contains("interrupted"), "{}", ts.stderr());
}

#[test]
fn echo_discard_chargen_are_the_same_inline_and_threaded() {
    // echo, discard and chargen run in the driver thread; TUNSTACK_THREADED_SERVICES=1 puts them
    // back on threads over `api` (the A/B knob of docs/benchmarks.md). Both answer alike.
    for threaded in [false, true] {
        let Some(mut ns) = Netns::new(if threaded { "svc-thr" } else { "svc-inl" }) else {
            return;
        };
        if !have_tool("svc-thr", "socat") {
            return;
        }
        let mut cmd = ns.command(tunstack_bin());
        if threaded {
            cmd.env("TUNSTACK_THREADED_SERVICES", "1");
        }
        let mut ts = ns.spawn_tunstack_with(cmd, &["up", "--serve", "echo,discard,chargen"]);
        assert!(ts.wait_ready(READY), "not ready: {}", ts.stderr());
        // 300 kB through echo (more than its 64 KiB hold): byte-exact, then closed.
        let o = ns.sh("head -c 300000 /dev/urandom > /tmp/$$.in; \
             timeout 10 socat -t5 - TCP:198.18.0.2:7 < /tmp/$$.in > /tmp/$$.out; \
             cmp /tmp/$$.in /tmp/$$.out && echo same; rm -f /tmp/$$.in /tmp/$$.out");
        assert!(
            text(&o).contains("same"),
            "echo (threaded={threaded}): {}",
            text(&o)
        );
        let o = ns
            .sh("head -c 1000000 /dev/zero | timeout 10 socat -u - TCP:198.18.0.2:9 && echo sent");
        assert!(
            text(&o).contains("sent"),
            "discard (threaded={threaded}): {}",
            text(&o)
        );
        let o = ns.sh("timeout 5 socat -u TCP:198.18.0.2:19 - | head -c 7400");
        let want: Vec<u8> = (0..100)
            .flat_map(tunstack::services::chargen_line)
            .collect();
        assert_eq!(
            o.stdout,
            want,
            "chargen (threaded={threaded}): {}",
            text(&o)
        );
        stop(ts);
    }
}
