#!/usr/bin/env bash
# Speed sanity for `tunstack sim` (a benchmark, not a test): 100 MB over 100 Mbit/s and 50 ms RTT
# in virtual time, plain, with a trace, and with trace + pcap. Prints the wall time of each.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin tunstack
bin=target/release/tunstack
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
    local label=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" sim --bytes 100mb --rtt 50ms --rate 100mbit "$@" >"$out/summary" 2>/dev/null || true
    t1=$(date +%s.%N)
    printf '%-24s %6.2f s wall   %s\n' "$label" "$(echo "$t1 - $t0" | bc)" \
        "$(grep -o 'delivered by [0-9.]*s' "$out/summary")"
}
run "plain"
run "--trace" --trace "$out/t.jsonl"
run "--trace --pcap" --trace "$out/t.jsonl" --pcap "$out/p.pcapng"
