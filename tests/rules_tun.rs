//! Scripted impairments and annotated captures on a real TUN (`tunstack up --impair ... --pcap`),
//! in a network namespace: the kernel's 5th data segment is dropped, Linux repairs it, the echo
//! comes back intact, and every packet our stack sent carries its cause in the capture.

mod common;

use std::time::Duration;

use common::netns::{Netns, have_tool};

#[test]
fn up_with_a_scripted_drop_and_an_annotated_capture() {
    let Some(mut ns) = Netns::new("rules") else {
        return;
    };
    if !have_tool("rules", "socat") || !have_tool("rules", "tshark") {
        return;
    }
    let pcap = std::env::temp_dir().join(format!("{}.pcapng", ns.name));
    let pcap_s = pcap.to_string_lossy().into_owned();
    let trace = std::env::temp_dir().join(format!("{}.jsonl", ns.name));
    let trace_s = trace.to_string_lossy().into_owned();
    let mut ts = ns.spawn_tunstack(&[
        "up",
        "--tun",
        "tsrules0",
        "--serve",
        "echo",
        "--pcap",
        &pcap_s,
        "--trace",
        &trace_s,
        "--impair",
        "drop data#5",
    ]);
    assert!(ts.wait_ready(Duration::from_secs(20)), "{}", ts.stderr());
    // 60 kB through the echo service; what comes back must be identical.
    let dir = std::env::temp_dir();
    let (sent, back) = (
        dir.join(format!("{}.sent", ns.name)),
        dir.join(format!("{}.back", ns.name)),
    );
    let data: Vec<u8> = (0..60_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&sent, &data).expect("write");
    let o = ns.sh(&format!(
        "timeout 60 socat -t 10 - TCP:198.18.0.2:7 < {} > {}",
        sent.display(),
        back.display()
    ));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read(&back).expect("echo") == data,
        "the echo differs"
    );
    ts.signal(libc::SIGTERM);
    assert!(ts.wait_exit(Duration::from_secs(10)).is_some());
    let err = ts.stderr();
    assert!(err.contains("drop data#5"), "the rule is reported: {err}");

    let count = |filter: &str| {
        let o = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
            .output()
            .expect("tshark");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).lines().count()
    };
    // The dropped segment never reached the stack, so the capture (taken at the stack) has a
    // hole that Wireshark notices, then the kernel's retransmission fills it.
    assert!(count("ip.src==198.18.0.1 && tcp.analysis.lost_segment") >= 1);
    // (On a link with microsecond RTTs Wireshark may call the repair "out-of-order".)
    assert!(
        count(
            "ip.src==198.18.0.1 && (tcp.analysis.retransmission || \
             tcp.analysis.fast_retransmission || tcp.analysis.out_of_order)"
        ) >= 1
    );
    // Every segment our stack sent says why.
    let ours = count("ip.src==198.18.0.2 && tcp");
    assert!(ours > 10);
    assert_eq!(count("ip.src==198.18.0.2 && tcp && frame.comment"), ours);
    assert!(count("frame.comment contains \"new data | state=\"") > 0);
    assert!(count("frame.comment contains \"SYN-ACK: passive open\"") == 1);
    // The decision trace of `up`: our stack's side of the connection, explained.
    let text = std::fs::read_to_string(&trace).expect("trace");
    let lines: Vec<tunstack::trace::json::Value> = text
        .lines()
        .map(|l| tunstack::trace::json::parse(l).expect("JSON"))
        .collect();
    let has = |ev: &str, key: &str, val: &str| {
        lines
            .iter()
            .any(|v| v.str("ev") == Some(ev) && v.str(key) == Some(val))
    };
    assert!(has("state", "to", "SYN-RECEIVED") && has("state", "to", "ESTABLISHED"));
    assert!(has("send", "cause", "synack") && has("send", "cause", "new_data"));
    assert!(lines.iter().all(|v| v.str("host") == Some("server")));
    let view = tunstack::plot::View {
        host: "server".into(),
        flow: 1,
        window: None,
    };
    let charts = tunstack::plot::charts_for(text.lines(), &view).expect("plots of up");
    assert_eq!(charts.len(), 3);
    for f in [&pcap, &sent, &back, &trace] {
        let _ = std::fs::remove_file(f);
    }
}
