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
    /// Which flow to plot (1-based).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub flow: u32,
}

pub fn run(a: PlotArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&a.trace) {
        Ok(t) => t,
        Err(e) => return super::fail(format!("{}: {e}", a.trace.display())),
    };
    match tunstack::plot::render_dir(text.lines(), &a.out, a.flow) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(format!("{}: {e}", a.trace.display())),
    }
}
