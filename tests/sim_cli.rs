//! `tunstack sim` end to end: byte-identical output for a seed, a summary that matches the trace,
//! pcapng files tshark reads with our comments, and Wireshark's own analysis agreeing with ours.

mod obs_util;

use std::path::{Path, PathBuf};
use std::process::Command;

use obs_util::{scratch, tshark, tshark_count};
use tunstack::trace::json::{self, Value};

fn sim(dir: &Path, args: &[&str]) -> (String, PathBuf, PathBuf) {
    let (pcap, trace) = (dir.join("run.pcapng"), dir.join("run.jsonl"));
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .arg("sim")
        .args(args)
        .arg("--pcap")
        .arg(&pcap)
        .arg("--trace")
        .arg(&trace)
        .output()
        .expect("tunstack runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (stdout, pcap, trace)
}

fn trace(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("trace")
        .lines()
        .map(|l| json::parse(l).expect("every line is JSON"))
        .collect()
}

fn count(t: &[Value], f: impl Fn(&Value) -> bool) -> usize {
    t.iter().filter(|v| f(v)).count()
}

fn is(v: &Value, host: &str, ev: &str) -> bool {
    v.str("host") == Some(host) && v.str("ev") == Some(ev)
}

/// The number after `key` in the summary line starting with `line`.
fn number(summary: &str, line: &str, key: &str) -> usize {
    let l = summary
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no {line:?} line in {summary}"));
    let rest = &l[l.find(key).unwrap_or_else(|| panic!("{key:?} in {l}")) + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("{key:?} in {l}"))
}

const LOSSY: &[&str] = &[
    "--bytes",
    "300kb",
    "--rtt",
    "40ms",
    "--rate",
    "20mbit",
    "--loss",
    "1%",
    "--reorder",
    "1%",
    "--duplicate",
    "1%",
    "--corrupt",
    "0.5%",
    "--seed",
    "7",
];

#[test]
fn same_seed_gives_identical_files() {
    let (a, b) = (scratch("sim_det_a"), scratch("sim_det_b"));
    let mut args = LOSSY.to_vec();
    args.extend(["--plot", "plots"]);
    let run = |d: &Path| {
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let last = args.len() - 1;
        args[last] = d.join("plots").display().to_string();
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        sim(d, &a)
    };
    let (sa, pa, ta) = run(&a);
    let (sb, pb, tb) = run(&b);
    assert_eq!(
        sa.replace(a.to_str().unwrap(), ""),
        sb.replace(b.to_str().unwrap(), "")
    );
    let read = |p: &Path| std::fs::read(p).expect("file");
    assert_eq!(read(&pa), read(&pb), "pcapng differs");
    assert_eq!(read(&ta), read(&tb), "trace differs");
    for f in ["time-sequence.svg", "cwnd.svg", "rtt.svg"] {
        assert_eq!(
            read(&a.join("plots").join(f)),
            read(&b.join("plots").join(f)),
            "{f}"
        );
    }
    // Something random did happen, and another seed changes it.
    assert!(number(&sa, "client", "retransmissions") > 0, "{sa}");
    let c = scratch("sim_det_c");
    let mut other = LOSSY.to_vec();
    let n = other.len();
    other[n - 1] = "8";
    let (_, _, tc) = sim(&c, &other);
    assert_ne!(read(&ta), read(&tc));
}

#[test]
fn summary_agrees_with_the_trace() {
    let d = scratch("sim_summary");
    let (s, _, t) = sim(&d, LOSSY);
    let t = trace(&t);
    let sends = |host: &str| count(&t, |v| is(v, host, "send"));
    assert_eq!(number(&s, "client", "sent"), sends("client"));
    assert_eq!(number(&s, "server", "sent"), sends("server"));
    let data = count(&t, |v| is(v, "client", "send") && v.num("len") > Some(0.0));
    assert_eq!(number(&s, "client", "segments ("), data);
    let rexmit = count(&t, |v| {
        is(v, "client", "send") && v.bool("rexmit") == Some(true)
    });
    assert!(rexmit > 0);
    assert_eq!(number(&s, "client", "retransmissions"), rexmit);
    let cause = |c: &str| count(&t, |v| is(v, "client", "send") && v.str("cause") == Some(c));
    let timer = cause("rto") + cause("syn_retransmit") + cause("synack_retransmit");
    assert_eq!(number(&s, "client", "(RTO"), timer);
    assert_eq!(number(&s, "client", "fast"), cause("fast_retransmit"));
    let dup = count(&t, |v| {
        is(v, "client", "recv") && v.bool("dup_ack") == Some(true)
    });
    assert_eq!(number(&s, "client", "dupACKs received"), dup);
    assert_eq!(
        number(&s, "server", "drops"),
        count(&t, |v| is(v, "server", "drop"))
    );
    assert_eq!(
        number(&s, "rtt (client)", "ms ("),
        count(&t, |v| is(v, "client", "rtt"))
    );
    // Goodput: bytes over the time the last byte arrived.
    assert_eq!(number(&s, "result", "completed:"), 300 * 1024);
}

#[test]
fn tshark_reads_our_pcapng_and_sees_every_comment() {
    let Some(_) = tshark() else { return };
    let d = scratch("sim_tshark");
    let (_, pcap, t) = sim(&d, LOSSY);
    let t = trace(&t);
    let frames = tshark_count(&pcap, "frame");
    let client_out = count(&t, |v| is(v, "client", "send"));
    let client_in = count(&t, |v| is(v, "client", "recv"));
    assert_eq!(frames, client_out + client_in);
    assert_eq!(
        tshark_count(&pcap, "ip.src==198.18.0.1 && frame.comment"),
        client_out
    );
    assert_eq!(
        tshark_count(&pcap, "ip.src==198.18.0.1 && !frame.comment"),
        0
    );
    // What the server sent carries the server's reason.
    assert_eq!(
        tshark_count(
            &pcap,
            "ip.src==198.18.0.2 && frame.comment contains \"server: \""
        ),
        client_in
    );
    assert!(tshark_count(&pcap, "frame.comment contains \"state=ESTABLISHED cwnd=\"") > 0);
}

/// (tshark retransmissions, fast retransmissions, dupACKs, RTO comments) and ours.
fn analysis(name: &str, args: &[&str]) -> ([usize; 4], [usize; 4]) {
    let d = scratch(name);
    let (_, pcap, t) = sim(&d, args);
    let t = trace(&t);
    // One tshark pass: source, the three analysis flags (FT_NONE fields print "1"), comment.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-T", "fields", "-E", "occurrence=f", "-e", "ip.src"])
        .args([
            "-e",
            "tcp.analysis.retransmission",
            "-e",
            "tcp.analysis.fast_retransmission",
        ])
        .args(["-e", "tcp.analysis.duplicate_ack", "-e", "frame.comment"])
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    fn col<'a>(r: &[&'a str], i: usize) -> &'a str {
        r.get(i).copied().unwrap_or("")
    }
    let from = |r: &[&str], ip: &str| col(r, 0) == ip;
    let ws = [
        rows.iter()
            .filter(|r| from(r, "198.18.0.1") && (!col(r, 1).is_empty() || !col(r, 2).is_empty()))
            .count(),
        rows.iter()
            .filter(|r| from(r, "198.18.0.1") && !col(r, 2).is_empty())
            .count(),
        rows.iter()
            .filter(|r| from(r, "198.18.0.2") && !col(r, 3).is_empty())
            .count(),
        rows.iter().filter(|r| col(r, 4).contains("RTO")).count(),
    ];
    let cause = |c: &str| count(&t, |v| is(v, "client", "send") && v.str("cause") == Some(c));
    let ours = [
        count(&t, |v| {
            is(v, "client", "send") && v.bool("rexmit") == Some(true)
        }),
        cause("fast_retransmit"),
        count(&t, |v| {
            is(v, "client", "recv") && v.bool("dup_ack") == Some(true)
        }),
        // A SYN retransmission is also the retransmission timer's doing.
        cause("rto") + cause("syn_retransmit"),
    ];
    (ws, ours)
}

