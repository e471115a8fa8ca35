//! The `tunstack` command line. SKELETON: being written.
fn main() {
    eprintln!("tunstack: not built yet");
    std::process::exit(1);
}
