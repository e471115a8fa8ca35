//! smoltcp as the reference implementation (issue 5, docs/reference.md, docs/differential.md).
//!
//! `SmolStack` runs a smoltcp 0.14 `Interface` and its TCP sockets behind the same
//! `link::TcpEndpoint` interface as our `Stack`, so the simulator, the interop matrix and the
//! differential tests drive either one. Files: `device.rs` (the in-memory `phy::Device` and the
//! virtual clock for smoltcp's timestamp option), `convert.rs` (our types ↔ smoltcp's),
//! `smol.rs` (`SmolStack`), `matrix.rs` (the interop scenarios) with `apps.rs` (the
//! applications they run), `diff.rs` (crafted traces, output normalisation).

mod apps;
mod convert;
mod device;
pub mod diff;
pub mod matrix;
mod smol;

pub use smol::{SmolConfig, SmolStack, SmolStats};
