//! IP fragment reassembly through the `Stack`: overlapping, duplicated, reordered fragments of
//! UDP and TCP datagrams with colliding IDs; fragment memory must stay under its cap.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tunstack_fuzz::targets::run("ip_fragments", data));
