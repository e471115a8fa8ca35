# Common functions for tools/labs/NN.sh (sourced, not run).
#
# Every lab runs in a private network namespace `ts-labNN-<pid>` it creates and deletes (trap),
# starts `tunstack up` inside it, drives it with ordinary tools and checks the lab's expected
# observations. Exit status: 0 all checks hold, 1 a check failed (the message says which),
# 77 skipped (no root, a missing tool, or a tunstack feature that has not landed yet: the message
# names it). Output files (pcapng, logs) stay in $LAB_OUT (default /tmp/tunstack-labNN-<pid>).
#
# Environment: TUNSTACK_BIN (default target/release/tunstack, else target/debug/tunstack),
# LAB_OUT, LAB_DEBUG_BUILD=1 (the binary is unoptimised: throughput checks allow for it).

set -u
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KERNEL=198.18.0.1
STACK=198.18.0.2
TS_PID=""
TS_LOG=""
TS_N=0
LAB_FAILS=0
LAB_CHECKS=0

lab_say() { printf '[lab %s] %s\n' "$LAB_ID" "$*"; }
lab_bold() { printf '\n\033[1m== lab %s: %s\033[0m\n' "$LAB_ID" "$*"; }

# lab_skip REASON: exit 77 with a loud message (a missing feature is named in REASON).
lab_skip() {
    printf '\n[lab %s] SKIPPED: %s\n' "$LAB_ID" "$*" >&2
    exit 77
}

# lab_init ID TITLE: check privileges and tools, create the namespace, set the trap.
lab_init() {
    LAB_ID=$1
    shift
    lab_bold "$*"
    if [ "$(id -u)" -ne 0 ]; then
        lab_skip "needs root (network namespace + TUN device): run as sudo tools/labs/$LAB_ID.sh"
    fi
    if [ -n "${TUNSTACK_BIN:-}" ]; then
        BIN=$TUNSTACK_BIN
    elif [ -x "$LAB_ROOT/target/release/tunstack" ]; then
        BIN=$LAB_ROOT/target/release/tunstack
    else
        BIN=$LAB_ROOT/target/debug/tunstack
    fi
    [ -x "$BIN" ] || { echo "no tunstack binary at $BIN: run 'cargo build --release'" >&2; exit 1; }
    lab_need ip
    NS="ts-lab$LAB_ID-$$"
    LAB_OUT=${LAB_OUT:-/tmp/tunstack-lab$LAB_ID-$$}
    mkdir -p "$LAB_OUT"
    trap lab_cleanup EXIT
    trap 'exit 130' INT TERM
    ip netns add "$NS" || { echo "ip netns add $NS failed" >&2; exit 1; }
    ip netns exec "$NS" ip link set lo up
    lab_say "namespace $NS, tunstack $BIN, output in $LAB_OUT"
}

# lab_need TOOL...: skip the lab if a tool is missing.
lab_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || lab_skip "needs \`$t\` (tools/install-deps.sh installs it)"
    done
}

lab_cleanup() {
    [ -n "${NS:-}" ] || return 0
    ts_down quiet
    if [ -n "${NS:-}" ]; then
        ip netns del "$NS" 2>/dev/null
        rm -rf "/etc/netns/$NS"
    fi
}

# nsx CMD...: run a command inside the lab's namespace.
nsx() { ip netns exec "$NS" "$@"; }

# ts_up ARGS...: start `tunstack up ARGS` in the namespace (output to $LAB_OUT/tunstack-N.log)
# and wait until it answers ping. Stops a previous instance first.
ts_up() {
    ts_down quiet
    TS_N=$((TS_N + 1))
    TS_LOG="$LAB_OUT/tunstack-$TS_N.log"
    lab_say "\$ tunstack up $*"
    # Not through the nsx function: `&` on a function forks a subshell, and $! must be the pid
    # of tunstack itself (`ip netns exec` execs it) so that ts_down signals the right process.
    ip netns exec "$NS" "$BIN" up "$@" >"$TS_LOG" 2>&1 &
    TS_PID=$!
    local i
    for i in $(seq 200); do
        grep -q "ready" "$TS_LOG" 2>/dev/null && break
        kill -0 "$TS_PID" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -q "ready" "$TS_LOG" 2>/dev/null; then
        echo "tunstack did not start; its output:" >&2
        cat "$TS_LOG" >&2
        exit 1
    fi
}

# ts_down [quiet]: stop tunstack (SIGINT: it flushes the capture and prints its report).
ts_down() {
    if [ -n "$TS_PID" ] && kill -0 "$TS_PID" 2>/dev/null; then
        kill -INT "$TS_PID" 2>/dev/null
        local i
        for i in $(seq 100); do
            kill -0 "$TS_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$TS_PID" 2>/dev/null
    fi
    if [ -n "$TS_PID" ]; then
        wait "$TS_PID" 2>/dev/null
        # The kernel unregisters the device asynchronously after the fd closes: wait for it,
        # so the next `ts_up` can create it again.
        local j
        for j in $(seq 100); do
            nsx ip link show dev tunstack0 >/dev/null 2>&1 || break
            sleep 0.02
        done
    fi
    TS_PID=""
}

