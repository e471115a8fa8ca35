# tunstack: `make demo` and `make test` are all a fresh machine needs.
CARGO ?= cargo
.PHONY: all build test unit-test tun-test demo labs lint fmt doc deps clean fuzz fuzz-short soak bench-loss bench-loss-tun bench-pacing bench

all: build

build:
	$(CARGO) build --release --all-targets

deps:
	@tools/install-deps.sh

# The whole suite: unit, scenario, simulator, fuzz-style, and real-TUN tests (each TUN test in its
# own network namespace; without root they print that they were skipped and why).
test: deps lint
	$(CARGO) test --release --all-targets -- --test-threads=2
	$(CARGO) test --release -p tunstack-bench --lib --tests -- --test-threads=2
	$(MAKE) fuzz-short

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	@tools/sans-io-check.sh

fmt:
	$(CARGO) fmt --all

doc:
	$(CARGO) doc --no-deps

# Fuzzing (cargo-fuzz on stable via RUSTC_BOOTSTRAP; see docs/reliability.md): every target for
# FUZZ_SECS each; `fuzz-short` is the bounded run inside `make test`.
FUZZ_SECS ?= 300
FUZZ_SHORT_SECS ?= 10
fuzz:
	@tools/fuzz.sh $(FUZZ_SECS)

fuzz-short:
	@FUZZ_JOBS=2 tools/fuzz.sh $(FUZZ_SHORT_SECS)

# Mixed traffic through a TUN in a namespace with 1 % loss for SOAK_SECS (memory, fds, sha256).
SOAK_SECS ?= 600
soak: deps
	$(CARGO) build --release
	@tools/soak.sh $(SOAK_SECS)

demo: deps
	$(CARGO) build --release
	@tools/demo.sh

# Benchmarks (root; network namespaces): writes docs/benchmarks.md. See tools/bench/run.sh.
bench: deps
	@tools/bench/run.sh

# The teaching labs (docs/labs/): each runs in its own namespace and checks its observations.
# `make test` runs them too (tests/labs.rs). One lab: tools/labs/run.sh 3
labs: deps
	$(CARGO) build --release
	@tools/labs/run.sh all

clean:
	$(CARGO) clean

# Loss recovery and congestion control (docs/loss-recovery.md): the simulator grid (BENCH_SECS=n),
# then the real-TUN comparison with the Linux kernel (root; namespaces; TUN_SECS, TUN_RUNS,
# TUN_JOBS, TUN_PATHS, TUN_SENDERS: see tools/bench-loss/tun.py).
bench-loss:
	$(CARGO) run --release --example bench-loss
	$(MAKE) bench-loss-tun

bench-loss-tun:
	$(CARGO) build --release
	@python3 tools/bench-loss/tun.py || [ $$? -eq 77 ]

# Pacing on vs off in the simulator (docs/loss-recovery.md, "Pacing"); BENCH_SECS=n.
bench-pacing:
	$(CARGO) run --release --example bench-pacing