#[test]
fn wireshark_analysis_agrees_with_our_trace_for_scripted_loss() {
    let Some(_) = tshark() else { return };
    let base = ["--rtt", "50ms", "--rate", "10mbit"];
    for (name, bytes, rules) in [
        ("ws_one_loss", "50kb", vec!["drop data#30"]),
        (
            "ws_two_losses",
            "100kb",
            vec!["drop data#10", "drop data#40"],
        ),
        ("ws_rto", "100kb", vec!["drop seq=30000 count=4"]),
        ("ws_syn", "20kb", vec!["drop syn"]),
    ] {
        let mut args = base.to_vec();
        args.extend(["--bytes", bytes]);
        for r in &rules {
            args.extend(["--impair", r]);
        }
        let (ws, ours) = analysis(name, &args);
        let what = "[retransmissions, fast, dupACKs, RTO] tshark vs trace";
        if name == "ws_rto" {
            // Wireshark calls every resend of the dupACKed segment "fast"; we call only the
            // first one fast and the repairs of the lost retransmissions SACK/RACK retransmits.
            assert_eq!(
                [ws[0], ws[2], ws[3]],
                [ours[0], ours[2], ours[3]],
                "{name}: {what}"
            );
            assert!(ws[1] >= ours[1] && ours[1] == 1, "{name}: {ws:?} {ours:?}");
        } else {
            assert_eq!(ws, ours, "{name}: {what}");
        }
        assert!(
            ours[0] + ours[3] > 0 || name == "ws_syn",
            "{name}: the loss was repaired"
        );
    }
}

