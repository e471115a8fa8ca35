//! More real-TUN TCP interop with the Linux kernel, each test in its own namespace: the kernel
//! with SACK / timestamps / window scaling / ECN switched by per-namespace sysctls, small and
//! jumbo MTUs, zero windows both ways, urgent data, kernel RSTs, TIME-WAIT reuse, chargen and
//! discard, and `tunstack connect` to a closed port. Without root: SKIPPED, loudly.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/tcp_tun.rs"]
mod tcp_tun;

use std::time::Duration;

use netns::{Netns, tunstack_bin};
use tcp_tun::*;

fn sysctl(ns: &Netns, kv: &str) {
    let o = ns.exec(&["sysctl", "-q", "-w", kv]);
    assert!(o.status.success(), "sysctl {kv}: {}", text(&o));
}

/// Echo `n` seeded bytes through the lab with the python client; panics with diagnostics.
fn echo_roundtrip(lab: &Lab, seed: u64, n: usize, secs: u32) {
    let data = seeded_bytes(seed, n);
    let inp = TempFile::with(&lab.ns, &format!("in{seed}"), &data);
    let out = TempFile::new(&lab.ns, &format!("out{seed}"));
    let o = python(
        &lab.ns,
        secs,
        PY_ECHO_CLIENT,
        &[STACK_ADDR, "7", inp.path(), out.path()],
    );
    let ctx = || format!("{}\n{}", text(&o), lab.diagnose(12));
    assert!(o.status.success(), "echo client: {}", ctx());
    assert_same("echo", &data, &out.read(), &ctx);
}

/// The kernel's SYN and our SYN-ACK from the capture, as "sack ts ws" flags (1 = present).
fn syn_options(pcap: &std::path::Path, syn_ack: bool) -> Vec<String> {
    let filter = format!(
        "tcp.flags.syn == 1 && tcp.flags.ack == {}",
        u8::from(syn_ack)
    );
    tshark_fields(
        pcap,
        &filter,
        &[
            "tcp.options.sack_perm",
            "tcp.options.timestamp.tsval",
            "tcp.options.wscale.shift",
        ],
    )
}

/// With the kernel's SACK, timestamps and window scaling off (each, then all), the handshake
/// negotiates only what both offered (RFC 7323 §2.2, §3.2; RFC 2018 §2) and data flows through
/// 1% loss (recovery without SACK, RTT without timestamps).
#[test]
fn tun_tcp_kernel_options_switched_off() {
    let variants: [(&str, &[&str]); 4] = [
        ("tcp-nosack", &["net.ipv4.tcp_sack=0"]),
        ("tcp-nots", &["net.ipv4.tcp_timestamps=0"]),
        ("tcp-nows", &["net.ipv4.tcp_window_scaling=0"]),
        (
            "tcp-noopt",
            &[
                "net.ipv4.tcp_sack=0",
                "net.ipv4.tcp_timestamps=0",
                "net.ipv4.tcp_window_scaling=0",
            ],
        ),
    ];
    for (i, (purpose, knobs)) in variants.iter().enumerate() {
        let Some(lab) = Lab::up_with_pcap(
            purpose,
            &["--serve", "echo", "--loss", "1%"],
            &["python3", "tshark"],
        ) else {
            return;
        };
        for kv in *knobs {
            sysctl(&lab.ns, kv);
        }
        echo_roundtrip(&lab, 100 + i as u64, size(4 << 20, 1 << 20), 90);
        let (stderr, _) = lab.stop();
        let pcap = lab.pcap.as_ref().expect("pcap");
        let syn = syn_options(pcap, false);
        let synack = syn_options(pcap, true);
        let off = |k: &str| knobs.iter().any(|kv| kv.contains(k));
        // Fields: sack_perm, tsval, wscale shift; "" when the option is absent.
        for (lines, who) in [(&syn, "kernel SYN"), (&synack, "our SYN-ACK")] {
            assert!(!lines.is_empty(), "{purpose}: no {who} in the capture");
            for l in lines {
                let f: Vec<&str> = l.split('\t').collect();
                let has = |j: usize| f.get(j).is_some_and(|v| !v.is_empty());
                assert_eq!(
                    has(0),
                    !off("sack"),
                    "{purpose}: {who} SACK-permitted: {l:?}"
                );
                assert_eq!(
                    has(1),
                    !off("timestamps"),
                    "{purpose}: {who} timestamps: {l:?}"
                );
                assert_eq!(
                    has(2),
                    !off("window_scaling"),
                    "{purpose}: {who} window scale: {l:?}"
                );
            }
        }
        if off("timestamps") {
            // RFC 7323 §3.2: without a negotiated option, no segment carries timestamps.
            let ts = tshark_fields(pcap, "tcp.options.timestamp.tsval", &["frame.number"]);
            assert!(
                ts.is_empty(),
                "{purpose}: timestamps sent: {ts:?}\n{stderr}"
            );
        }
        if off("sack") {
            let sack = tshark_fields(pcap, "tcp.options.sack_le", &["frame.number"]);
            assert!(sack.is_empty(), "{purpose}: SACK blocks sent: {sack:?}");
        }
    }
}

