//! Plots of a decision trace (docs/trace-schema.md) as SVG: the time–sequence graph, cwnd /
//! ssthresh / flight size, and RTT samples / SRTT / RTO, all from the data sender's (client's)
//! view of one flow. `tunstack plot` and `tunstack sim --plot` call `render_dir`.

pub mod svg;

use std::io;
use std::path::{Path, PathBuf};

use crate::trace::json::{self, Value};
use svg::{Chart, Corner, Series, Style, decimate};

/// Pixel columns of the plot area (for thinning long series).
const COLUMNS: usize = 1120;

/// The three charts for `flow` (1-based) from trace lines. Lines that are not JSON are an error.
pub fn charts<'a>(
    lines: impl Iterator<Item = &'a str>,
    flow: u32,
) -> Result<Vec<(String, Chart)>, String> {
    charts_in(lines, flow, None)
}

/// Which sender to plot: the host ("client" or "server"), its flow, an optional time window.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub host: String,
    pub flow: u32,
    pub window: Option<(f64, f64)>,
}

/// Like `charts`, zoomed to the time window [from, to] seconds.
pub fn charts_in<'a>(
    lines: impl Iterator<Item = &'a str>,
    flow: u32,
    window: Option<(f64, f64)>,
) -> Result<Vec<(String, Chart)>, String> {
    let view = View {
        host: "client".into(),
        flow,
        window,
    };
    charts_for(lines, &view)
}

/// The three charts of one sender.
pub fn charts_for<'a>(
    lines: impl Iterator<Item = &'a str>,
    view: &View,
) -> Result<Vec<(String, Chart)>, String> {
    let (flow, window) = (view.flow, view.window);
    let mut d = Data {
        window,
        host: view.host.clone(),
        ..Data::default()
    };
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v = json::parse(line).map_err(|e| format!("trace line {}: {e}", n + 1))?;
        d.add(&v, flow);
    }
    if d.events == 0 {
        return Err(format!(
            "the trace has no events of flow {flow} of the {}{}",
            view.host,
            if window.is_some() {
                " in that time window"
            } else {
                ""
            }
        ));
    }
    Ok(d.charts(flow))
}

