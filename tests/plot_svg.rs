//! The plots are valid SVG and carry the series they promise, with data in them.

mod obs_util;

use std::process::Command;

use obs_util::{config, run, scratch};

fn trace_lines(rules: &[&str]) -> Vec<String> {
    let (out, c) = run(config(300_000, 40, Some(10_000_000), rules));
    assert!(out.completed);
    c.events.iter().map(|e| e.to_json()).collect()
}

/// (series name → number of points) of one SVG document; panics if it is not well-formed XML.
fn series(svg: &str) -> Vec<(String, usize)> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("series"))
        .map(|n| {
            let name = n.attribute("data-name").expect("name").to_string();
            let pts = n
                .attribute("data-points")
                .expect("points")
                .parse()
                .expect("n");
            // Whatever is drawn has coordinates that are numbers inside the canvas.
            for c in n.descendants().filter(|c| c.is_element()) {
                for a in ["cx", "cy"] {
                    if let Some(v) = c.attribute(a) {
                        let v: f64 = v.parse().expect("number");
                        assert!((0.0..=1280.0).contains(&v), "{name}: {a}={v}");
                    }
                }
            }
            (name, pts)
        })
        .collect()
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("xml");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect()
}

fn points(s: &[(String, usize)], name: &str) -> usize {
    s.iter()
        .find(|x| x.0 == name)
        .unwrap_or_else(|| panic!("no series {name:?} in {s:?}"))
        .1
}

#[test]
fn three_plots_with_their_series() {
    let lines = trace_lines(&["drop data#40", "drop seq=150000 count=2"]);
    let charts = tunstack::plot::charts(lines.iter().map(String::as_str), 1).expect("charts");
    let names: Vec<&str> = charts.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["time-sequence", "cwnd", "rtt"]);
    let svg: Vec<String> = charts.iter().map(|c| c.1.render()).collect();

    let seq = series(&svg[0]);
    assert!(points(&seq, "data segments") > 100);
    assert!(points(&seq, "ACK (cumulative)") > 50);
    assert!(points(&seq, "receive window edge") > 50);
    assert!(
        points(&seq, "SACK blocks") > 0,
        "a loss with SACK on shows blocks"
    );
    // Bars come in pairs: at least the two fast/timer retransmissions of the rules.
    assert!(points(&seq, "retransmissions") >= 2 * 3);
    let t = texts(&svg[0]);
    assert!(t.iter().any(|x| x == "time (s)"));
    assert!(
        t.iter()
            .any(|x| x.starts_with("relative sequence number ("))
    );

    let cw = series(&svg[1]);
    assert!(points(&cw, "cwnd") > 10);
    assert!(points(&cw, "ssthresh") > 0, "a loss sets ssthresh");
    assert!(points(&cw, "flight size") > 10);

    let rtt = series(&svg[2]);
    assert!(points(&rtt, "RTT sample") > 10);
    assert!(points(&rtt, "SRTT") > 10);
    assert!(points(&rtt, "RTO") > 10);
    assert!(texts(&svg[2]).iter().any(|x| x == "milliseconds"));
}

#[test]
fn zooming_keeps_only_the_window() {
    let lines = trace_lines(&["drop data#40"]);
    let all = tunstack::plot::charts(lines.iter().map(String::as_str), 1).expect("charts");
    let zoom = tunstack::plot::charts_in(lines.iter().map(String::as_str), 1, Some((0.2, 0.4)))
        .expect("charts");
    let n = |c: &[(String, tunstack::plot::svg::Chart)]| {
        points(&series(&c[0].1.render()), "data segments")
    };
    assert!(
        n(&zoom) > 0 && n(&zoom) < n(&all),
        "{} of {}",
        n(&zoom),
        n(&all)
    );
    let ticks = texts(&zoom[0].1.render());
    assert!(
        ticks.iter().any(|t| t == "0.30"),
        "time axis covers the window: {ticks:?}"
    );
    assert!(
        tunstack::plot::charts_in(lines.iter().map(String::as_str), 1, Some((500.0, 600.0)))
            .is_err()
    );
}

#[test]
fn a_clean_run_has_no_retransmission_marks() {
    let lines = trace_lines(&[]);
    let charts = tunstack::plot::charts(lines.iter().map(String::as_str), 1).expect("charts");
    let seq = series(&charts[0].1.render());
    assert_eq!(points(&seq, "retransmissions"), 0);
    assert_eq!(points(&seq, "SACK blocks"), 0);
    assert!(points(&seq, "data segments") > 100);
}

#[test]
fn plot_command_reads_a_trace_file_and_rejects_garbage() {
    let d = scratch("plot_cli");
    let trace = d.join("t.jsonl");
    std::fs::write(&trace, trace_lines(&["drop data#5"]).join("\n")).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .arg("plot")
        .arg(&trace)
        .arg("--out")
        .arg(d.join("svg"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["time-sequence.svg", "cwnd.svg", "rtt.svg"] {
        let svg = std::fs::read_to_string(d.join("svg").join(f)).expect(f);
        assert!(!series(&svg).is_empty(), "{f}");
    }
    let bad = d.join("bad.jsonl");
    std::fs::write(&bad, "{\"t\":1,\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tunstack"))
        .args(["plot"])
        .arg(&bad)
        .arg("--out")
        .arg(d.join("bad"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trace line 1"));
}
