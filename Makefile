# tunstack: `make demo` and `make test` are all a fresh machine needs.
CARGO ?= cargo
.PHONY: all build test unit-test tun-test demo lint fmt doc deps clean bench

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

# Benchmarks (root; network namespaces): writes docs/benchmarks.md. See tools/bench/run.sh.
bench: deps
	@tools/bench/run.sh

clean:
	$(CARGO) clean