/// Write time-sequence.svg, cwnd.svg and rtt.svg into `dir` (created if needed).
pub fn render_dir<'a>(
    lines: impl Iterator<Item = &'a str>,
    dir: &Path,
    view: &View,
) -> io::Result<Vec<PathBuf>> {
    let charts = charts_for(lines, view).map_err(io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for (name, c) in charts {
        let p = dir.join(format!("{name}.svg"));
        std::fs::write(&p, c.render())?;
        out.push(p);
    }
    Ok(out)
}

#[derive(Default)]
struct Data {
    /// The sending host whose view is plotted.
    host: String,
    /// Only events in [from, to] seconds.
    window: Option<(f64, f64)>,
    events: u64,
    data: Vec<(f64, f64)>,
    rexmit: Vec<(f64, f64)>,
    rexmit_marks: Vec<(f64, f64)>,
    acks: Vec<(f64, f64)>,
    wnd: Vec<(f64, f64)>,
    sack: Vec<(f64, f64)>,
    cwnd: Vec<(f64, f64)>,
    ssthresh: Vec<(f64, f64)>,
    flight: Vec<(f64, f64)>,
    rtt: Vec<(f64, f64)>,
    srtt: Vec<(f64, f64)>,
    rto: Vec<(f64, f64)>,
    t_max: f64,
}

impl Data {
    fn add(&mut self, v: &Value, flow: u32) {
        if v.str("host") != Some(self.host.as_str()) || v.num("flow") != Some(f64::from(flow)) {
            return;
        }
        let Some(t) = v.num("t").map(|t| t / 1e6) else {
            return;
        };
        if self.window.is_some_and(|(a, b)| t < a || t > b) {
            return;
        }
        self.events += 1;
        self.t_max = self.t_max.max(t);
        let n = |k: &str| v.num(k);
        match v.str("ev") {
            Some("send") => {
                if let (Some(seq), Some(len)) = (n("seq"), n("len"))
                    && len > 0.0
                {
                    let bar = [(t, seq), (t, seq + len)];
                    if v.bool("rexmit") == Some(true) {
                        self.rexmit.extend(bar);
                        self.rexmit_marks.push((t, seq + len));
                    } else {
                        self.data.extend(bar);
                    }
                }
                if let Some(f) = n("flight") {
                    self.flight.push((t, f));
                }
            }
            Some("recv") => {
                if v.str("flags").is_some_and(|f| f.contains('A'))
                    && let Some(a) = n("ack")
                {
                    self.acks.push((t, a));
                    if let Some(w) = n("wnd") {
                        self.wnd.push((t, a + w));
                    }
                    for (l, r) in v.pairs("sack") {
                        self.sack.extend([(t, l), (t, r)]);
                    }
                }
            }
            Some("cwnd") => {
                if let Some(c) = n("cwnd") {
                    self.cwnd.push((t, c));
                }
                if let Some(f) = n("flight") {
                    self.flight.push((t, f));
                }
                match n("ssthresh") {
                    Some(s) => self.ssthresh.push((t, s)),
                    None => {
                        if let Some(&(_, last)) = self.ssthresh.last()
                            && last.is_finite()
                        {
                            self.ssthresh.push((t, f64::NAN));
                        }
                    }
                }
            }
            Some("rtt") => {
                if let (Some(s), Some(sr), Some(r)) = (n("sample_us"), n("srtt_us"), n("rto_us")) {
                    self.rtt.push((t, s / 1e3));
                    self.srtt.push((t, sr / 1e3));
                    self.rto.push((t, r / 1e3));
                }
            }
            Some("rto") => {
                if let Some(r) = n("rto_us") {
                    self.rto.push((t, r / 1e3));
                }
            }
            _ => {}
        }
    }

    fn charts(self, flow: u32) -> Vec<(String, Chart)> {
        let (me, peer) = if self.host == "client" {
            ("client", "server")
        } else {
            ("server", "client")
        };
        let (t0, t1) = match self.window {
            Some((a, b)) => (a, b.min(self.t_max).max(a + 1e-3)),
            None => (0.0, self.t_max.max(1e-3)),
        };
        let data_top = [&self.data, &self.rexmit, &self.acks]
            .iter()
            .flat_map(|s| s.iter().map(|p| p.1))
            .fold(1.0, f64::max);
        // Zoomed in, the sequence axis starts near the data instead of at 0.
        let data_bottom = match self.window {
            Some(_) => [&self.data, &self.rexmit, &self.acks]
                .iter()
                .flat_map(|s| s.iter().map(|p| p.1))
                .fold(data_top, f64::min),
            None => 0.0,
        };
        let top = data_top;
        let (div, unit) = if top >= 1e7 {
            (1e6, "MB")
        } else if top >= 1e4 {
            (1e3, "kB")
        } else {
            (1.0, "bytes")
        };
        let scale = |p: &[(f64, f64)]| -> Vec<(f64, f64)> {
            p.iter().map(|&(x, y)| (x, y / div)).collect()
        };
        let line = |p: &[(f64, f64)]| decimate(&scale(p), t0, t1, COLUMNS);
        let bars = |p: &[(f64, f64)]| thin_bars(&scale(p), t0, t1);
        let seq = Chart {
            title: format!("Time–sequence graph ({me} → {peer}, flow {flow})"),
            x_label: "time (s)".into(),
            y_label: format!("relative sequence number ({unit})"),
            series: vec![
                s(
                    "data segments",
                    "#1f77b4",
                    Style::Bars { width: 2.0 },
                    bars(&self.data),
                ),
                s(
                    "ACK (cumulative)",
                    "#2ca02c",
                    Style::Step { width: 2.5 },
                    line(&self.acks),
                ),
                s(
                    "receive window edge",
                    "#9467bd",
                    Style::Step { width: 2.0 },
                    line(&self.wnd),
                ),
                s(
                    "SACK blocks",
                    "#ff7f0e",
                    Style::Bars { width: 3.0 },
                    bars(&self.sack),
                ),
                s(
                    "retransmissions",
                    "#d62728",
                    Style::Bars { width: 3.0 },
                    scale(&self.rexmit),
                ),
                s(
                    "retransmission marks",
                    "#d62728",
                    Style::Crosses { r: 7.0 },
                    scale(&self.rexmit_marks),
                ),
            ],
            x_range: Some((t0, t1)),
            // The window edge may run far above the data: it is cut off there.
            y_range: Some((
                (data_bottom - (data_top - data_bottom) * 0.05).max(0.0) / div,
                (data_bottom + (data_top - data_bottom) * 1.15) / div,
            )),
            legend_at: Corner::TopLeft,
        };
        let kb = |p: &[(f64, f64)]| -> Vec<(f64, f64)> {
            decimate(
                &p.iter().map(|&(x, y)| (x, y / 1e3)).collect::<Vec<_>>(),
                0.0,
                t1,
                COLUMNS,
            )
        };
        let cwnd = Chart {
            title: format!("Congestion window ({me}, flow {flow})"),
            x_label: "time (s)".into(),
            y_label: "kB (1000 bytes)".into(),
            series: vec![
                s(
                    "cwnd",
                    "#1f77b4",
                    Style::Step { width: 3.0 },
                    kb(&self.cwnd),
                ),
                s(
                    "ssthresh",
                    "#d62728",
                    Style::Step { width: 2.5 },
                    split_nan(kb(&self.ssthresh)),
                ),
                s(
                    "flight size",
                    "#2ca02c",
                    Style::Step { width: 1.5 },
                    kb(&self.flight),
                ),
            ],
            x_range: Some((t0, t1)),
            y_range: None,
            legend_at: Corner::TopRight,
        };
        let ms = |p: &[(f64, f64)]| decimate(p, t0, t1, COLUMNS);
        let rtt = Chart {
            title: format!("Round-trip time ({me}, flow {flow})"),
            x_label: "time (s)".into(),
            y_label: "milliseconds".into(),
            series: vec![
                s(
                    "RTT sample",
                    "#7f7f7f",
                    Style::Points { r: 3.0 },
                    ms(&self.rtt),
                ),
                s(
                    "SRTT",
                    "#1f77b4",
                    Style::Step { width: 3.0 },
                    ms(&self.srtt),
                ),
                s("RTO", "#d62728", Style::Step { width: 2.5 }, ms(&self.rto)),
            ],
            x_range: Some((t0, t1)),
            y_range: None,
            legend_at: Corner::TopRight,
        };
        vec![
            ("time-sequence".to_string(), seq),
            ("cwnd".to_string(), cwnd),
            ("rtt".to_string(), rtt),
        ]
    }
}

fn s(name: &str, color: &'static str, style: Style, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: name.to_string(),
        legend: !name.ends_with("marks"),
        color,
        style,
        points,
    }
}

