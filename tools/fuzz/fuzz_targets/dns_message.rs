//! The DNS message parser and answer builder (`services/dns`): re-encoding round-trips, answers
//! parse and fit the UDP limit.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tunstack_fuzz::targets::run("dns_message", data));
