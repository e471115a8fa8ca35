#!/usr/bin/env bash
# Lab 8: head-of-line blocking: a message stream over TCP vs UDP under loss.
# The per-message latency distribution. docs/labs/08-head-of-line.md.
# Usage: sudo tools/labs/08.sh
source "$(dirname "$0")/lib.sh"
lab_init 08 "head-of-line blocking: a message stream over TCP vs UDP under loss"
lab_need python3 tshark
HOL="python3 $LAB_ROOT/tools/labs/hol.py"
RTT_MS=40
COUNT=500      # messages
INTERVAL=0.01  # one every 10 ms
SIZE=1448      # one full segment each (so Nagle on the echo server never holds one back)
LOSS=2%

# Each transport gets its own tunstack (same seed, same loss) so the counters are its own.
ts_up --delay 20ms --loss $LOSS --seed 8 --serve udp-echo --pcap "$LAB_OUT/udp.pcapng"
read -r u_sent u_recv u50 u90 u99 umax < <(nsx $HOL udp "$STACK" 7 $COUNT $INTERVAL $SIZE 2 "$LAB_OUT/udp.txt")
ts_down
ts_up --delay 20ms --loss $LOSS --seed 8 --serve echo --pcap "$LAB_OUT/tcp.pcapng"
read -r t_sent t_recv t50 t90 t99 tmax < <(nsx $HOL tcp "$STACK" 7 $COUNT $INTERVAL $SIZE 5 "$LAB_OUT/tcp.txt")
ts_down
tcp_counters=$(grep '^tcp:' "$TS_LOG")

printf '\n  %-5s %6s %9s %9s %9s %9s %9s\n' "" sent received "p50(ms)" "p90(ms)" "p99(ms)" "max(ms)"
printf '  %-5s %6s %9s %9s %9s %9s %9s\n' UDP "$u_sent" "$u_recv" "$u50" "$u90" "$u99" "$umax"
printf '  %-5s %6s %9s %9s %9s %9s %9s\n' TCP "$t_sent" "$t_recv" "$t50" "$t90" "$t99" "$tmax"
lab_say "our stack (TCP run): $tcp_counters"
# The distribution: messages per latency bucket.
hist() {
    awk '$2 == "lost" { b["lost"]++; next }
        { ms = $2; k = (ms < 50 ? "<50" : ms < 100 ? "50-100" : ms < 200 ? "100-200" : ms < 400 ? "200-400" : ">=400"); b[k]++ }
        END { printf "%7d %7d %8d %8d %7d %6d\n", b["<50"], b["50-100"], b["100-200"], b["200-400"], b[">=400"], b["lost"] }' "$1"
}
printf '\n  %-5s %7s %7s %8s %8s %7s %6s   (messages per latency bucket, ms)\n' "" "<50" "50-100" "100-200" "200-400" ">=400" lost
printf '  %-5s %s\n' UDP "$(hist "$LAB_OUT/udp.txt")" TCP "$(hist "$LAB_OUT/tcp.txt")"
# Head-of-line victims: messages that were delayed by more than one extra RTT.
u_lost=$((u_sent - u_recv))
t_late=$(awk -v l=$((2 * RTT_MS)) '$2 != "lost" && $2 > l' "$LAB_OUT/tcp.txt" | wc -l)
u_late=$(awk -v l=$((2 * RTT_MS)) '$2 != "lost" && $2 > l' "$LAB_OUT/udp.txt" | wc -l)
lab_say "UDP: $u_lost messages lost, $u_late late (> 2 RTT); TCP: 0 lost is the promise, $t_late late (> 2 RTT)"
echo "  a TCP stretch (message: latency ms), the staircase is head-of-line blocking:"
awk -v l=$((2 * RTT_MS)) '$2 != "lost" && $2 > l { print; if (++n == 8) exit }' "$LAB_OUT/tcp.txt" | tr '\n' ' ' | sed 's/^/    /'
echo

echo
lab_say "checks"
check_range "UDP: share delivered (2% loss each way: ~96%)" "$(calc "$u_recv / $u_sent")" 0.90 0.995
# A delivered datagram never waits for a lost one: UDP's latency is the path's (plus the host's
# scheduling noise on a loaded machine, which shows in UDP's p99 too: 44-140 ms measured).
check_range "UDP: median latency = 1 RTT (ms)" "$u50" "$RTT_MS" "$(calc "$RTT_MS * 1.25")"
check_true "TCP: every message delivered" "$t_recv == $t_sent" "$t_recv of $t_sent"
check_true "TCP: p99 above 2 RTT (a repair costs at least 1 more RTT)" "$t99 > 2 * $RTT_MS" "p99 $t99 ms"
# UDP's p99 carries the host's noise (48-140 ms measured on a loaded machine), its median does
# not: TCP's tail is at least one repair (1 RTT) above UDP's typical message.
check_true "TCP p99 > UDP p99 (head-of-line blocking)" "$t99 > $u99" "$t99 ms vs $u99 ms"
check_true "TCP p99 > UDP median + 1 RTT" "$t99 > $u50 + $RTT_MS" "$t99 ms vs $u50 + $RTT_MS ms"
check_true "TCP: more messages late than UDP lost (one loss stalls many)" "$t_late >= 2 * $u_lost" "$t_late late vs $u_lost lost"
check_true "TCP: late messages (> 2 RTT) at least 3 x UDP's" "$t_late >= 3 * $u_late" "$t_late vs $u_late"
lab_say "captures: $LAB_OUT/tcp.pcapng (tcp.analysis.retransmission || tcp.analysis.out_of_order), $LAB_OUT/udp.pcapng"
lab_end
