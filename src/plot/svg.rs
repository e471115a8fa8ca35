//! A small SVG chart: one plot area, linear axes with "nice" ticks, line / step / point / bar
//! series, a legend. Hand-written SVG (no font files, byte-stable output, text stays text).
//! Each series is a `<g class="series" data-name="...">` so tools and tests can find it.

use std::fmt::Write as _;

pub const WIDTH: f64 = 1280.0;
pub const HEIGHT: f64 = 760.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 80.0;
const BOTTOM: f64 = 90.0;
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// Straight segments between points.
    Line { width: f64, dash: bool },
    /// Horizontal then vertical (a value that holds until it changes).
    Step { width: f64 },
    /// Circles (radius).
    Points { r: f64 },
    /// Vertical bars from (x, y0) to (x, y1): points come in pairs.
    Bars { width: f64 },
    /// Crosses (half size).
    Crosses { r: f64 },
}

pub struct Series {
    pub name: String,
    /// Listed in the legend (a second drawing of the same data is not).
    pub legend: bool,
    pub color: &'static str,
    pub style: Style,
    pub points: Vec<(f64, f64)>,
}

pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Data ranges; computed from the series when None.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub legend_at: Corner,
}

/// Where the legend box goes inside the plot area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomRight,
}

/// Tick step for about `n` ticks over `span`: 1, 2 or 5 × 10^k.
pub fn nice_step(span: f64, n: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Chart {
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let pts = self.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts {
            if x.is_finite() && y.is_finite() {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        let x = self.x_range.unwrap_or((x0.min(0.0), x1));
        let y = self.y_range.unwrap_or((y0.min(0.0), y1 * 1.2));
        let fix = |(a, b): (f64, f64)| if b > a { (a, b) } else { (a, a + 1.0) };
        (fix(x), fix(y))
    }

    pub fn render(&self) -> String {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
        let mut s = String::with_capacity(64 * 1024);
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text class="title" x="{}" y="40" font-size="28" font-weight="bold" text-anchor="middle">{}</text>"#,
            WIDTH / 2.0,
            esc(&self.title)
        );
        // Grid and ticks.
        let _ = writeln!(s, r#"<g class="axes" font-size="20" fill="black">"#);
        let xs = nice_step(x1 - x0, 10.0);
        let mut v = (x0 / xs).ceil() * xs;
        while v <= x1 + xs * 1e-9 {
            let px = sx(v);
            let _ = writeln!(
                s,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#dddddd"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 28.0,
                fmt_tick(v, xs)
            );
            v += xs;
        }
        let ys = nice_step(y1 - y0, 8.0);
        let mut v = (y0 / ys).ceil() * ys;
        while v <= y1 + ys * 1e-9 {
            let py = sy(v);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 10.0,
                py + 7.0,
                fmt_tick(v, ys)
            );
            v += ys;
        }
        let _ = writeln!(
            s,
            r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black" stroke-width="1.5"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text class="xlabel" x="{:.1}" y="{:.1}" font-size="22" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            HEIGHT - 25.0,
            esc(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text class="ylabel" x="30" y="{:.1}" font-size="22" text-anchor="middle" transform="rotate(-90 30 {:.1})">{}</text>"#,
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            esc(&self.y_label)
        );
        let _ = writeln!(s, "</g>");
        // Series, clipped to the plot area.
        let _ = writeln!(
            s,
            r#"<defs><clipPath id="plot"><rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}"/></clipPath></defs>"#
        );
        for ser in &self.series {
            let _ = writeln!(
                s,
                r#"<g class="series" data-name="{}" data-points="{}" clip-path="url(#plot)">"#,
                esc(&ser.name),
                ser.points.len()
            );
            draw(&mut s, ser, &sx, &sy);
            let _ = writeln!(s, "</g>");
        }
        // Legend: a white box in one corner of the plot.
        let listed: Vec<&Series> = self.series.iter().filter(|x| x.legend).collect();
        let n = listed.len() as f64;
        let lw = 20.0
            + listed
                .iter()
                .map(|x| x.name.chars().count() as f64 * 11.0 + 60.0)
                .fold(0.0, f64::max);
        let lh = n * 30.0 + 12.0;
        let (bx, by) = match self.legend_at {
            Corner::TopLeft => (LEFT + 12.0, TOP + 12.0),
            Corner::TopRight => (LEFT + pw - 12.0 - lw, TOP + 12.0),
            Corner::BottomRight => (LEFT + pw - 12.0 - lw, TOP + ph - 12.0 - lh),
        };
        let _ = writeln!(
            s,
            r##"<g class="legend" font-size="20"><rect x="{bx:.1}" y="{by:.1}" width="{lw:.1}" height="{lh:.1}" fill="white" fill-opacity="0.9" stroke="#888888"/>"##
        );
        for (i, ser) in listed.iter().enumerate() {
            let y = by + 22.0 + i as f64 * 30.0;
            let x = bx + 12.0;
            let sample = match ser.style {
                Style::Points { .. } => format!(
                    r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{}"/>"#,
                    x + 18.0,
                    y - 6.0,
                    ser.color
                ),
                Style::Crosses { .. } => cross(x + 18.0, y - 6.0, 6.0, ser.color),
                Style::Line { dash: true, .. } => format!(
                    r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="3" stroke-dasharray="8 5"/>"#,
                    y - 6.0,
                    x + 36.0,
                    y - 6.0,
                    ser.color
                ),
                _ => format!(
                    r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="4"/>"#,
                    y - 6.0,
                    x + 36.0,
                    y - 6.0,
                    ser.color
                ),
            };
            let _ = writeln!(
                s,
                r#"{sample}<text x="{:.1}" y="{y:.1}">{}</text>"#,
                x + 48.0,
                esc(&ser.name)
            );
        }
        let _ = writeln!(s, "</g>\n</svg>");
        s
    }
}

fn cross(x: f64, y: f64, r: f64, color: &str) -> String {
    format!(
        r#"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{color}" stroke-width="3"/>"#,
        x - r,
        y - r,
        x + r,
        y + r,
        x - r,
        y + r,
        x + r,
        y - r
    )
}

fn draw(s: &mut String, ser: &Series, sx: &dyn Fn(f64) -> f64, sy: &dyn Fn(f64) -> f64) {
    let c = ser.color;
    match ser.style {
        Style::Line { width, dash } => {
            let d = path(&ser.points, sx, sy, false);
            let dash = if dash {
                r#" stroke-dasharray="8 5""#
            } else {
                ""
            };
            let _ = writeln!(
                s,
                r#"<path d="{d}" fill="none" stroke="{c}" stroke-width="{width}"{dash} stroke-linejoin="round"/>"#
            );
        }
        Style::Step { width } => {
            let d = path(&ser.points, sx, sy, true);
            let _ = writeln!(
                s,
                r#"<path d="{d}" fill="none" stroke="{c}" stroke-width="{width}"/>"#
            );
        }
        Style::Points { r } => {
            for &(x, y) in &ser.points {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="{r}" fill="{c}"/>"#,
                    sx(x),
                    sy(y)
                );
            }
        }
        Style::Crosses { r } => {
            for &(x, y) in &ser.points {
                let _ = writeln!(s, "{}", cross(sx(x), sy(y), r, c));
            }
        }
        Style::Bars { width } => {
            let mut d = String::new();
            for p in ser.points.chunks_exact(2) {
                let (a, b) = (p[0], p[1]);
                let (ya, yb) = (sy(a.1), sy(b.1));
                // At least 2 px tall so a small segment stays visible.
                let yb = if (ya - yb).abs() < 2.0 { ya - 2.0 } else { yb };
                let _ = write!(d, "M{:.1} {ya:.1}V{yb:.1}", sx(a.0));
            }
            let _ = writeln!(
                s,
                r#"<path d="{d}" fill="none" stroke="{c}" stroke-width="{width}"/>"#
            );
        }
    }
}

fn path(p: &[(f64, f64)], sx: &dyn Fn(f64) -> f64, sy: &dyn Fn(f64) -> f64, step: bool) -> String {
    let mut d = String::new();
    let mut prev: Option<f64> = None;
    for &(x, y) in p {
        let (px, py) = (sx(x), sy(y));
        match prev {
            None => {
                let _ = write!(d, "M{px:.1} {py:.1}");
            }
            Some(_) if step => {
                let _ = write!(d, "H{px:.1}V{py:.1}");
            }
            Some(_) => {
                let _ = write!(d, "L{px:.1} {py:.1}");
            }
        }
        prev = Some(py);
    }
    d
}

/// Thin a line series to at most about 4 points per pixel column (first, min, max, last), so a
/// long trace still makes a small SVG that looks the same.
pub fn decimate(p: &[(f64, f64)], x0: f64, x1: f64, columns: usize) -> Vec<(f64, f64)> {
    if p.len() <= columns * 4 || x1 <= x0 {
        return p.to_vec();
    }
    let col = |x: f64| (((x - x0) / (x1 - x0)) * columns as f64).floor() as i64;
    let mut out = Vec::with_capacity(columns * 4);
    let mut i = 0;
    while i < p.len() {
        let c = col(p[i].0);
        let mut j = i;
        let (mut lo, mut hi) = (p[i], p[i]);
        while j < p.len() && col(p[j].0) == c {
            if p[j].1 < lo.1 {
                lo = p[j];
            }
            if p[j].1 > hi.1 {
                hi = p[j];
            }
            j += 1;
        }
        let mut group = vec![p[i], lo, hi, p[j - 1]];
        group.sort_by(|a, b| a.0.total_cmp(&b.0));
        group.dedup();
        out.extend(group);
        i = j;
    }
    out
}
