#!/usr/bin/env bash
# Lab 2: the speed of light: the seed's RTT table.
# The RTTs emulated with --delay (half each way), measured with ping and curl -w.
# docs/labs/02-speed-of-light.md. Usage: sudo tools/labs/02.sh
source "$(dirname "$0")/lib.sh"
lab_init 02 "speed of light: the seed's RTT table"
lab_need curl ping

# route | RTT in ms (seed-networking.txt, "The Speed of Light Problem")
ROUTES=(
    "same-data-center|0.01"
    "same-region-East-Coast|3.3"
    "cross-country-NY-LA|27"
    "transatlantic-NY-London|37"
    "around-the-world|267"
)
FMT='%{time_connect} %{time_total}\n'

printf '\n  %-24s %9s %9s %11s %11s %9s %9s   (ms, best of 3 pings, 5 curls)\n' route "RTT" "ping" "connect" "GET /" "conn/RTT" "GET/RTT"
: >"$LAB_OUT/table.txt"
for r in "${ROUTES[@]}"; do
    name=${r%%|*}
    rtt=${r##*|}
    one_way_us=$(awk "BEGIN { printf \"%d\", $rtt * 1000 / 2 }")
    ts_up --delay "${one_way_us}us" --seed 2 --serve http >/dev/null
    # Best of N: the host's noise only ever adds time, so the minimum is the path's RTT.
    ping_ms=$(nsx ping -n -c 3 -i 0.2 -W 3 "$STACK" | sed -n "s/.*time=\([0-9.]*\) ms/\1/p" | minof)
    : >"$LAB_OUT/$name.txt"
    for i in 1 2 3 4 5; do curl_w "$FMT" "http://$STACK/" >>"$LAB_OUT/$name.txt"; done
    conn_ms=$(awk '{ print $1 * 1000 }' "$LAB_OUT/$name.txt" | minof)
    get_ms=$(awk '{ print $2 * 1000 }' "$LAB_OUT/$name.txt" | minof)
    echo "$name $rtt $ping_ms $conn_ms $get_ms" >>"$LAB_OUT/table.txt"
    printf '  %-24s %9s %9.3f %11.3f %11.3f %9.2f %9.2f\n' "$name" "$rtt" "$ping_ms" "$conn_ms" "$get_ms" \
        "$(calc "$conn_ms / $rtt")" "$(calc "$get_ms / $rtt")"
done
ts_down

echo
lab_say "checks"
while read -r name rtt ping_ms conn_ms get_ms; do
    # Lower bounds are physics (the emulator holds each packet for RTT/2 each way); the upper
    # bounds allow the host's scheduling noise (2 shared cores): 15 % plus 3 ms (8 ms for the
    # GET, which also starts a server thread).
    check_range "$name: ping RTT (ms)" "$ping_ms" "$(calc "$rtt * 0.99")" "$(calc "$rtt * 1.15 + 3")"
    check_range "$name: connect = 1 RTT (ms)" "$conn_ms" "$(calc "$rtt * 0.99")" "$(calc "$rtt * 1.15 + 3")"
    check_range "$name: GET / = 2 RTT (ms)" "$get_ms" "$(calc "$rtt * 1.98")" "$(calc "$rtt * 2.3 + 8")"
done <"$LAB_OUT/table.txt"
lab_end