#[test]
fn rto_comment_filter_finds_exactly_the_rto_retransmissions() {
    let Some(_) = tshark() else { return };
    let d = scratch("sim_rto_filter");
    let (_, pcap, t) = sim(
        &d,
        &[
            "--bytes",
            "100kb",
            "--rate",
            "10mbit",
            "--impair",
            "drop seq=30000 count=5",
        ],
    );
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args([
            "-Y",
            "frame.comment contains \"RTO\"",
            "-T",
            "fields",
            "-e",
            "tcp.seq",
            "-e",
            "frame.comment",
        ])
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let seqs: Vec<f64> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").parse().expect("seq"))
        .collect();
    let t = trace(&t);
    let ours: Vec<f64> = t
        .iter()
        .filter(|v| is(v, "client", "send") && v.str("cause") == Some("rto"))
        .filter_map(|v| v.num("seq"))
        .collect();
    assert_eq!(seqs, ours);
    assert_eq!(
        ours.len(),
        2,
        "the last two copies each wait for a timer: {text}"
    );
    assert!(
        text.contains("RTO #1 fired (rto=") && text.contains("RTO #2 fired (rto="),
        "{text}"
    );

    // After a timeout the sender goes back to SND.UNA: those retransmissions are not "RTO" ones.
    let d = scratch("sim_rto_goback");
    let (_, pcap, t) = sim(
        &d,
        &[
            "--bytes",
            "1mb",
            "--rate",
            "20mbit",
            "--impair",
            "drop seq=400000 count=5",
        ],
    );
    let t = trace(&t);
    let cause = |c: &str| count(&t, |v| is(v, "client", "send") && v.str("cause") == Some(c));
    assert!(cause("rto") > 0);
    assert_eq!(
        tshark_count(&pcap, "frame.comment contains \"RTO\""),
        cause("rto")
    );
    assert_eq!(
        tshark_count(&pcap, "frame.comment contains \"go-back-N\""),
        cause("goback_n")
    );
}

#[test]
fn bad_rules_and_options_exit_2() {
    for args in [
        vec!["--impair", "drop dat#3"],
        vec!["--sack", "off", "--recovery", "sack"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
            .arg("sim")
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("unknown selector") || err.contains("needs --sack on"),
            "{err}"
        );
    }
}

#[test]
fn smoltcp_on_either_side() {
    for (side, name) in [
        ("--client", "sim_smol_client"),
        ("--server", "sim_smol_server"),
    ] {
        let d = scratch(name);
        let args = [
            side,
            "smoltcp",
            "--bytes",
            "200kb",
            "--rate",
            "10mbit",
            "--impair",
            "drop data#20",
        ];
        let (s, pcap, t) = sim(&d, &args);
        assert!(s.contains("completed: 204800 bytes"), "{s}");
        let t = trace(&t);
        let smol_host = if side == "--client" {
            "client"
        } else {
            "server"
        };
        let ours_host = if side == "--client" {
            "server"
        } else {
            "client"
        };
        // The smoltcp side is seen on the wire only; ours still explains itself.
        assert!(
            count(&t, |v| is(v, smol_host, "send")
                && v.str("state") == Some("-"))
                > 0
        );
        assert_eq!(count(&t, |v| is(v, smol_host, "cwnd")), 0);
        assert!(count(&t, |v| is(v, ours_host, "state")) >= 3);
        if tshark().is_some() {
            assert!(tshark_count(&pcap, "frame.comment contains \"smoltcp: \"") > 0);
        }
        // Deterministic with smoltcp too.
        let d2 = scratch(&format!("{name}_again"));
        let (_, pcap2, t2) = sim(&d2, &args);
        assert_eq!(
            std::fs::read(&pcap).unwrap(),
            std::fs::read(&pcap2).unwrap()
        );
        let _ = t2;
    }
}

#[test]
fn a_server_that_never_saw_a_connection_says_so() {
    // Every SYN is lost: our server never opens a connection and the transfer fails (exit 1);
    // the summary says so (not "not visible from outside smoltcp", which is only for smoltcp).
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(["sim", "--bytes", "10kb", "--time-limit", "5s"])
        .args(["--impair", "blackhole c2s from 0 to 600s"])
        .output()
        .expect("tunstack runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("states server  (no connection was opened)"),
        "{text}"
    );
    let dir = scratch("sim-no-conn");
    let (out, _, _) = sim(&dir, &["--bytes", "10kb", "--server", "smoltcp"]);
    assert!(
        out.contains("states server  (not visible from outside smoltcp)"),
        "{out}"
    );
}
