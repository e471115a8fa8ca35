//! `tunstack up --stack smoltcp` against kernel tools (ping, socat, curl), each test in its own
//! network namespace. Without root they print "SKIPPED: ..." and pass.

mod common;

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
    let mut all = vec!["up", "--stack", "smoltcp"];
    all.extend_from_slice(args);
    let mut ts = ns.spawn_tunstack(&all);
    assert!(ts.wait_ready(READY), "not ready: {}", ts.stderr());
    ts
}

/// SIGTERM, exit 0, the counters printed; returns stderr.
fn stop(mut ts: Tunstack) -> String {
    ts.signal(libc::SIGTERM);
    let st = ts.wait_exit(EXIT).expect("exits after SIGTERM");
    let err = ts.stderr();
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(err.contains("signal 15 received"), "{err}");
    assert!(err.contains("link: read "), "{err}");
    assert!(err.contains("tunstack: stopped"), "{err}");
    err
}

fn tools(purpose: &str, list: &[&str]) -> bool {
    list.iter().all(|t| have_tool(purpose, t))
}

/// The counters line of one service in the report.
fn service_line<'a>(err: &'a str, svc: &str) -> &'a str {
    let key = format!("service {svc}: ");
    err.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .unwrap_or_else(|| panic!("no counters for {svc}: {err}"))
}

fn tmp(ns: &Netns, what: &str) -> String {
    std::env::temp_dir()
        .join(format!("{}-{what}", ns.name))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn smoltcp_answers_ping_and_echoes_1mb_byte_exact() {
    let Some(mut ns) = Netns::new("smol-echo") else {
        return;
    };
    if !tools("smol-echo", &["socat"]) {
        return;
    }
    let ts = up(&mut ns, &["--serve", "echo"]);
    let o = ns.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"]);
    assert!(text(&o).contains("3 received"), "ping: {}", text(&o));

    let (inp, out) = (tmp(&ns, "echo.in"), tmp(&ns, "echo.out"));
    let data: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i * 31 + i / 997) as u8)
        .collect();
    std::fs::write(&inp, &data).expect("write input");
    // -t 30: after stdin EOF socat keeps reading the echo for up to 30 s (default 0.5 s).
    let o = ns.sh(&format!(
        "timeout 60 socat -t 30 - TCP:198.18.0.2:7 < {inp} > {out}"
    ));
    let got = std::fs::read(&out).unwrap_or_default();
    let _ = (std::fs::remove_file(&inp), std::fs::remove_file(&out));
    assert!(o.status.success(), "socat: {}", text(&o));
    assert_eq!(got.len(), data.len(), "echoed length");
    assert!(got == data, "echo is byte-exact");

    let err = stop(ts);
    let line = service_line(&err, "echo");
    assert!(line.contains("accepted=1 closed=1"), "{line}");
    assert!(
        line.contains("bytes_in=1000000 bytes_out=1000000"),
        "{line}"
    );
    assert!(err.contains("tcp sockets left: []"), "{err}");
}

#[test]
fn smoltcp_discard_accepts_10mb() {
    let Some(mut ns) = Netns::new("smol-discard") else {
        return;
    };
    if !tools("smol-discard", &["socat"]) {
        return;
    }
    let ts = up(&mut ns, &["--serve", "discard"]);
    // Not `socat -u` (it exits at stdin EOF, before the data arrived): after EOF socat waits
    // (-t 30) for the server's FIN, which discard sends once it has read everything.
    let o =
        ns.sh("head -c 10000000 /dev/zero | timeout 60 socat -t 30 - TCP:198.18.0.2:9 >/dev/null");
    assert!(o.status.success(), "socat: {}", text(&o));
    let err = stop(ts);
    let line = service_line(&err, "discard");
    assert!(
        line.contains("accepted=1 closed=1 bytes_in=10000000"),
        "{line}"
    );
}

