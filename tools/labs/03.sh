#!/usr/bin/env bash
# Lab 3: bandwidth vs latency: window/RTT, the BDP, fat-long vs thin-short pipes.
# docs/labs/03-bandwidth-latency.md.
# Usage: sudo tools/labs/03.sh
source "$(dirname "$0")/lib.sh"
lab_init 03 "bandwidth vs latency"
lab_need curl tshark python3
READ="python3 $LAB_ROOT/tools/labs/window_read.py"
SECS=2

# adv_window PCAP N: the window the kernel (the receiver) advertised most often in the N-th
# connection (0-based, in the order of their SYNs; a late packet of an earlier tunstack's
# connection can open a stream of its own), zero windows and the SYN left out, in bytes.
adv_window() {
    # One tshark pass per capture (cached): stream, SYN-without-ACK, source, window.
    [ -s "$1.tsv" ] || tshark -r "$1" -Y tcp -T fields -e tcp.stream -e tcp.flags.syn -e tcp.flags.ack \
        -e ip.src -e tcp.window_size 2>/dev/null >"$1.tsv"
    awk -F'\t' -v n="$2" -v k="$KERNEL" '
        $2 == 1 && $3 == 0 && !($1 in seen) { seen[$1] = 1; if (c++ == n) s = $1 }
        { st[NR] = $1; syn[NR] = $2; src[NR] = $4; w[NR] = $5 }
        END { for (i = 1; i <= NR; i++) if (st[i] == s && src[i] == k && syn[i] == 0 && w[i] > 0) cnt[w[i]]++
              for (v in cnt) if (cnt[v] > best) { best = cnt[v]; mode = v }
              print mode }' "$1.tsv"
}

# Part A: the same path (RTT 100 ms), four receive buffers. The kernel reads chargen (TCP 19)
# with SO_RCVBUF set, so it advertises a small fixed window.
lab_say "part A: RTT 100 ms, receive buffer 16, 32, 64 KiB"
ts_up --delay 50ms --seed 3 --serve chargen --pcap "$LAB_OUT/a.pcapng"
: >"$LAB_OUT/a.txt"
for buf in 16384 32768 65536; do
    echo "$buf $(nsx $READ "$STACK" 19 $SECS $buf)" >>"$LAB_OUT/a.txt"
done
ts_down
# Part B: the same 32 KiB buffer at RTT 20 ms.
lab_say "part B: RTT 20 ms, receive buffer 32 KiB"
ts_up --delay 10ms --seed 3 --serve chargen --pcap "$LAB_OUT/b.pcapng"
# Best of 2: at 20 ms every millisecond the loaded host loses costs 5 % (measured 0.69-0.98 for
# single runs at load 8); noise can only lower throughput.
for i in 1 2; do nsx $READ "$STACK" 19 $SECS 32768; done | sort -k2 -n | tail -1 | sed 's/^/32768 /' >"$LAB_OUT/b.txt"
ts_down
# Part C: a 10 Mbit/s bottleneck, RTT 50 ms: BDP = 10e6 * 0.05 / 8 = 62500 bytes.
lab_say "part C: 10 Mbit/s, RTT 50 ms (BDP 62.5 kB), receive buffer 16 KiB vs 128 KiB"
ts_up --rate 10mbit --queue 256kb --delay 25ms --seed 3 --serve chargen --pcap "$LAB_OUT/c.pcapng"
: >"$LAB_OUT/c.txt"
for buf in 16384 131072; do
    echo "$buf $(nsx $READ "$STACK" 19 $SECS $buf)" >>"$LAB_OUT/c.txt"
done
ts_down

echo
printf '  %-26s %9s %12s %14s %14s %7s\n' path "rcvbuf" "window(B)" "measured(B/s)" "window/RTT" ratio
table() { # FILE PCAP RTT_S LABEL
    local n=0 buf total rate w
    while read -r buf total rate; do
        w=$(adv_window "$2" $n)
        printf '  %-26s %9s %12s %14s %14.0f %7.2f\n' "$4" "$buf" "$w" "$rate" "$(calc "$w / $3")" "$(calc "$rate * $3 / $w")"
        echo "${4// /} $buf $w $rate $3" >>"$LAB_OUT/rows.txt"
        n=$((n + 1))
    done <"$1"
}
: >"$LAB_OUT/rows.txt"
table "$LAB_OUT/a.txt" "$LAB_OUT/a.pcapng" 0.1 "RTT 100 ms"
table "$LAB_OUT/b.txt" "$LAB_OUT/b.pcapng" 0.02 "RTT 20 ms"
table "$LAB_OUT/c.txt" "$LAB_OUT/c.pcapng" 0.05 "10 Mbit/s, RTT 50 ms"

