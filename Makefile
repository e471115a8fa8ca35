# tunstack: `make demo` and `make test` are all a fresh machine needs.
CARGO ?= cargo
.PHONY: all build test unit-test tun-test demo labs lint fmt doc deps clean

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

# The teaching labs (docs/labs/): each runs in its own namespace and checks its observations.
# `make test` runs them too (tests/labs.rs). One lab: tools/labs/run.sh 3
labs: deps
	$(CARGO) build --release
	@tools/labs/run.sh all

clean:
	$(CARGO) clean
