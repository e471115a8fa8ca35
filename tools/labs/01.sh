#!/usr/bin/env bash
# Lab 1: the three-way handshake and the four-way close; RTTs before the first byte.
# docs/labs/01-handshake.md. Usage: sudo tools/labs/01.sh
source "$(dirname "$0")/lib.sh"
lab_init 01 "the three-way handshake and the four-way close"
lab_need curl tshark ss ping

ONE_WAY_MS=50
RTT=$(calc "2 * $ONE_WAY_MS / 1000") # seconds
PCAP=$LAB_OUT/lab01.pcapng

# curl resolves www.lab.test through tunstack's DNS server: `ip netns exec` bind-mounts
# /etc/netns/NS/resolv.conf over /etc/resolv.conf for processes in this namespace only.
mkdir -p "/etc/netns/$NS"
printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$STACK" >"/etc/netns/$NS/resolv.conf"

ts_up --delay ${ONE_WAY_MS}ms --msl 1s --seed 1 --pcap "$PCAP"

rtt_ping=$(ping_rtt_ms 3)
lab_say "ping RTT ${rtt_ping} ms (the emulator adds ${ONE_WAY_MS} ms each way)"

FMT='%{time_namelookup} %{time_connect} %{time_starttransfer} %{time_total} %{local_port}\n'
echo
echo "  run  dns_done  connected  first_byte  total   (seconds since curl started)"
: >"$LAB_OUT/curl.txt"
for i in 1 2 3; do
    line=$(curl_w "$FMT" http://www.lab.test/ -4)
    echo "$line" >>"$LAB_OUT/curl.txt"
    echo "$line" | awk -v i="$i" '{ printf "  %3d  %8.3f  %9.3f  %10.3f  %6.3f\n", i, $1, $2, $3, $4 }'
done
sleep 0.3 # the server's FIN reaches the kernel 50 ms after curl exits
tw_keepalive=$(nsx ss -Htan state time-wait "( dport = :80 )" | wc -l)
# The server closes first when the client asks for it.
line=$(curl_w "$FMT" http://www.lab.test/ -4 -H 'Connection: close')
echo "$line" | awk '{ printf "  %3s  %8.3f  %9.3f  %10.3f  %6.3f   (Connection: close)\n", "4", $1, $2, $3, $4 }'
port_close=$(echo "$line" | awk '{ print $5 }')
sleep 0.3
tw_close=$(nsx ss -Htan state time-wait "( sport = :$port_close )" | wc -l)
ts_down

# Best of 3: the host's scheduling noise only ever adds time.
dns=$(awk '{ print $1 }' "$LAB_OUT/curl.txt" | minof)
hs=$(awk '{ print $2 - $1 }' "$LAB_OUT/curl.txt" | minof)
req=$(awk '{ print $3 - $2 }' "$LAB_OUT/curl.txt" | minof)
ttfb=$(awk '{ print $3 }' "$LAB_OUT/curl.txt" | minof)

# From the capture (our stack's view): SYN-ACK sent -> the handshake's ACK received = 1 RTT.
tshark -r "$PCAP" -Y tcp -T fields -e tcp.stream -e frame.time_relative -e ip.src \
    -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin -e tcp.len -e tcp.seq -e tcp.ack 2>/dev/null >"$LAB_OUT/tcp.tsv"
synack_to_ack=$(awk -v s="$STACK" '
    $4 == 1 && $5 == 1 { t[$1] = $2 }
    $3 != s && $4 == 0 && ($1 in t) && !($1 in done) { print $2 - t[$1]; done[$1] = 1 }' \
    "$LAB_OUT/tcp.tsv" | median)
syns=$(awk '$4 == 1 && $5 == 0' "$LAB_OUT/tcp.tsv" | wc -l)
fins_per_stream=$(awk '$6 == 1 { n[$1]++ } END { for (s in n) print n[s] }' "$LAB_OUT/tcp.tsv" | sort -u | tr '\n' ' ')
first_fin=$(awk '$6 == 1 && !($1 in f) { f[$1] = $3 } END { for (s = 0; s in f; s++) printf "%s ", (f[s] == "'$STACK'" ? "server" : "client") }' "$LAB_OUT/tcp.tsv")

echo
lab_say "checks (RTT = $RTT s)"
check_range "ping RTT (ms): >= 2 x delay, little more" "$rtt_ping" 99.9 115 " ms"
check_range "DNS lookup / RTT (1 round trip)" "$(calc "$dns / $RTT")" 0.98 1.15
check_range "TCP handshake / RTT (1 round trip)" "$(calc "$hs / $RTT")" 0.98 1.15
check_range "request -> first byte / RTT (1 round trip)" "$(calc "$req / $RTT")" 0.98 1.15
check_range "RTTs before the first byte (DNS + handshake + request)" "$(calc "$ttfb / $RTT")" 2.95 3.4
check_range "capture: SYN-ACK sent -> ACK received / RTT" "$(calc "$synack_to_ack / $RTT")" 0.98 1.15
check_true "capture: one SYN per curl (4)" "$syns == 4" "$syns SYNs"
check_true "capture: every connection closes with 2 FINs" "\"$fins_per_stream\" == \"2 \"" "FINs per connection: $fins_per_stream"
check_true "first FIN: client x3 (keep-alive), server x1 (Connection: close)" \
    "\"$first_fin\" == \"client client client server \"" "$first_fin"
check_true "the client closed first -> the kernel holds TIME-WAIT" "$tw_keepalive >= 1" "$tw_keepalive sockets in TIME-WAIT"
# Last connection: did the kernel's FIN acknowledge ours (a passive close: no TIME-WAIT for it),
# or did curl close before our FIN arrived (a simultaneous close: both sides wait)?
passive=$(awk -v s="$STACK" '$6 == 1 && $3 == s { fs[$1] = $8 } $6 == 1 && $3 != s { ka[$1] = $9; last = $1 }
    END { print (ka[last] == fs[last] + 1) ? 1 : 0 }' "$LAB_OUT/tcp.tsv")
if [ "$passive" = 1 ]; then
    check_true "the server closed first -> no TIME-WAIT in the kernel" "$tw_close == 0" "$tw_close sockets in TIME-WAIT"
else
    lab_say "the last close was simultaneous (curl's FIN crossed ours): both sides hold TIME-WAIT ($tw_close in the kernel)"
    check_true "simultaneous close -> the kernel holds TIME-WAIT too" "$tw_close == 1" "$tw_close sockets in TIME-WAIT"
fi
lab_say "capture: $PCAP (Wireshark: tcp.flags.syn == 1 || tcp.flags.fin == 1)"
lab_end
