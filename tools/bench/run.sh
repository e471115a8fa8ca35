#!/usr/bin/env bash
# `make bench`: the benchmark suite of issue 7, inside network namespaces created here (deleted
# on exit, even on error or Ctrl-C). Writes docs/benchmarks.md and prints the ratios.
#
# Knobs (environment): BENCH_SECS (seconds per bulk/rate run, default 3), BENCH_RUNS (runs per
# figure, default 5), BENCH_RR (ping-pong rounds per run, default 20000), BENCH_IDLE (connection
# counts, default "10000 50000"), BENCH_CRR_THREADS (concurrent clients of the second
# connection-rate row, default 2; the first row is one client), BENCH_ONLY (space-separated subset of: bulk ceil lat crr idle
# engine), BENCH_OUT (default docs/benchmarks.md).
set -euo pipefail  # relaxed to -uo below, once the namespaces exist: a failed run leaves a gap, not an abort
# The drivers' post-burst polling is opt-in (src/runtime/poll.rs; ours and --stack smoltcp alike);
# the published figures use it, as docs/benchmarks.md says. TUNSTACK_SPIN_US=0 make bench measures the default.
export TUNSTACK_SPIN_US="${TUNSTACK_SPIN_US:-50}"

cd "$(dirname "$0")/../.."
ROOT=$PWD
SECS=${BENCH_SECS:-3}
RUNS=${BENCH_RUNS:-5}
RR=${BENCH_RR:-20000}
IDLE=${BENCH_IDLE:-10000 50000}
CRR_T=${BENCH_CRR_THREADS:-2}
ONLY=${BENCH_ONLY:-bulk ceil lat crr idle engine}
OUT=${BENCH_OUT:-docs/benchmarks.md}
CARGO=${CARGO:-cargo}

if [ "$(id -u)" != 0 ]; then
    echo "make bench: needs root (it creates network namespaces and TUN devices)" >&2
    exit 77
fi
for t in ip ping; do
    command -v "$t" >/dev/null || { echo "make bench: $t missing (make deps)" >&2; exit 1; }
done

