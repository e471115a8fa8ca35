//! `tunstack plot TRACE --out DIR`: SVG plots of a decision trace written by `tunstack sim --trace`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// A trace file (JSON lines) from `tunstack sim --trace`.
    #[arg(value_name = "TRACE")]
    pub trace: PathBuf,
    /// Directory for time-sequence.svg, cwnd.svg and rtt.svg (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Whose sending to plot: client (the `sim` data sender) or server (our stack in `up`).
    #[arg(long, value_name = "HOST", default_value = "client", value_parser = ["client", "server"])]
    pub host: String,
    /// Which flow to plot (1-based).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub flow: u32,
    /// Zoom: start of the time window, e.g. 0.8s.
    #[arg(long, value_name = "TIME", value_parser = super::units::duration)]
    pub from: Option<std::time::Duration>,
    /// Zoom: end of the time window, e.g. 1.2s.
    #[arg(long, value_name = "TIME", value_parser = super::units::duration)]
    pub to: Option<std::time::Duration>,
}

pub fn run(a: PlotArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&a.trace) {
        Ok(t) => t,
        Err(e) => return super::fail(format!("{}: {e}", a.trace.display())),
    };
    let window = match (a.from, a.to) {
        (None, None) => None,
        (f, t) => Some((
            f.map_or(0.0, |d| d.as_secs_f64()),
            t.map_or(f64::MAX, |d| d.as_secs_f64()),
        )),
    };
    if let Some((f, t)) = window
        && t <= f
    {
        return super::fail("--to must be after --from");
    }
    let view = tunstack::plot::View {
        host: a.host.clone(),
        flow: a.flow,
        window,
    };
    match tunstack::plot::render_dir(text.lines(), &a.out, &view) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(format!("{}: {e}", a.trace.display())),
    }
}
