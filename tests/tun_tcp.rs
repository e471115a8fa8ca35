//! Real-TUN TCP interop against the Linux kernel: the kernel's own TCP (python3 sockets, curl)
//! talks to `tunstack up` / `tunstack connect`, each test in its own network namespace.
//! Without root: "SKIPPED: needs root for TUN/netns", loudly. Sizes are full in release builds
//! (what CI runs) and reduced in debug builds.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/tcp_tun.rs"]
mod tcp_tun;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use netns::{Netns, tunstack_bin};
use tcp_tun::*;

/// Kernel client → our echo service (TCP 7, RFC 862): random bytes go up and come back intact.
#[test]
fn tun_tcp_kernel_client_echo_10mb() {
    let Some(lab) = Lab::up("tcp-echo", &["--serve", "echo"], &["python3"]) else {
        return;
    };
    let n = size(10 << 20, 4 << 20);
    let data = seeded_bytes(10, n);
    let inp = TempFile::with(&lab.ns, "echo.in", &data);
    let out = TempFile::new(&lab.ns, "echo.out");
    let o = python(
        &lab.ns,
        90,
        PY_ECHO_CLIENT,
        &[STACK_ADDR, "7", inp.path(), out.path()],
    );
    let got = out.read();
    let ctx = || format!("{}\n{}", text(&o), lab.diagnose(0));
    assert!(o.status.success(), "echo client failed: {}", ctx());
    assert_same("echo round trip", &data, &got, &ctx);
    assert_eq!(sha256sum_file(inp.path()), sha256sum_file(out.path()));
    // A clean link loses nothing: retransmissions (either side) would mean segments we dropped
    // or acknowledged wrongly. A scheduling stall can cause a few, so allow up to 1%.
    let k_out = kernel_counter(&lab.ns, "TcpOutSegs").expect("nstat TcpOutSegs");
    let k_re = kernel_counter(&lab.ns, "TcpRetransSegs").expect("nstat TcpRetransSegs");
    let (stderr, _) = lab.stop();
    let our_out = report_counter(&stderr, "segments_out").expect("segments_out");
    let our_re = report_counter(&stderr, "retransmits").expect("retransmits");
    assert!(
        k_re * 100 <= k_out && our_re * 100 <= our_out,
        "clean link: kernel retransmitted {k_re} of {k_out} segments, we {our_re} of \
         {our_out}\n{stderr}"
    );
}

/// Our client (`tunstack connect`) → a kernel server, bytes both ways at once.
#[test]
fn tun_tcp_our_client_to_kernel_server() {
    if !root_or_skip("tcp-connect") {
        return;
    }
    let Some(mut ns) = Netns::new("tcp-connect") else {
        return;
    };
    let n = size(10 << 20, 3 << 20);
    let up = seeded_bytes(21, n);
    let down = seeded_bytes(22, n + 12345);
    let up_file = TempFile::with(&ns, "up.in", &up);
    let down_file = TempFile::with(&ns, "down.in", &down);
    let server_got = TempFile::new(&ns, "server.out");
    let client_got = TempFile::new(&ns, "client.out");
    let ready = TempFile::new(&ns, "ready");
    let server = spawn_python(
        &mut ns,
        90,
        PY_ONE_SHOT_SERVER,
        // FIN only after our EOF (see tun_tcp_connect_exits_only_after_delivery for why).
        &[
            "9000",
            down_file.path(),
            server_got.path(),
            ready.path(),
            "fin-after-eof",
        ],
    );
    assert!(
        wait_for_file(&ready.0, Duration::from_secs(10)),
        "the python server did not start"
    );
    let stderr = TempFile::new(&ns, "connect.stderr");
    let mut cmd = ns.command("timeout");
    cmd.args([
        "90",
        tunstack_bin(),
        "connect",
        &format!("{KERNEL_ADDR}:9000"),
        "--seed",
        "2",
    ])
    .stdin(std::fs::File::open(&up_file.0).expect("open up.in"))
    .stdout(std::fs::File::create(&client_got.0).expect("create client.out"))
    .stderr(std::fs::File::create(&stderr.0).expect("create stderr"));
    let client = ns.spawn(&mut cmd);
    let s = wait_output(server, Duration::from_secs(100));
    let c = wait_output(client, Duration::from_secs(100));
    let ctx = || {
        format!(
            "server: {}\nclient: {}\nclient stderr:\n{}",
            s.as_ref().map_or("(hung)".into(), text),
            c.as_ref().map_or("(hung)".into(), |o| o.status.to_string()),
            String::from_utf8_lossy(&stderr.read())
        )
    };
    assert!(
        s.as_ref().is_some_and(|o| o.status.success()),
        "server: {}",
        ctx()
    );
    assert!(
        c.as_ref().is_some_and(|o| o.status.success()),
        "tunstack connect: {}",
        ctx()
    );
    let peer = String::from_utf8_lossy(&s.as_ref().expect("server output").stdout).to_string();
    assert!(
        peer.contains(&format!("peer {STACK_ADDR} ")),
        "the server saw {peer}"
    );
    assert_same("stack → kernel", &up, &server_got.read(), &ctx);
    assert_same("kernel → stack", &down, &client_got.read(), &ctx);
}

