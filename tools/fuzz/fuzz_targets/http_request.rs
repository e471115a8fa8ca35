//! The HTTP request-head parser of the http service (`services/http/parse.rs`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tunstack_fuzz::targets::run("http_request", data));