/// ssthresh "infinite" (NaN markers) is not drawn: drop the markers (the step holds the last value).
fn split_nan(p: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    p.into_iter().filter(|(_, y)| y.is_finite()).collect()
}

/// Merge vertical bars that fall in the same pixel column into one (lowest start, highest end).
fn thin_bars(p: &[(f64, f64)], t0: f64, t1: f64) -> Vec<(f64, f64)> {
    if p.len() <= COLUMNS * 4 {
        return p.to_vec();
    }
    let col = |x: f64| (((x - t0) / (t1 - t0)) * COLUMNS as f64).floor() as i64;
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut cur: Option<(i64, f64, f64, f64)> = None;
    for b in p.chunks_exact(2) {
        let (x, lo, hi) = (b[0].0, b[0].1.min(b[1].1), b[0].1.max(b[1].1));
        let c = col(x);
        cur = match cur {
            Some((cc, cx, l, h)) if cc == c => Some((cc, cx, l.min(lo), h.max(hi))),
            Some((_, cx, l, h)) => {
                out.extend([(cx, l), (cx, h)]);
                Some((c, x, lo, hi))
            }
            None => Some((c, x, lo, hi)),
        };
    }
    if let Some((_, cx, l, h)) = cur {
        out.extend([(cx, l), (cx, h)]);
    }
    out
}