/// The byte at `offset` of `GET /bytes/N` (services/http: a 64 KiB block of a-z with a newline
/// every 64th byte, repeated).
fn http_pattern(offset: u64) -> u8 {
    let i = offset % (64 * 1024);
    if i % 64 == 63 {
        b'\n'
    } else {
        b'a' + (i % 26) as u8
    }
}

/// curl downloads `/bytes/N` (size and content checked while streaming) and uploads to `/sink`
/// (the server's byte count and SHA-256 checked against coreutils `sha256sum`).
#[test]
fn tun_tcp_curl_download_and_upload() {
    let Some(mut lab) = Lab::up("tcp-http", &["--serve", "http"], &["curl", "sha256sum"]) else {
        return;
    };
    let n = size(100_000_000, 10_000_000) as u64;
    let url = format!("http://{STACK_ADDR}/bytes/{n}");
    let mut cmd = lab.ns.command("timeout");
    cmd.args(["110", "curl", "-sS", "--fail", "-o", "-", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut curl = lab.ns.spawn(&mut cmd);
    let mut stdout = curl.0.stdout.take().expect("curl stdout");
    let mut buf = vec![0u8; 1 << 16];
    let mut got: u64 = 0;
    let mut bad: Option<u64> = None;
    loop {
        let k = stdout.read(&mut buf).expect("read curl output");
        if k == 0 {
            break;
        }
        if bad.is_none() {
            bad = buf[..k]
                .iter()
                .enumerate()
                .find(|&(j, &b)| b != http_pattern(got + j as u64))
                .map(|(j, _)| got + j as u64);
        }
        got += k as u64;
    }
    let status = curl.0.wait().expect("wait curl");
    let mut err = String::new();
    if let Some(mut e) = curl.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        status.success(),
        "curl download: {status} {err}\ngot {got} of {n} bytes\n{}",
        lab.diagnose(0)
    );
    assert_eq!(got, n, "download size");
    assert_eq!(
        bad, None,
        "download content differs from the pattern at this offset"
    );

    let m = size(50 << 20, 5 << 20);
    let body = TempFile::with(&lab.ns, "sink.in", &seeded_bytes(30, m));
    let want_sha = sha256sum_file(body.path());
    let o = lab.ns.exec(&[
        "timeout",
        "110",
        "curl",
        "-sS",
        "--fail",
        "-H",
        "Expect:",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", body.path()),
        &format!("http://{STACK_ADDR}/sink"),
    ]);
    let reply = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "curl upload: {}\n{}",
        text(&o),
        lab.diagnose(0)
    );
    assert!(
        reply.contains(&format!("bytes={m}\n")),
        "sink count: {reply:?}, sent {m}"
    );
    assert!(
        reply.contains(&format!("sha256={want_sha}")),
        "sink sha256: {reply:?}, want {want_sha}"
    );
}

