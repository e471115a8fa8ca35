//! TCP out-of-order reassembly (`tcp::reassembly`) against a model: no panic, bounded memory,
//! exact bytes out (`src/model.rs`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tunstack_fuzz::targets::run("tcp_reassembly", data));
