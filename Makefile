# tunstack: `make demo` and `make test` are all a fresh machine needs.
CARGO ?= cargo
.PHONY: all build test unit-test tun-test demo lint fmt doc deps clean bench-loss

all: build

build:
	$(CARGO) build --release --all-targets

deps:
	@tools/install-deps.sh

# The whole suite: unit, scenario, simulator, fuzz-style, and real-TUN tests (each TUN test in its
# own network namespace; without root they print that they were skipped and why).
test: deps lint
	$(CARGO) test --release --all-targets -- --test-threads=2

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings
	@tools/sans-io-check.sh

fmt:
	$(CARGO) fmt --all

doc:
	$(CARGO) doc --no-deps

demo: deps
	$(CARGO) build --release
	@tools/demo.sh

clean:
	$(CARGO) clean

# Loss recovery and congestion control in the simulator (docs/loss-recovery.md); BENCH_SECS=n.
bench-loss:
	$(CARGO) run --release --example bench-loss
