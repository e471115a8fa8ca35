//! The whole `Stack` fed a structured sequence of operations: time steps, fuzzed TCP segments
//! on three ESTABLISHED connections, raw packets, fragments, ICMP errors, application calls.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tunstack_fuzz::targets::run("stack", data));
