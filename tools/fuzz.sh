#!/usr/bin/env bash
# Run the cargo-fuzz (libFuzzer) targets of tools/fuzz for SECS seconds each.
#   tools/fuzz.sh [SECS] [TARGET...]     default: 300 s, every target
# New corpus entries go to tools/fuzz/corpus/<target> (not committed); the committed seeds are
# tools/fuzz/corpus-seed/<target>. A crash leaves tools/fuzz/artifacts/<target>/crash-*: copy it
# to tools/fuzz/regressions/<target>/ and `cargo test --test invariants_fuzz_regressions` replays it.
# Exit status: non-zero if any target crashed, hung (-timeout) or could not be built.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(wire http_request dns_message dns_zone tcp_reassembly stack tcp_established ip_fragments)
fi
if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked --quiet
fi
# cargo-fuzz compiles with -Z flags (sanitizer coverage instrumentation) that only nightly
# accepts; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them. -O: optimised; -a: debug
# assertions (overflow checks) on; -s none: no AddressSanitizer (the stack is safe Rust, and
# the build is twice as fast). FUZZ_SANITIZER=address to turn ASan on.
export RUSTC_BOOTSTRAP=1
flags=(--fuzz-dir tools/fuzz -O -a -s "${FUZZ_SANITIZER:-none}")
t0=$(date +%s)
cargo fuzz build "${flags[@]}"
echo "fuzz: built in $(($(date +%s) - t0)) s"
# Targets run FUZZ_JOBS at a time (default 1; `make fuzz-short` uses 2, one per core).
jobs=${FUZZ_JOBS:-1}
run_one() {
    local t=$1 log="tools/fuzz/target/fuzz-$1.log"
    mkdir -p "tools/fuzz/corpus/$t" "tools/fuzz/corpus-seed/$t"
    if cargo fuzz run "${flags[@]}" "$t" "tools/fuzz/corpus/$t" "tools/fuzz/corpus-seed/$t" -- \
        -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
        cov=$(grep -o 'DONE *cov: [0-9]*' "$log" | grep -o '[0-9]*$' || true)
        echo "fuzz: $t: ok, ${runs:-?} runs in ${secs} s, coverage ${cov:-?} edges" >"$log.result"
    else
        {
            echo "fuzz: $t: FAILED (log $log); the input is in tools/fuzz/artifacts/$t/"
            grep -E -A12 "panicked|ERROR: libFuzzer" "$log" | head -40 || tail -40 "$log"
        } >"$log.result"
    fi
}
pids=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}" || true
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || true; done
fail=0
for t in "${targets[@]}"; do
    r="tools/fuzz/target/fuzz-$t.log.result"
    cat "$r" 2>/dev/null || echo "fuzz: $t: no result"
    grep -q ": ok," "$r" 2>/dev/null || fail=1
done
exit $fail