/// 1,000 kernel connections opened at once to our echo service; each echoes its own message.
#[test]
fn tun_tcp_1000_concurrent_connections() {
    let Some(lab) = Lab::up("tcp-many", &["--serve", "echo"], &["python3"]) else {
        return;
    };
    let o = python(
        &lab.ns,
        150,
        PY_MANY_CLIENTS,
        &[STACK_ADDR, "7", "1000", "140"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}\n{}", lab.diagnose(0));
    assert!(out.contains("ok 1000 failed 0"), "{out}");
    // The kernel closed each first: our side went through LAST-ACK to CLOSED, so nothing is left.
    std::thread::sleep(Duration::from_millis(500));
    let (stderr, exited) = lab.stop();
    assert!(exited, "tunstack did not stop:\n{stderr}");
    assert!(
        stderr.contains("connections: 0\n"),
        "connections left after 1000 closed echoes:\n{}",
        stderr.lines().take(30).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(
        report_counter(&stderr, "connections_opened"),
        Some(1000),
        "{stderr}"
    );
}

/// With the emulator on the TUN path (loss, delay, reorder), 10 MB up and 10 MB down (echo) intact.
#[test]
fn tun_tcp_emulated_loss_delay_reorder() {
    let Some(lab) = Lab::up_with_pcap(
        "tcp-emu",
        &[
            "--serve",
            "echo",
            "--loss",
            "2%",
            "--delay",
            "20ms",
            "--reorder",
            "1%",
            "--pcap-max-bytes",
            "8mb",
        ],
        &["python3"],
    ) else {
        return;
    };
    let n = size(10 << 20, 2 << 20);
    let data = seeded_bytes(50, n);
    let inp = TempFile::with(&lab.ns, "emu.in", &data);
    let out = TempFile::new(&lab.ns, "emu.out");
    // ~1 min in release: a Reno-style flow at 2% loss and a 40 ms RTT moves ~300 KB/s.
    let o = python(
        &lab.ns,
        150,
        PY_ECHO_CLIENT,
        &[STACK_ADDR, "7", inp.path(), out.path()],
    );
    let ctx = || format!("{}\n{}", text(&o), lab.diagnose(15));
    assert!(o.status.success(), "echo client under loss: {}", ctx());
    assert_same("echo under loss/delay/reorder", &data, &out.read(), &ctx);
}

/// A SYN to a closed port is answered with RST (the kernel sees ECONNREFUSED); an open port
/// still connects.
#[test]
fn tun_tcp_closed_port_refused() {
    let Some(lab) = Lab::up_with_pcap("tcp-rst", &["--serve", "echo"], &["python3", "tshark"])
    else {
        return;
    };
    let o = python(&lab.ns, 20, PY_CONNECT_RESULT, &[STACK_ADDR, "7"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "connected",
        "{}",
        text(&o)
    );
    let o = python(&lab.ns, 20, PY_CONNECT_RESULT, &[STACK_ADDR, "4444"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "refused",
        "{}\n{}",
        text(&o),
        lab.diagnose(10)
    );
    // The refusal is a TCP RST (RFC 9293 §3.10.7.1), not an ICMP port unreachable.
    let (err, _) = lab.stop();
    let pcap = lab.pcap.as_ref().expect("pcap").display().to_string();
    let rst = std::process::Command::new("timeout")
        .args([
            "30",
            "tshark",
            "-n",
            "-r",
            &pcap,
            "-Y",
            "tcp.srcport == 4444 && tcp.flags.reset == 1 && tcp.flags.ack == 1",
        ])
        .output()
        .expect("run tshark");
    let lines = String::from_utf8_lossy(&rst.stdout).lines().count();
    assert!(
        lines >= 1,
        "no RST+ACK from port 4444:\n{err}\n{}",
        tshark_summary(lab.pcap.as_ref().expect("pcap"), 10)
    );
}