#[test]
fn smoltcp_chargen_delivers_the_pattern() {
    let Some(mut ns) = Netns::new("smol-chargen") else {
        return;
    };
    if !tools("smol-chargen", &["socat"]) {
        return;
    }
    let ts = up(&mut ns, &[]);
    let o = ns.sh("timeout 10 socat -u TCP:198.18.0.2:19 - 2>/dev/null | head -c 148");
    let want: Vec<u8> = (0..2).flat_map(tunstack::services::chargen_line).collect();
    assert_eq!(o.stdout, want, "chargen: {}", text(&o));
    let o = ns.sh("timeout 30 socat -u TCP:198.18.0.2:19 - 2>/dev/null | head -c 2000000 | wc -c");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "2000000");
    let err = stop(ts);
    assert!(
        service_line(&err, "chargen").contains("accepted=2"),
        "{err}"
    );
}

#[test]
fn smoltcp_http_bytes_with_curl() {
    let Some(mut ns) = Netns::new("smol-http") else {
        return;
    };
    if !tools("smol-http", &["curl"]) {
        return;
    }
    let ts = up(&mut ns, &["--serve", "http"]);
    let o = ns.exec(&["curl", "-s", "-m", "30", "http://198.18.0.2/bytes/2000000"]);
    assert!(o.status.success(), "curl: {}", text(&o));
    assert_eq!(o.stdout.len(), 2_000_000);
    // The threaded http service's pattern: a-z, newline every 64 bytes, per 64 KiB block.
    let ok = o.stdout.iter().enumerate().all(|(i, &b)| {
        let j = i % 65536;
        b == if j % 64 == 63 {
            b'\n'
        } else {
            b'a' + (j % 26) as u8
        }
    });
    assert!(ok, "body pattern");
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
    let err = stop(ts);
    assert!(
        service_line(&err, "http").contains("http_requests=2"),
        "{err}"
    );
}

#[test]
fn smoltcp_with_emulator_pcap_and_stats_stops_cleanly_on_sigterm() {
    let Some(mut ns) = Netns::new("smol-emu") else {
        return;
    };
    if !tools("smol-emu", &["socat"]) {
        return;
    }
    let pcap = tmp(&ns, "run.pcap");
    let ts = up(
        &mut ns,
        &[
            "--serve",
            "echo",
            "--pcap",
            &pcap,
            "--stats=1",
            "--delay",
            "2ms",
            "--loss",
            "1%",
            "--seed",
            "5",
        ],
    );
    let o = ns.sh("head -c 200000 /dev/urandom > /tmp/smol-emu.$$ && \
         timeout 60 socat -t 30 - TCP:198.18.0.2:7 < /tmp/smol-emu.$$ | cmp - /tmp/smol-emu.$$; \
         r=$?; rm -f /tmp/smol-emu.$$; exit $r");
    assert!(o.status.success(), "echo through loss: {}", text(&o));
    // Let `--stats=1` print at least once.
    std::thread::sleep(Duration::from_millis(1500));
    let err = stop(ts);
    let len = std::fs::metadata(&pcap).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&pcap);
    assert!(err.contains("emulator in: "), "{err}");
    assert!(err.contains("packets recorded, 0 skipped"), "{err}");
    assert!(len > 400_000, "capture holds both directions: {len} bytes");
    assert!(
        err.contains("connection(s) (smoltcp)"),
        "--stats lines: {err}"
    );
}

#[test]
fn smoltcp_refuses_what_it_does_not_have() {
    let Some(ns) = Netns::new("smol-refuse") else {
        return;
    };
    for (args, why) in [
        (vec!["--serve", "udp-echo"], "udp-echo"),
        (vec!["--serve", "echo,dns"], "dns"),
        (vec!["--cc", "newreno"], "--cc newreno"),
        (vec!["--msl", "1s"], "--msl"),
        (vec!["--dns-zone", "/nonexistent"], "--dns-zone"),
    ] {
        let mut all = vec![tunstack_bin(), "up", "--stack", "smoltcp"];
        all.extend_from_slice(&args);
        let o = ns.exec(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(why), "{args:?}: {}", text(&o));
    }
    // Nothing was created.
    let o = ns.exec(&["ip", "link", "show", "tunstack0"]);
    assert!(!o.status.success());
}