# Part D: the seed's "10 Gbps with 100ms latency" vs "100 Mbps with 10ms latency".
# The queues are large so that a burst is not tail-dropped (see docs/emulator.md).
lab_say "part D: a small request and 1 MB over 10 Gbit/s + 100 ms vs 100 Mbit/s + 10 ms"
FMT='%{time_total}\n'
# GET /: best of 3 (the host's noise only adds time).
ts_up --rate 10gbit --queue 8mb --delay 50ms --seed 3 --serve http
fat_get=$(for i in 1 2 3; do curl_w "$FMT" "http://$STACK/"; done | minof)
fat_mb=$(curl_w "$FMT" "http://$STACK/bytes/1000000")
ts_up --rate 100mbit --queue 8mb --delay 5ms --seed 3 --serve http
thin_get=$(for i in 1 2 3; do curl_w "$FMT" "http://$STACK/"; done | minof)
thin_mb=$(curl_w "$FMT" "http://$STACK/bytes/1000000")
ts_down
printf '\n  %-28s %12s %12s\n' link "GET / (s)" "1 MB (s)"
printf '  %-28s %12.3f %12.3f\n' "10 Gbit/s, RTT 100 ms" "$fat_get" "$fat_mb"
printf '  %-28s %12.3f %12.3f\n' "100 Mbit/s, RTT 10 ms" "$thin_get" "$thin_mb"

echo
lab_say "checks"
# Window-limited rows (all but the 128 KiB buffer behind 10 Mbit/s): throughput = window / RTT.
# Above 1 is impossible (at most one window per RTT); below, a loaded host falls behind at the
# higher rates: measured 0.92-1.00 on a quiet machine, down to 0.84 under load: 0.80. Behind the
# 10 Mbit/s bottleneck the real RTT is longer than the propagation delay (each packet also waits
# its turn: 1.2 ms per 1500 bytes), measured 0.86-0.90: 0.75 there. An unoptimised (debug)
# tunstack: measured 0.81-0.83 at 0.8-1.9 MB/s: 0.70.
while read -r label buf w rate rtt; do
    [ "$buf" = 131072 ] && continue
    lo=0.80
    case $label in 10Mbit*) lo=0.75 ;; esac
    [ "${LAB_DEBUG_BUILD:-0}" = 1 ] && lo=0.70
    check_range "$label rcvbuf $buf: throughput x RTT / window" "$(calc "$rate * $rtt / $w")" $lo 1.15
done <"$LAB_OUT/rows.txt"
a32=$(awk '$1 == 32768 { print $3 }' "$LAB_OUT/a.txt")
b32=$(awk '$1 == 32768 { print $3 }' "$LAB_OUT/b.txt")
check_range "same window, RTT 100 -> 20 ms: throughput x" "$(calc "$b32 / $a32")" 4 6
# Window above the BDP: the link is the limit, 10 Mbit/s of IP packets = 10e6/8 * 1448/1500 payload.
big=$(awk '$1 == 131072 { print $3 }' "$LAB_OUT/c.txt")
wbig=$(adv_window "$LAB_OUT/c.pcapng" 1)
check_true "10 Mbit/s: the big window exceeds the BDP (62500 B)" "$wbig > 62500" "window $wbig B"
check_range "10 Mbit/s, window > BDP: throughput / link payload rate" "$(calc "$big / (10e6 / 8 * 1448 / 1500)")" 0.85 1.02
check_true "interactive GET /: 100 Mbit/s+10 ms beats 10 Gbit/s+100 ms by 5x" "$fat_get > 5 * $thin_get" "$fat_get s vs $thin_get s"
check_range "GET / on the 10 Gbit/s link = 2 RTT (s)" "$fat_get" 0.198 0.23
check_true "1 MB: the 100 Mbit/s link is faster too" "$fat_mb > $thin_mb" "$fat_mb s vs $thin_mb s"
lab_end
