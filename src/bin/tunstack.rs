//! The `tunstack` command line: `tunstack up`, `tunstack connect`. See docs/cli.md.

#[path = "../cli/mod.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
