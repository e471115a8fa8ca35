#!/usr/bin/env bash
# Lab 10: HTTP/1.1: 50 small objects over 1, 6 and 50 connections.
# Keep-alive vs a new connection per request; handshakes x RTT. docs/labs/10-http11.md.
# Usage: sudo tools/labs/10.sh
source "$(dirname "$0")/lib.sh"
lab_init 10 "HTTP/1.1: 50 small objects over 1, 6 and 50 connections"
lab_need curl tshark
RTT=0.05
N=50
BASE=http://$STACK

# fetch LABEL CURL-ARGS...: time the 50 objects with a fresh tunstack (its own capture); prints
# "LABEL seconds connections SYNs".
fetch() {
    local label=$1
    shift
    ts_up --delay 25ms --msl 1s --seed 10 --serve http --pcap "$LAB_OUT/$label.pcapng" >/dev/null
    local s e conns
    s=$(date +%s.%N)
    conns=$(nsx curl -s -m 60 -w '%{num_connects}\n' "$@" "${OBJS[@]}" | awk '{ n += $1 } END { print n }')
    e=$(date +%s.%N)
    ts_down
    local syns
    syns=$(tshark -r "$LAB_OUT/$label.pcapng" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0" 2>/dev/null | wc -l)
    echo "$label $(calc "$e - $s") $conns $syns"
}

ts_up --delay 25ms --seed 10 --serve http
OBJS=()
for p in $(nsx curl -s "$BASE/page?n=$N" | grep -o '/obj/[0-9][0-9]*'); do OBJS+=(-o /dev/null "$BASE$p"); done
ts_down
lab_say "GET /page?n=$N references $((${#OBJS[@]} / 3)) objects; RTT $RTT s"

fetch keepalive >"$LAB_OUT/results.txt"
fetch parallel6 --parallel --parallel-immediate --parallel-max 6 --no-progress-meter >>"$LAB_OUT/results.txt"
fetch close -H 'Connection: close' >>"$LAB_OUT/results.txt"

printf '\n  %-40s %9s %7s %12s %6s\n' "how" "time(s)" "RTTs" "connections" SYNs
while read -r label secs conns syns; do
    case $label in
    keepalive) what="1 keep-alive connection, one at a time" ;;
    parallel6) what="6 parallel keep-alive connections" ;;
    close) what="a new connection per request" ;;
    esac
    printf '  %-40s %9.3f %7.1f %12s %6s\n' "$what" "$secs" "$(calc "$secs / $RTT")" "$conns" "$syns"
done <"$LAB_OUT/results.txt"
get() { awk -v l="$1" -v f="$2" '$1 == l { print $f }' "$LAB_OUT/results.txt"; }

# Lower bounds are the predictions (physics); upper bounds from the spread measured on a loaded
# 2-core machine: keep-alive 52.4-60.7, parallel 10.6-12.4, close 104.6-110.0 RTTs (each new
# connection also costs a server thread and curl's own setup, ~0.1 RTT here).
echo
lab_say "checks (predictions: 1 + 50 = 51 RTTs; 1 + ceil(50/6) = 10 RTTs; 50 x 2 = 100 RTTs)"
check_true "keep-alive: 1 connection" "$(get keepalive 3) == 1 && $(get keepalive 4) == 1" "$(get keepalive 3) connection, $(get keepalive 4) SYN"
check_range "keep-alive: RTTs for 50 objects (handshake + 50 requests)" "$(calc "$(get keepalive 2) / $RTT")" 51 64
check_true "parallel: 6 connections" "$(get parallel6 3) == 6 && $(get parallel6 4) == 6" "$(get parallel6 3) connections, $(get parallel6 4) SYNs"
check_range "parallel: RTTs (handshake + ceil(50/6) = 9 rounds)" "$(calc "$(get parallel6 2) / $RTT")" 10 16
check_true "Connection: close: one connection per object" "$(get close 3) == $N && $(get close 4) == $N" "$(get close 3) connections, $(get close 4) SYNs"
check_range "Connection: close: RTTs (50 x (handshake + request))" "$(calc "$(get close 2) / $RTT")" 100 120
check_range "the 49 extra handshakes cost 49 RTTs: (close - keep-alive) / RTT" \
    "$(calc "($(get close 2) - $(get keepalive 2)) / $RTT")" 42 65
lab_say "captures in $LAB_OUT (Wireshark: tcp.flags.syn == 1 && tcp.flags.ack == 0 counts connections, http.request the requests)"
lab_end