/// The kernel asks for ECN in its SYN (tcp_ecn=1); we do not do ECN, so our SYN-ACK must not
/// agree (RFC 3168 §6.1.1: no ECE) and the kernel must then send only Not-ECT packets.
#[test]
fn tun_tcp_kernel_ecn_request_declined() {
    let Some(lab) = Lab::up_with_pcap("tcp-ecn", &["--serve", "echo"], &["python3", "tshark"])
    else {
        return;
    };
    sysctl(&lab.ns, "net.ipv4.tcp_ecn=1");
    echo_roundtrip(&lab, 200, size(1 << 20, 256 << 10), 60);
    lab.stop();
    let pcap = lab.pcap.as_ref().expect("pcap");
    let syn = tshark_fields(
        pcap,
        "tcp.flags.syn == 1 && tcp.flags.ack == 0",
        &["tcp.flags.ece", "tcp.flags.cwr"],
    );
    assert!(
        syn.iter().any(|l| l == "1\t1" || l == "True\tTrue"),
        "the kernel SYN did not ask for ECN: {syn:?}"
    );
    let synack = tshark_fields(
        pcap,
        "tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.flags.ece == 1",
        &["frame.number"],
    );
    assert!(synack.is_empty(), "our SYN-ACK set ECE: {synack:?}");
    let ect = tshark_fields(pcap, "ip.dsfield.ecn != 0", &["frame.number", "ip.src"]);
    assert!(ect.is_empty(), "ECT/CE-marked packets: {ect:?}");
}

/// Tiny (128: 76-byte payloads beside timestamps), small (576) and jumbo (9000) MTUs: the MSS follows the MTU (RFC 9293 §3.7.1), no IP packet
/// exceeds it either way, and the jumbo link carries segments larger than 1500.
#[test]
fn tun_tcp_small_and_jumbo_mtu() {
    for (mtu, purpose) in [
        (128usize, "tcp-mtu128"),
        (576, "tcp-mtu576"),
        (9000, "tcp-mtu9000"),
    ] {
        let m = mtu.to_string();
        let Some(lab) = Lab::up_with_pcap(
            purpose,
            &["--serve", "echo", "--mtu", &m],
            &["python3", "tshark"],
        ) else {
            return;
        };
        let n = if mtu < 500 {
            100 << 10
        } else {
            size(2 << 20, 512 << 10)
        };
        echo_roundtrip(&lab, mtu as u64, n, 60);
        lab.stop();
        let pcap = lab.pcap.as_ref().expect("pcap");
        let lens: Vec<(String, usize)> = tshark_fields(pcap, "ip", &["ip.src", "ip.len"])
            .iter()
            .filter_map(|l| {
                let (src, len) = l.split_once('\t')?;
                Some((src.to_string(), len.parse().ok()?))
            })
            .collect();
        for who in [KERNEL_ADDR, STACK_ADDR] {
            let max = lens
                .iter()
                .filter(|(s, _)| s == who)
                .map(|&(_, l)| l)
                .max()
                .unwrap_or(0);
            assert!(max <= mtu, "mtu {mtu}: {who} sent a {max}-byte packet");
            assert!(
                max > mtu - 100,
                "mtu {mtu}: {who}'s largest packet is only {max} bytes"
            );
        }
        // Our SYN-ACK offers MTU - 40. (Linux never offers less than 256, its min_adv_mss,
        // so at MTU 128 only our side's limit keeps its segments small.)
        let mss = tshark_fields(
            pcap,
            &format!("ip.src == {STACK_ADDR} && tcp.flags.syn == 1"),
            &["tcp.options.mss_val"],
        );
        assert_eq!(
            mss,
            vec![(mtu - 40).to_string()],
            "mtu {mtu}: our MSS option"
        );
    }
}

