#!/usr/bin/env bash
# tunstack demo: a private network namespace, `tunstack up --pcap` inside it, real tools against it.
# Usage: make demo   (or: cargo build --release && sudo tools/demo.sh [extra `tunstack up` flags])
# Example with an impaired link: sudo tools/demo.sh --delay 20ms --loss 1% --seed 7
set -u
cd "$(dirname "$0")/.."

BIN=${TUNSTACK_BIN:-target/release/tunstack}
NS="ts-demo-$$"
KERNEL=198.18.0.1
STACK=198.18.0.2
OUT=${DEMO_DIR:-/tmp/tunstack-demo-$$}
PCAP="$OUT/demo.pcapng"
LOG="$OUT/tunstack.log"
TS_PID=""

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

if [ "$(id -u)" -ne 0 ]; then
    cat >&2 <<EOF
tools/demo.sh needs root: it creates a network namespace and a TUN device inside it.
Run it as:   sudo make demo     (or: cargo build --release && sudo tools/demo.sh)
Nothing outside the private namespace "$NS" is touched.
EOF
    exit 1
fi
if [ ! -x "$BIN" ]; then
    echo "no $BIN: run 'cargo build --release' first (make demo does)" >&2
    exit 1
fi

cleanup() {
    if [ -n "$TS_PID" ] && kill -0 "$TS_PID" 2>/dev/null; then
        kill -INT "$TS_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$TS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$TS_PID" 2>/dev/null
        wait "$TS_PID" 2>/dev/null
    fi
    ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Show a command, run it inside the namespace, show its output.
run() {
    printf '\n\033[36m$ %s\033[0m\n' "$*"
    ip netns exec "$NS" "$@" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || printf '\033[33m(exit status %d)\033[0m\n' "$rc"
    return 0
}

mkdir -p "$OUT"
bold "namespace $NS"
ip netns add "$NS" || exit 1
ip netns exec "$NS" ip link set lo up

bold "starting: $BIN up --pcap $PCAP $*"
ip netns exec "$NS" "$BIN" up --pcap "$PCAP" "$@" >"$LOG" 2>&1 &
TS_PID=$!
for _ in $(seq 100); do
    ip netns exec "$NS" ip -o -4 addr show | grep -q "inet $KERNEL/" && break
    kill -0 "$TS_PID" 2>/dev/null || break
    sleep 0.1
done
if ! ip netns exec "$NS" ip -o -4 addr show | grep -q "inet $KERNEL/"; then
    echo "tunstack did not bring the device up; its output:" >&2
    cat "$LOG" >&2
    exit 1
fi
run ip -br addr show
run ip route show

bold "ICMP echo (RFC 792)"
run ping -n -c 3 -i 0.2 -W 2 "$STACK"
bold "ICMP echo, 4000 bytes: fragmented by the kernel, reassembled and answered by tunstack"
run ping -n -c 2 -i 0.2 -W 2 -s 4000 "$STACK"

if have socat; then
    bold "UDP echo (port 7) with socat"
    printf '\n\033[36m$ echo "hello, tunstack" | socat -t 1 - UDP:%s:7\033[0m\n' "$STACK"
    echo "hello, tunstack" | ip netns exec "$NS" socat -t 1 -T 3 - "UDP:$STACK:7" 2>&1
fi
if have python3; then
    bold "UDP to a closed port: tunstack answers ICMP port unreachable, the kernel says ECONNREFUSED"
    run python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.connect(('$STACK', 33434)); s.send(b'anyone?')
try:
    s.recv(100); print('got an answer?')
except ConnectionRefusedError as e: print('recv:', e)
except socket.timeout: print('recv: timed out (no ICMP error came back)')"
fi

# TCP, once the engine answers: guarded so the demo stays green before that.
if have curl && ip netns exec "$NS" timeout 3 bash -c "exec 3<>/dev/tcp/$STACK/80" 2>/dev/null; then
    bold "HTTP over our TCP"
    run curl -sS -m 5 -i "http://$STACK/"
    bold "1 MB over our TCP"
    printf '\n\033[36m$ curl -sS -m 20 -o /dev/null -w ... http://%s/bytes/1000000\033[0m\n' "$STACK"
    ip netns exec "$NS" curl -sS -m 20 -o /dev/null \
        -w '%{size_download} bytes in %{time_total} s (%{speed_download} bytes/s)\n' \
        "http://$STACK/bytes/1000000" 2>&1
fi
if have socat && ip netns exec "$NS" timeout 3 bash -c "exec 3<>/dev/tcp/$STACK/7" 2>/dev/null; then
    bold "TCP echo (port 7) with socat"
    printf '\n\033[36m$ echo "hello over TCP" | socat -t 2 - TCP:%s:7\033[0m\n' "$STACK"
    echo "hello over TCP" | ip netns exec "$NS" socat -t 2 -T 5 - "TCP:$STACK:7" 2>&1
fi

bold "stopping tunstack (SIGINT) - its report"
kill -INT "$TS_PID" 2>/dev/null
for _ in $(seq 50); do kill -0 "$TS_PID" 2>/dev/null || break; sleep 0.1; done
wait "$TS_PID" 2>/dev/null
TS_PID=""
cat "$LOG"

bold "capture: $PCAP"
ls -l "$PCAP" 2>/dev/null || echo "(no capture file written)"
if have tshark && [ -s "$PCAP" ]; then
    printf '\n\033[36m$ tshark -r %s\033[0m\n' "$PCAP"
    tshark -r "$PCAP" 2>/dev/null | head -40
    printf '\n\033[36m$ tshark -r %s -q -z io,phs\033[0m\n' "$PCAP"
    tshark -r "$PCAP" -q -z io,phs 2>/dev/null
    echo
    echo "open it in Wireshark:  wireshark $PCAP"
    echo "useful filters: icmp | udp.port == 7 | ip.flags.mf == 1 || ip.frag_offset > 0 | frame.packet_flags_direction == 1 (into tunstack)"
else
    echo "(install tshark to see a summary: apt-get install tshark)"
fi
