//! tunstack benchmarks: load clients, TUN ceiling loops, and the in-memory engine pair used by
//! the criterion benches and callgrind. Driven by tools/bench/run.sh (`make bench`).

pub mod engine;
pub mod engine_crr;
pub mod evserve;
pub mod load;
pub mod ours;
pub mod report;
pub mod tcpceil;
pub mod tcpsink;
pub mod tcpsource;
pub mod tunloop;