# ts_has_flag SUBCMD FLAG: does this tunstack know FLAG (e.g. ts_has_flag up --impair)?
ts_has_flag() { "$BIN" "$1" --help 2>/dev/null | grep -q -- "$2"; }

# calc EXPR: floating-point arithmetic (awk).
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }

# check_range LABEL VALUE LO HI [UNIT]: record a check LO <= VALUE <= HI.
check_range() {
    local label=$1 v=$2 lo=$3 hi=$4 unit=${5:-}
    LAB_CHECKS=$((LAB_CHECKS + 1))
    if awk "BEGIN { exit !($v >= $lo && $v <= $hi) }"; then
        printf '  ok    %-58s %s%s  (expected %s..%s)\n' "$label" "$v" "$unit" "$lo" "$hi"
    else
        printf '  FAIL  %-58s %s%s  (expected %s..%s)\n' "$label" "$v" "$unit" "$lo" "$hi"
        LAB_FAILS=$((LAB_FAILS + 1))
    fi
}

# check_true LABEL CONDITION-EXPR (awk syntax) [SHOWN]: record a boolean check.
check_true() {
    local label=$1 cond=$2 shown=${3:-$2}
    LAB_CHECKS=$((LAB_CHECKS + 1))
    if awk "BEGIN { exit !($cond) }"; then
        printf '  ok    %-58s %s\n' "$label" "$shown"
    else
        printf '  FAIL  %-58s %s\n' "$label" "$shown"
        LAB_FAILS=$((LAB_FAILS + 1))
    fi
}

# median / pct P: of numbers on stdin (one a line).
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
pct() { sort -g | awk -v p="$1" '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit } i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print a[i] }'; }
minof() { sort -g | head -1; }
maxof() { sort -g | tail -1; }

# ping_rtt_ms N: median RTT of N pings to the stack, in ms.
ping_rtt_ms() {
    nsx ping -n -c "$1" -i 0.2 -W 3 "$STACK" | sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | median
}

# curl_w FORMAT URL [curl args...]: one curl inside the namespace with -w FORMAT.
curl_w() {
    local fmt=$1 url=$2
    shift 2
    nsx curl -s -m 30 -o /dev/null -w "$fmt" "$@" "$url"
}

# lab_end: print the verdict and exit 0 (all checks held) or 1.
lab_end() {
    echo
    if [ "$LAB_FAILS" -eq 0 ]; then
        lab_say "PASS: $LAB_CHECKS checks hold"
        lab_say "files: $LAB_OUT"
        exit 0
    fi
    lab_say "FAIL: $LAB_FAILS of $LAB_CHECKS checks did not hold (files and tunstack logs in $LAB_OUT)"
    exit 1
}

# lab_init_sim ID TITLE: for labs that use `tunstack sim` (virtual time, two of our stacks, no
# TUN device): no root and no namespace needed.
lab_init_sim() {
    LAB_ID=$1
    shift
    lab_bold "$*"
    if [ -n "${TUNSTACK_BIN:-}" ]; then
        BIN=$TUNSTACK_BIN
    elif [ -x "$LAB_ROOT/target/release/tunstack" ]; then
        BIN=$LAB_ROOT/target/release/tunstack
    else
        BIN=$LAB_ROOT/target/debug/tunstack
    fi
    [ -x "$BIN" ] || { echo "no tunstack binary at $BIN: run 'cargo build --release'" >&2; exit 1; }
    NS=""
    LAB_OUT=${LAB_OUT:-/tmp/tunstack-lab$LAB_ID-$$}
    mkdir -p "$LAB_OUT"
    lab_say "tunstack $BIN, output in $LAB_OUT"
}

# need_feature DESCRIPTION SUBCOMMAND [PATTERN]: skip the lab, naming the missing feature, unless
# `tunstack SUBCOMMAND --help` works and (if given) mentions PATTERN.
need_feature() {
    local desc=$1 sub=$2 pat=${3:-}
    local help
    if ! help=$("$BIN" "$sub" --help 2>/dev/null); then
        lab_skip "waiting for a tunstack feature: $desc (\`tunstack $sub\` does not exist in this build)"
    fi
    if [ -n "$pat" ] && ! grep -q -- "$pat" <<<"$help"; then
        lab_skip "waiting for a tunstack feature: $desc (\`tunstack $sub --help\` has no \`$pat\`)"
    fi
}

# sim ARGS...: run `tunstack sim ARGS` (stdout to the terminal and to $LAB_OUT/sim-N.txt).
SIM_N=0
sim() {
    SIM_N=$((SIM_N + 1))
    SIM_OUT="$LAB_OUT/sim-$SIM_N.txt"
    lab_say "\$ tunstack sim $*"
    "$BIN" sim "$@" >"$SIM_OUT" 2>"$LAB_OUT/sim-$SIM_N.err"
    local rc=$?
    sed 's/^/    /' "$SIM_OUT"
    if [ $rc -ne 0 ]; then
        echo "tunstack sim failed (exit $rc):" >&2
        cat "$LAB_OUT/sim-$SIM_N.err" >&2
        exit 1
    fi
}

# trace FILE [KEY=VALUE ...] -- FIELDS...: events from a decision trace, tab-separated.
trace() { python3 "$LAB_ROOT/tools/labs/trace_tsv.py" "$@"; }
