//! Shared code of the fuzz targets: the structured `Stack` harness, the reassembly model and the
//! target bodies (also replayed by `tests/invariants_fuzz_regressions.rs` on stable).
pub mod harness;
pub mod model;
pub mod packets;
pub mod targets;