/// The kernel stops reading (its window closes) while sending to us (our window closes, since
/// echo cannot write back): both sides advertise zero windows, we probe the kernel's (RFC 9293
/// §3.8.6.1), and after 3 s everything flows again, intact.
#[test]
fn tun_tcp_zero_window_both_ways() {
    let Some(lab) = Lab::up_with_pcap("tcp-zerowin", &["--serve", "echo"], &["python3", "tshark"])
    else {
        return;
    };
    let o = python(&lab.ns, 60, PY_SCENARIO, &[STACK_ADDR, "7", "zerowin"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("zerowin same 2097152"),
        "{}\n{}",
        text(&o),
        lab.diagnose(12)
    );
    let (stderr, _) = lab.stop();
    let pcap = lab.pcap.as_ref().expect("pcap");
    for who in [KERNEL_ADDR, STACK_ADDR] {
        let zw = tshark_fields(
            pcap,
            &format!("ip.src == {who} && tcp.window_size_value == 0 && tcp.flags.syn == 0"),
            &["frame.number"],
        );
        assert!(!zw.is_empty(), "{who} never advertised a zero window");
    }
    let probes = report_counter(&stderr, "window_probes");
    assert!(
        probes.is_some_and(|p| p >= 1),
        "no zero-window probe from us in 3 s: {probes:?}\n{stderr}"
    );
}

/// Urgent data (MSG_OOB) from the kernel is delivered inline, in order (RFC 6093 §4-5).
#[test]
fn tun_tcp_urgent_byte_inline() {
    let Some(lab) = Lab::up("tcp-urg", &["--serve", "echo"], &["python3"]) else {
        return;
    };
    let o = python(&lab.ns, 30, PY_SCENARIO, &[STACK_ADDR, "7", "urgent"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "urgent b'abc!def'",
        "{}\n{}",
        text(&o),
        lab.diagnose(20)
    );
}

/// Kernel RSTs (SO_LINGER 0) on 20 echo connections after data and 20 right after connect: each is torn down (RFC 9293 §3.10.7.4),
/// no connection is left behind, and the service keeps serving.
#[test]
fn tun_tcp_kernel_resets_leave_nothing_behind() {
    let Some(lab) = Lab::up("tcp-krst", &["--serve", "echo"], &["python3"]) else {
        return;
    };
    let o = python(&lab.ns, 60, PY_SCENARIO, &[STACK_ADDR, "7", "rst", "20"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("rst done"),
        "{}",
        text(&o)
    );
    // And 20 that reset at once, while ours may still sit in the accept queue.
    let o = python(
        &lab.ns,
        60,
        PY_SCENARIO,
        &[STACK_ADDR, "7", "rst-now", "20"],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("rst done"),
        "{}",
        text(&o)
    );
    let o = python(&lab.ns, 30, PY_SCENARIO, &[STACK_ADDR, "7", "urgent"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("abc!def"),
        "echo after resets: {}",
        text(&o)
    );
    std::thread::sleep(Duration::from_millis(300));
    let (stderr, exited) = lab.stop();
    assert!(exited, "tunstack did not stop:\n{stderr}");
    assert!(
        report_counter(&stderr, "rst_received").is_some_and(|n| n >= 40),
        "{stderr}"
    );
    assert!(
        stderr.contains("connections: 0\n"),
        "connections left after resets and a closed echo:\n{stderr}"
    );
}

/// Three HTTP requests from the same kernel port 40000 where our server closes first: each new
/// SYN finds the previous connection in TIME-WAIT and must open a new one (RFC 9293 §3.10.7.4,
/// RFC 6191), as Linux clients expect.
#[test]
fn tun_tcp_time_wait_reuse_by_kernel() {
    let Some(lab) = Lab::up("tcp-twreuse", &["--serve", "http"], &["python3"]) else {
        return;
    };
    let o = python(
        &lab.ns,
        60,
        PY_SCENARIO,
        &[STACK_ADDR, "80", "twreuse", "3"],
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let (stderr, _) = lab.stop();
    for i in 0..3 {
        assert!(
            out.contains(&format!("twreuse {i} ")) && !out.contains("BAD"),
            "{}\n{stderr}",
            text(&o)
        );
    }
    // The last one is still in TIME-WAIT on our side (MSL 2 min): the scenario really met it.
    assert!(
        stderr.contains(&format!("-> {KERNEL_ADDR}:40000 TIME-WAIT")),
        "{stderr}"
    );
}

/// RFC 864 chargen as the kernel reads it: 72-character lines of the 95 printable characters,
/// each starting one later, CRLF-terminated.
fn chargen_expected(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 74);
    let mut line = 0usize;
    while out.len() < n {
        for j in 0..72 {
            out.push(b' ' + ((line + j) % 95) as u8);
        }
        out.extend_from_slice(b"\r\n");
        line += 1;
    }
    out.truncate(n);
    out
}

/// chargen (RFC 864) content is right and survives the reader closing with data unread (the
/// kernel sends RST); discard (RFC 863) swallows 5 MB and closes after our FIN-to-FIN.
#[test]
fn tun_tcp_chargen_and_discard() {
    let Some(lab) = Lab::up("tcp-chargen", &["--serve", "chargen,discard"], &["python3"]) else {
        return;
    };
    for round in 0..2 {
        let n = 200_000;
        let o = python(
            &lab.ns,
            30,
            PY_SCENARIO,
            &[STACK_ADDR, "19", "read", "200000"],
        );
        assert!(o.status.success(), "round {round}: {}", text(&o));
        assert_same(
            &format!("chargen round {round}"),
            &chargen_expected(n),
            &o.stdout,
            &|| lab.diagnose(0),
        );
    }
    let n = size(5 << 20, 1 << 20).to_string();
    let o = python(&lab.ns, 60, PY_SCENARIO, &[STACK_ADDR, "9", "discard", &n]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(" eof"),
        "{}\n{}",
        text(&o),
        lab.diagnose(0)
    );
}

/// `tunstack connect` to a kernel port nobody listens on: the kernel's RST is ECONNREFUSED,
/// reported with a non-zero exit status, quickly (no retries until the timeout).
#[test]
fn tun_tcp_connect_refused_by_kernel() {
    if !root_or_skip("tcp-connrefused") {
        return;
    }
    let Some(ns) = Netns::new("tcp-connrefused") else {
        return;
    };
    let o = ns.exec(&[
        "timeout",
        "30",
        tunstack_bin(),
        "connect",
        &format!("{KERNEL_ADDR}:9"),
        "--timeout",
        "20s",
    ]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

/// The kernel advertises MSS 300 (route `advmss`): we never send a segment with more than 300
/// bytes of payload (RFC 9293 §3.7.1) yet do fill segments to it, and the echo is intact.
#[test]
fn tun_tcp_peer_mss_respected() {
    let Some(lab) = Lab::up_with_pcap("tcp-peermss", &["--serve", "echo"], &["python3", "tshark"])
    else {
        return;
    };
    let o = lab.ns.exec(&[
        "ip",
        "route",
        "change",
        "198.18.0.0/24",
        "dev",
        "tunstack0",
        "proto",
        "kernel",
        "scope",
        "link",
        "src",
        KERNEL_ADDR,
        "advmss",
        "300",
    ]);
    assert!(o.status.success(), "ip route change: {}", text(&o));
    echo_roundtrip(&lab, 300, size(1 << 20, 256 << 10), 60);
    lab.stop();
    let pcap = lab.pcap.as_ref().expect("pcap");
    let mss = tshark_fields(
        pcap,
        &format!("ip.src == {KERNEL_ADDR} && tcp.flags.syn == 1"),
        &["tcp.options.mss_val"],
    );
    assert_eq!(mss, vec!["300".to_string()], "the kernel's SYN MSS");
    let big = tshark_fields(
        pcap,
        &format!("ip.src == {STACK_ADDR} && tcp.len > 300"),
        &["frame.number", "tcp.len"],
    );
    assert!(
        big.is_empty(),
        "segments above the peer's MSS: {:?}",
        &big[..big.len().min(5)]
    );
    // RFC 9293 §3.7.1: options count against the MSS, so with timestamps (12 bytes) a full
    // segment carries 288 bytes.
    let full = tshark_fields(
        pcap,
        &format!("ip.src == {STACK_ADDR} && tcp.len >= 288"),
        &["frame.number"],
    );
    assert!(!full.is_empty(), "no full-sized segment from us");
}

/// A kernel with a 1 GiB receive buffer limit offers window scale 14 (the RFC 7323 §2.3
/// maximum); windows are scaled right both ways and a transfer is intact.
#[test]
fn tun_tcp_kernel_window_scale_14() {
    let Some(lab) = Lab::up_with_pcap("tcp-ws14", &["--serve", "echo"], &["python3", "tshark"])
    else {
        return;
    };
    sysctl(&lab.ns, "net.ipv4.tcp_rmem=4096 131072 1073741824");
    echo_roundtrip(&lab, 14, size(4 << 20, 1 << 20), 60);
    lab.stop();
    let pcap = lab.pcap.as_ref().expect("pcap");
    let ws = tshark_fields(
        pcap,
        &format!("ip.src == {KERNEL_ADDR} && tcp.flags.syn == 1"),
        &["tcp.options.wscale.shift"],
    );
    assert_eq!(ws, vec!["14".to_string()], "the kernel's SYN window scale");
}

/// The other congestion controllers (`--cc reno`, `--cc none`) also carry a transfer through
/// 1% loss and 5 ms delay to and from the kernel intact.
#[test]
fn tun_tcp_other_congestion_controllers() {
    for cc in ["reno", "none"] {
        let purpose = format!("tcp-cc-{cc}");
        let Some(lab) = Lab::up(
            &purpose,
            &[
                "--serve", "echo", "--cc", cc, "--loss", "1%", "--delay", "5ms",
            ],
            &["python3"],
        ) else {
            return;
        };
        echo_roundtrip(&lab, 400, size(2 << 20, 512 << 10), 90);
        let (stderr, _) = lab.stop();
        assert!(
            report_counter(&stderr, "retransmits").is_some_and(|r| r > 0),
            "--cc {cc}: 1% loss but no retransmission?\n{stderr}"
        );
    }
}

/// The kernel server resets the connection after its first echo: `tunstack connect` reports
/// the reset and exits 1 (it must neither hang nor claim success).
#[test]
fn tun_tcp_connect_reset_by_kernel() {
    if !root_or_skip("tcp-connrst") || !netns::have_tool("tcp-connrst", "python3") {
        return;
    }
    let Some(mut ns) = Netns::new("tcp-connrst") else {
        return;
    };
    let ready = temp_path(&ns, "ready");
    let _server = spawn_python(
        &mut ns,
        60,
        PY_ECHO_SERVER,
        &["9500", ready.to_str().expect("path"), "reset-after-first"],
    );
    assert!(wait_for_file(&ready, Duration::from_secs(10)), "server");
    let _ = std::fs::remove_file(&ready);
    let input = TempFile::with(&ns, "in", b"hello\n");
    let mut cmd = ns.command("timeout");
    cmd.args([
        "30",
        tunstack_bin(),
        "connect",
        &format!("{KERNEL_ADDR}:9500"),
    ])
    .stdin(std::fs::File::open(&input.0).expect("open"))
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let client = ns.spawn(&mut cmd);
    let o = wait_output(client, Duration::from_secs(40)).expect("tunstack connect hung");
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(err.contains("reset"), "{}", text(&o));
}

/// On a clean link, Wireshark's expert analysis of our capture (checksums verified) finds no
/// warning or error other than flow control (zero window / window full): no bad checksum, no
/// segment acknowledged before it was sent, no out-of-order or missing segment, no malformed
/// packet, in a download, an upload and an echo.
#[test]
fn tun_tcp_clean_capture_expert_info() {
    let Some(lab) = Lab::up_with_pcap(
        "tcp-expert",
        &["--serve", "http,echo"],
        &["python3", "curl", "tshark"],
    ) else {
        return;
    };
    let n = size(5_000_000, 2_000_000);
    let o = lab.ns.exec(&[
        "timeout",
        "60",
        "curl",
        "-sS",
        "--fail",
        "-o",
        "/dev/null",
        &format!("http://{STACK_ADDR}/bytes/{n}"),
    ]);
    assert!(o.status.success(), "download: {}", text(&o));
    let body = TempFile::with(&lab.ns, "up", &seeded_bytes(77, 1 << 20));
    let o = lab.ns.exec(&[
        "timeout",
        "60",
        "curl",
        "-sS",
        "--fail",
        "--data-binary",
        &format!("@{}", body.path()),
        &format!("http://{STACK_ADDR}/sink"),
    ]);
    assert!(o.status.success(), "upload: {}", text(&o));
    echo_roundtrip(&lab, 78, 1 << 20, 60);
    let (stderr, _) = lab.stop();
    let pcap = lab.pcap.as_ref().expect("pcap");
    let o = std::process::Command::new("timeout")
        .args(["60", "tshark", "-n", "-r"])
        .arg(pcap)
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            // A D-SACK (RFC 2883) is our correct report of a duplicate the kernel sent (its
            // tail loss probe when our delayed ACK is slower than its PTO), not a fault.
            "_ws.expert.severity >= \"Warning\" && !tcp.analysis.window_full \
             && !tcp.analysis.zero_window && !tcp.options.sack.dsack",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "ip.src",
            "-e",
            "_ws.expert.message",
        ])
        .output()
        .expect("run tshark");
    assert!(o.status.success(), "tshark: {}", text(&o));
    let bad: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        bad.is_empty(),
        "{} packets with expert warnings, first: {:#?}\n{}\n{stderr}",
        bad.len(),
        &bad[..bad.len().min(10)],
        tshark_summary(pcap, 5)
    );
    // And the analysis did run: the capture holds the three connections' handshakes.
    let syns = tshark_fields(
        pcap,
        "tcp.flags.syn == 1 && tcp.flags.ack == 0",
        &["frame.number"],
    );
    assert_eq!(syns.len(), 3, "SYNs in the capture");
}

/// A kernel client that never reads fills both directions (our echo service is blocked writing),
/// then resets: the blocked writer must be woken with the error and the connection freed
/// (RFC 9293 §3.10.7.4: a RST aborts pending SENDs); the service keeps serving.
#[test]
fn tun_tcp_kernel_reset_wakes_blocked_writer() {
    let Some(lab) = Lab::up("tcp-rstblocked", &["--serve", "echo"], &["python3"]) else {
        return;
    };
    let o = python(&lab.ns, 60, PY_SCENARIO, &[STACK_ADDR, "7", "rst-blocked"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("rst-blocked sent"), "{}", text(&o));
    let o = python(&lab.ns, 30, PY_SCENARIO, &[STACK_ADDR, "7", "urgent"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("abc!def"),
        "echo after the reset: {}\n{}",
        text(&o),
        lab.diagnose(10)
    );
    std::thread::sleep(Duration::from_millis(300));
    let (stderr, _) = lab.stop();
    assert!(
        stderr.contains("connections: 0\n"),
        "the reset connection is still there:\n{stderr}"
    );
}
