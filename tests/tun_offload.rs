//! TUN offloads (`tunstack up --offload on`, src/runtime/offload.rs): the kernel's TCP and ours
//! exchange 64 KiB super-segments through the TUN device, each test in its own namespace.
//! Without root: "SKIPPED: needs root for TUN/netns". Sizes are reduced in debug builds.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/tcp_tun.rs"]
mod tcp_tun;

use tcp_tun::*;

/// The number after `label` in tunstack's report (`offload: N super-segments written`).
fn number_before(report: &str, label: &str) -> Option<u64> {
    let at = report.find(label)?;
    report[..at]
        .split_whitespace()
        .last()
        .and_then(|w| w.parse().ok())
}

/// The number right after `label` (`link: ... wrote N packets`).
fn number_after(report: &str, label: &str) -> Option<u64> {
    let at = report.find(label)? + label.len();
    report[at..].split_whitespace().next()?.parse().ok()
}

/// Kernel client → our echo service with offloads on: the bytes go up as the kernel's
/// super-segments and come back as ours, intact (SHA-256 equal), with few retransmissions.
#[test]
fn tun_offload_echo_both_ways_sha_equal() {
    let Some(lab) = Lab::up(
        "offload-echo",
        &["--serve", "echo", "--offload", "on"],
        &["python3"],
    ) else {
        return;
    };
    assert!(
        lab.stderr().contains("offloads on"),
        "the banner should say offloads are on:\n{}",
        lab.stderr()
    );
    let n = size(16 << 20, 4 << 20);
    let data = seeded_bytes(71, n);
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
    assert_same("echo round trip with offloads", &data, &got, &ctx);
    assert_eq!(sha256sum_file(inp.path()), sha256sum_file(out.path()));
    let k_out = kernel_counter(&lab.ns, "TcpOutSegs").expect("nstat TcpOutSegs");
    let k_re = kernel_counter(&lab.ns, "TcpRetransSegs").expect("nstat TcpRetransSegs");
    let (report, _) = lab.stop();
    // Our echo answers in super-segments: far fewer writes than MSS-sized segments.
    let supers = number_before(&report, "super-segments written").unwrap_or(0);
    let written = number_after(&report, "wrote ").unwrap_or(u64::MAX);
    assert!(
        supers > 0 && written < (n / 1448) as u64,
        "expected super-segments ({supers}) and fewer writes ({written}) than segments:\n{report}"
    );
    assert_eq!(
        number_before(&report, "packets with a malformed vnet header"),
        Some(0),
        "{report}"
    );
    assert!(
        k_re * 100 <= k_out.max(100),
        "clean link: the kernel retransmitted {k_re} of {k_out} segments\n{report}"
    );
}

/// A capture sees packets as they are on the wire: with --pcap, offloads are turned off (and
/// tunstack says so), so no recorded packet is larger than the MTU.
#[test]
fn tun_offload_is_off_under_a_capture() {
    let Some(lab) = Lab::up_with_pcap(
        "offload-pcap",
        &["--serve", "echo", "--offload", "on"],
        &["python3", "tshark"],
    ) else {
        return;
    };
    let err = lab.stderr();
    assert!(
        err.contains("offloads off") && !err.contains("offloads on"),
        "{err}"
    );
    let data = seeded_bytes(72, 512 << 10);
    let inp = TempFile::with(&lab.ns, "echo.in", &data);
    let out = TempFile::new(&lab.ns, "echo.out");
    let o = python(
        &lab.ns,
        60,
        PY_ECHO_CLIENT,
        &[STACK_ADDR, "7", inp.path(), out.path()],
    );
    let ctx = || format!("{}\n{}", text(&o), lab.diagnose(0));
    assert!(o.status.success(), "echo client failed: {}", ctx());
    assert_same("echo under a capture", &data, &out.read(), &ctx);
    let (report, _) = lab.stop();
    let pcap = lab.pcap.clone().expect("a capture");
    let lens: Vec<u64> = tshark_fields(&pcap, "tcp", &["frame.len"])
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(lens.len() > 300, "too few packets captured:\n{report}");
    let max = lens.iter().max().copied().unwrap_or(0);
    assert!(max <= 1500, "a {max}-byte packet in the capture:\n{report}");
    assert_eq!(number_before(&report, "super-segments written"), None);
}