# Optional tools: valgrind (instructions per segment), ethtool (veth without offloads).
miss=()
command -v valgrind >/dev/null || miss+=(valgrind)
command -v ethtool >/dev/null || miss+=(ethtool)
if [ ${#miss[@]} -gt 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing ${miss[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${miss[@]}" >/dev/null 2>&1 || true
fi

echo "bench: building (release)" >&2
$CARGO build --release -q -p tunstack --bin tunstack -p tunstack-bench --bin tsbench
TS=$ROOT/target/release/tunstack
TB=$ROOT/target/release/tsbench

RES=$(mktemp /tmp/ts-bench-results.XXXXXX)
NS=ts-bench-$$        # our stack's namespace (TUN)
NSA=ts-benchA-$$      # Linux column: client side of a veth pair
NSB=ts-benchB-$$      # Linux column: server side
NSC=ts-benchC-$$      # a fresh namespace for our in-process client and idle runs
PIDS=()

# Stop every process in namespace $1 (all started by this script: the namespaces are ours).
ns_kill() {
    local p
    for p in $(ip netns pids "$1" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 100); do [ -z "$(ip netns pids "$1" 2>/dev/null)" ] && return 0; sleep 0.05; done
    for p in $(ip netns pids "$1" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
}
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for n in "$NS" "$NSA" "$NSB" "$NSC"; do ns_kill "$n"; ip netns del "$n" 2>/dev/null; done
    rm -f "$RES"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }
val() { echo "v $1 $2" >>"$RES"; }
meta() { local k=$1; shift; echo "m $k $*" >>"$RES"; }
# key=value field of a tsbench line
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
MHZ=$(awk -F: '/cpu MHz/ {printf "%d", $2; exit}' /proc/cpuinfo)

# ---------- machine ----------
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta machine "CPU: $(awk -F: '/model name/ {sub(/^ /, "", $2); print $2; exit}' /proc/cpuinfo), $(nproc) cores, ${MHZ} MHz nominal (from /proc/cpuinfo)"
meta machine "Kernel: $(uname -srm)"
meta machine "Memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
meta machine "rustc: $(rustc --version 2>/dev/null || echo unknown); build: cargo --release"
meta machine "Shared machine: other jobs may run at the same time; min–max shows the spread"
meta setting "BENCH_SECS=$SECS s per bulk/rate run, BENCH_RUNS=$RUNS runs per figure (the issue's 10 s runs and 100k rounds are shortened so the suite fits in about 10 minutes)"
meta setting "ping-pong: $RR rounds per run after 100 warm-up rounds; ICMP: 200 echoes at 2 ms intervals per run"
meta setting "tunstack up --serve echo,discard,chargen --seed 1, ours with --msl 1s (a short TIME-WAIT for the connection-rate runs; smoltcp has no such flag), --tcp-buffer 1mb (the 1 MiB send and receive buffers smoltcp's sockets have here) and --offload off, except the *with TUN offloads* rows (--offload on)"

SMOL=no
if "$TS" up --help 2>/dev/null | grep -q -- '--stack'; then SMOL=yes; fi
STACKS="ours"
[ "$SMOL" = yes ] && STACKS="ours smoltcp"
[ "$SMOL" = no ] && meta note "smoltcp column: \`tunstack up --stack smoltcp\` is not in this build yet (n/a)"

ip netns add "$NS"
set +e
in_ns "$NS" ip link set lo up
in_ns "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1

OURPID=
start_stack() { # stack mtu
    # Ours with the 1 MiB buffers smoltcp's socket has here (src/reference/smol.rs): like for like.
    local extra=(--msl 1s --tcp-buffer 1mb --offload off)
    [ "$1" = smoltcp ] && extra=(--stack smoltcp)
    [ "$1" = ours-tso ] && extra=(--msl 1s --tcp-buffer 1mb --offload on)
    ip netns exec "$NS" "$TS" up --tun tsb0 --mtu "$2" --serve echo,discard,chargen --seed 1 \
        "${extra[@]}" >/dev/null 2>>/tmp/ts-bench-stack.log &
    OURPID=$!
    PIDS+=("$OURPID")
    for _ in $(seq 100); do
        if in_ns "$NS" "$TB" rr --to 198.18.0.2:7 --rounds 1 >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    echo "bench: $1 stack did not come up" >&2
    return 1
}
stop_stack() {
    kill -TERM "$OURPID" 2>/dev/null || true
    wait "$OURPID" 2>/dev/null || true
    # The device goes with the process; wait for it to disappear before the next one.
    for _ in $(seq 50); do in_ns "$NS" ip link show tsb0 >/dev/null 2>&1 || break; sleep 0.05; done
}

# A run of `tsbench send|recv` against the stack: Gbit/s and cycles per byte.
bulk_run() { # stack dir mtu port
    local t0 t1 out bytes
    t0=$(ticks "$OURPID")
    out=$(in_ns "$NS" "$TB" "$([ "$2" = k2s ] && echo send || echo recv)" --to "198.18.0.2:$4" --secs "$SECS")
    t1=$(ticks "$OURPID")
    bytes=$(field "$out" bytes)
    val "bulk.$1.$2.$3" "$(field "$out" gbps)"
    val "cpb.$1.$2.$3" "$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v mhz="$MHZ" -v b="$bytes" 'BEGIN { printf "%.3f", t / hz * mhz * 1e6 / b }')"
}

veth_up() { # mtu [nooffload]
    ip netns del "$NSA" 2>/dev/null || true
    ip netns del "$NSB" 2>/dev/null || true
    ip netns add "$NSA"
    ip netns add "$NSB"
    ip link add tsbva netns "$NSA" type veth peer name tsbvb netns "$NSB"
    in_ns "$NSA" ip addr add 198.18.1.1/24 dev tsbva
    in_ns "$NSB" ip addr add 198.18.1.2/24 dev tsbvb
    for n in "$NSA" "$NSB"; do
        in_ns "$n" ip link set lo up
        in_ns "$n" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
    done
    in_ns "$NSA" ip link set tsbva mtu "$1" up
    in_ns "$NSB" ip link set tsbvb mtu "$1" up
    if [ "${2:-}" = nooffload ]; then
        in_ns "$NSA" ethtool -K tsbva tso off gso off gro off >/dev/null 2>&1 || true
        in_ns "$NSB" ethtool -K tsbvb tso off gso off gro off >/dev/null 2>&1 || true
    fi
    # echo-ev (one thread, epoll) is the echo of the connection-rate runs (port 7007).
    for m in discard:9 chargen:19 echo:7 echo-ev:7007; do
        ip netns exec "$NSB" "$TB" serve --listen "0.0.0.0:${m#*:}" --mode "${m%:*}" 2>/dev/null &
        PIDS+=("$!")
    done
    for _ in $(seq 100); do
        in_ns "$NSA" "$TB" rr --to 198.18.1.2:7 --rounds 1 >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
veth_down() {
    ns_kill "$NSA"
    ns_kill "$NSB"
    ip netns del "$NSA" 2>/dev/null || true
    ip netns del "$NSB" 2>/dev/null || true
}

want() { [[ " $ONLY " == *" $1 "* ]]; }

# ---------- 1 + 7. bulk ----------
if want bulk; then
    for mtu in 1500 9000 65535; do
        extra_stacks=""
        # Super-segments need 2+ segments in 64 KiB: not at MTU 65535.
        [ "$mtu" != 65535 ] && extra_stacks=ours-tso
        for s in $STACKS $extra_stacks; do
            echo "bench: bulk $s MTU $mtu" >&2
            start_stack "$s" "$mtu"
            for _ in $(seq "$RUNS"); do
                bulk_run "$s" k2s "$mtu" 9
                bulk_run "$s" s2k "$mtu" 19
            done
            stop_stack
        done
        echo "bench: bulk linux veth MTU $mtu" >&2
        veth_up "$mtu"
        for _ in $(seq "$RUNS"); do
            val "bulk.linux.k2s.$mtu" "$(field "$(in_ns "$NSA" "$TB" send --to 198.18.1.2:9 --secs "$SECS")" gbps)"
            val "bulk.linux.s2k.$mtu" "$(field "$(in_ns "$NSA" "$TB" recv --to 198.18.1.2:19 --secs "$SECS")" gbps)"
        done
        veth_down
    done
    if command -v ethtool >/dev/null; then
        echo "bench: bulk linux veth MTU 1500, offloads off" >&2
        veth_up 1500 nooffload
        for _ in $(seq "$RUNS"); do
            val "bulk.linux-nooffload.k2s.1500" "$(field "$(in_ns "$NSA" "$TB" send --to 198.18.1.2:9 --secs "$SECS")" gbps)"
        done
        veth_down
    fi
    meta cmd "ip netns exec $NS tunstack up --tun tsb0 --mtu MTU --serve echo,discard,chargen --seed 1 --msl 1s --tcp-buffer 1mb --offload off   # ours (one packet per syscall)"
    meta cmd "ip netns exec $NS tunstack up ... --offload on   # ours with TUN offloads (IFF_VNET_HDR + TSO4 both ways), MTU 1500 and 9000"
    meta cmd "ip netns exec $NS tunstack up --tun tsb0 --mtu MTU --serve echo,discard,chargen --seed 1 --stack smoltcp"
    meta cmd "ip netns exec $NS tsbench send --to 198.18.0.2:9 --secs $SECS    # kernel → stack discard"
    meta cmd "ip netns exec $NS tsbench recv --to 198.18.0.2:19 --secs $SECS   # stack chargen → kernel (after 200 ms warm-up)"
    meta cmd "ip link add tsbva netns A type veth peer name tsbvb netns B; ip link set ... mtu MTU up"
    meta cmd "ip netns exec B tsbench serve --listen 0.0.0.0:9 --mode discard (19 chargen, 7 echo); ip netns exec A tsbench send|recv --to 198.18.1.2:9|19"
fi

# ---------- 2. TUN ceiling ----------
if want ceil; then
    echo "bench: TUN ceiling" >&2
    for _ in $(seq "$RUNS"); do
        out=$(in_ns "$NS" "$TB" tun-read --tun tsbc0 --secs 2)
        val ceil.read.pps "$(field "$out" pps)"
        val ceil.read.gbps "$(field "$out" gbps)"
        out=$(in_ns "$NS" "$TB" tun-write --tun tsbc0 --secs 2)
        val ceil.write.pps "$(field "$out" pps)"
        val ceil.write.gbps "$(field "$out" gbps)"
        # The TCP-aware ceilings (a run that sees a loss prints an error and leaves a gap).
        for c in "sink2 tcp-sink --ack every2" "sinkb tcp-sink --ack eagain" "source tcp-source"; do
            read -r k cmd <<<"$c"
            # shellcheck disable=SC2086 # $cmd is the subcommand and its flags
            out=$(in_ns "$NS" "$TB" $cmd --tun tsbc0 --secs 2 2>&1)
            if [ -n "$(field "$out" gbps)" ]; then
                val "ceil.$k.pps" "$(field "$out" pps)"
                val "ceil.$k.gbps" "$(field "$out" gbps)"
            else
                meta note "tsbench $cmd: $out"
            fi
        done
    done
    meta cmd "ip netns exec $NS tsbench tun-read --tun tsbc0 --secs 2; ip netns exec $NS tsbench tun-write --tun tsbc0 --secs 2"
    meta cmd "ip netns exec $NS tsbench tcp-sink --tun tsbc0 --secs 2 --ack every2|eagain; ip netns exec $NS tsbench tcp-source --tun tsbc0 --secs 2   # TCP-aware ceilings (200 ms warm-up each)"
fi

# ---------- 3. latency ----------
icmp_run() { # key ns addr
    in_ns "$2" ping -n -c 200 -i 0.002 -W 1 "$3" 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' |
        sort -g | awk -v k="$1" '{ a[NR] = $1 * 1000 } END { if (NR) { printf "v icmp.%s.p50 %.1f\nv icmp.%s.p99 %.1f\n", k, a[int((NR - 1) * 0.5) + 1], k, a[int((NR - 1) * 0.99) + 1] } }' >>"$RES"
}
if want lat; then
    for s in $STACKS; do
        echo "bench: latency $s" >&2
        start_stack "$s" 1500
        for _ in $(seq "$RUNS"); do
            out=$(in_ns "$NS" "$TB" rr --to 198.18.0.2:7 --rounds "$RR")
            val "rr.$s.p50" "$(field "$out" p50_us)"
            val "rr.$s.p99" "$(field "$out" p99_us)"
            icmp_run "$s" "$NS" 198.18.0.2
        done
        stop_stack
    done
    echo "bench: latency linux" >&2
    veth_up 1500
    for _ in $(seq "$RUNS"); do
        out=$(in_ns "$NSA" "$TB" rr --to 198.18.1.2:7 --rounds "$RR")
        val rr.linux.p50 "$(field "$out" p50_us)"
        val rr.linux.p99 "$(field "$out" p99_us)"
        icmp_run linux "$NSA" 198.18.1.2
    done
    veth_down
    meta cmd "ip netns exec $NS tsbench rr --to 198.18.0.2:7 --rounds $RR"
    meta cmd "ip netns exec $NS ping -n -c 200 -i 0.002 198.18.0.2   # p50/p99 of the time= values"
fi

# ---------- 4. connection rate ----------
if want crr; then
    # Each figure twice: one client (one connection at a time), and CRR_T clients at once, for
    # every stack alike; 1 and N alternate within a run so both see the same load.
    meta crr_threads "$CRR_T"
    for s in $STACKS; do
        echo "bench: connection rate $s" >&2
        start_stack "$s" 1500
        for _ in $(seq "$RUNS"); do
            val "crr.$s.in" "$(field "$(in_ns "$NS" "$TB" crr --to 198.18.0.2:7 --secs "$SECS" --threads 1)" per_sec)"
            val "crr.$s.in.n" "$(field "$(in_ns "$NS" "$TB" crr --to 198.18.0.2:7 --secs "$SECS" --threads "$CRR_T")" per_sec)"
        done
        stop_stack
    done
    echo "bench: connection rate, our client" >&2
    ip netns add "$NSC"
    in_ns "$NSC" ip link set lo up
    # The kernel's echo for our client: one thread on epoll (`echo` starts a thread per
    # connection, which limits any client; the Linux column below uses the same server).
    ip netns exec "$NSC" "$TB" serve --listen 0.0.0.0:7000 --mode echo-ev 2>/dev/null &
    PIDS+=("$!")
    sleep 0.2
    for _ in $(seq "$RUNS"); do
        # Our client two ways: application threads over the blocking api (each call crosses
        # to the driver thread and back), and the event-driven client inside the driver.
        for mode in api inline; do
            for t in 1 "$CRR_T"; do
                flag=()
                [ "$mode" = inline ] && flag=(--inline)
                out=$(in_ns "$NSC" "$TB" our-crr --tun tsbo0 --to 198.18.0.1:7000 --secs "$SECS" --threads "$t" "${flag[@]}" 2>&1)
                [ -n "$(field "$out" per_sec)" ] || meta note "our-crr: $out"
                key=crr.ours.out
                [ "$mode" = inline ] && key=crr.ours.outi
                val "$key$([ "$t" = 1 ] || echo .n)" "$(field "$out" per_sec)"
                for _ in $(seq 50); do in_ns "$NSC" ip link show tsbo0 >/dev/null 2>&1 || break; sleep 0.05; done
            done
        done
    done
    ns_kill "$NSC"
    ip netns del "$NSC"
    veth_up 1500
    for _ in $(seq "$RUNS"); do
        val crr.linux.in "$(field "$(in_ns "$NSA" "$TB" crr --to 198.18.1.2:7007 --secs "$SECS" --threads 1)" per_sec)"
        val crr.linux.in.n "$(field "$(in_ns "$NSA" "$TB" crr --to 198.18.1.2:7007 --secs "$SECS" --threads "$CRR_T")" per_sec)"
    done
    veth_down
    meta cmd "ip netns exec $NS tsbench crr --to 198.18.0.2:7 --secs $SECS --threads 1|$CRR_T   # kernel clients, each one connection at a time"
    meta cmd "ip netns exec $NSC tsbench our-crr --tun tsbo0 --to 198.18.0.1:7000 --secs $SECS --threads 1|$CRR_T [--inline]   # our client (api threads, or in the driver thread) → tsbench serve --mode echo-ev"
    meta cmd "ip netns exec A tsbench crr --to 198.18.1.2:7007 --secs $SECS --threads 1|$CRR_T   # Linux ↔ Linux over veth, → tsbench serve --mode echo-ev"
fi

# ---------- 5. idle connections ----------
if want idle; then
    for n in $IDLE; do
        echo "bench: $n idle connections" >&2
        ip netns add "$NSC"
        in_ns "$NSC" ip link set lo up
        for _ in $(seq "$RUNS"); do
            out=$(in_ns "$NSC" "$TB" our-idle --tun tsbi0 --n "$n")
            val "idle.$n.secs" "$(field "$out" secs)"
            val "idle.$n.per_sec" "$(field "$out" per_sec)"
            val "idle.$n.bytes" "$(field "$out" bytes_per_conn)"
            [ "$(field "$out" accepted)" = "$n" ] || meta note "idle $n: $out"
            for _ in $(seq 50); do in_ns "$NSC" ip link show tsbi0 >/dev/null 2>&1 || break; sleep 0.05; done
        done
        ns_kill "$NSC"
        ip netns del "$NSC"
    done
    meta cmd "ip netns exec $NSC tsbench our-idle --tun tsbi0 --n N   # our stack in-process, one accept thread holds the connections; kernel clients connect one by one"
fi

# ---------- 6. engine ----------
if want engine; then
    echo "bench: engine (criterion)" >&2
    crit=$($CARGO bench -q -p tunstack-bench --bench engine -- --noplot 2>/dev/null || true)
    # "engine_mtu1500/recv_path_1MiB" then "thrpt:  [a Melem/s b Melem/s c Melem/s]"
    awk '/^engine_mtu/ { split($1, p, "/"); name = p[1] "/" p[2] }
         /thrpt:/ && name != "" { for (i = 1; i <= NF; i++) if ($i ~ /\[/) { lo = $(i) ; sub(/\[/, "", lo); u = $(i + 3); mid = $(i + 2); hi = $(i + 4) }
                    f = (u ~ /^K/) ? 0.001 : (u ~ /^G/) ? 1000 : (u ~ /^M/) ? 1 : 0.000001
                    split(name, q, "/"); m = q[1]; sub(/engine_mtu/, "", m); path = q[2]; sub(/_path.*/, "", path)
                    printf "v engine.%s.%s %.4f\n", m, path, mid * f; name = "" }' <<<"$crit" >>"$RES"
    if command -v valgrind >/dev/null; then
        echo "bench: engine (callgrind)" >&2
        for mtu in 1500 9000; do
            for p in recv send; do
                tog=(--toggle-collect='*Pair::recv_side*')
                [ "$p" = send ] && tog=(--toggle-collect='*Pair::send_side*' --toggle-collect='*Pair::ack_side*')
                log=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "${tog[@]}" "$TB" engine --mb 16 --mtu "$mtu" 2>&1)
                segs=$(sed -n 's/.*segments=\([0-9]*\).*/\1/p' <<<"$log")
                ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$log")
                [ -n "$segs" ] && [ -n "$ir" ] && val "ir.$mtu.$p" "$(awk -v a="$ir" -v b="$segs" 'BEGIN { printf "%.0f", a / b }')"
            done
        done
        meta cmd "valgrind --tool=callgrind --toggle-collect='*Pair::recv_side*' tsbench engine --mb 16 --mtu MTU   # (send: send_side + ack_side)"
    fi
    meta cmd "cargo bench -p tunstack-bench --bench engine   # criterion; the engine figure is criterion's point estimate (one value, no runs)"
fi

"$TB" report --results "$RES" >"$OUT"
if [ -f tools/bench/notes.md ]; then cat tools/bench/notes.md >>"$OUT"; fi
echo "bench: wrote $OUT" >&2
# The ratios, on the terminal.
grep -E '^\| ' "$OUT" | grep -E '×|n/a' || true
