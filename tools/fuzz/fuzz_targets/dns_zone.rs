//! The DNS zone-file parser (`--dns-zone FILE`): never panics; a parsed zone answers a query.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tunstack_fuzz::targets::run("dns_zone", data));
