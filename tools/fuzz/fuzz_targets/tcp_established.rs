//! TCP segments only (and application calls) on three ESTABLISHED connections; with an odd
//! first byte, out-of-order data ahead of RCV.NXT and the segments that fill the holes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tunstack_fuzz::targets::run("tcp_established", data));
