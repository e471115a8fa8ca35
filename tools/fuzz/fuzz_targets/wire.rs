//! Every wire parser on arbitrary bytes: IPv4, ICMP (and its quote), UDP, TCP (and options),
//! the one-line packet summary; a parsed TCP header re-emitted parses to the same fields.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tunstack_fuzz::targets::run("wire", data));
