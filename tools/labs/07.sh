#!/usr/bin/env bash
# Lab 7: flow control: a slow reader, the zero window, window probes.
# docs/labs/07-flow-control.md. Usage: sudo tools/labs/07.sh
source "$(dirname "$0")/lib.sh"
lab_init 07 "flow control: slow reader, zero window, window probes"
lab_need tshark python3
PCAP=$LAB_OUT/lab07.pcapng
CHUNK=2000
INTERVAL=0.02 # the reader takes 2000 bytes every 20 ms = 100 kB/s
PAUSE=3

ts_up --delay 10ms --seed 7 --serve chargen --pcap "$PCAP"
# Our stack sends chargen (TCP 19) as fast as it is allowed; the kernel-side reader has a
# 16 KiB receive buffer, reads at 100 kB/s for 2 s, stops for 3 s, then reads 200 kB at once.
read -r p1_bytes p1_secs pause_at resume_at p3_bytes < <(nsx python3 "$LAB_ROOT/tools/labs/slow_reader.py" \
    "$STACK" 19 16384 2 $CHUNK $INTERVAL $PAUSE 200000)
ts_down
lab_say "reader: $p1_bytes bytes in ${p1_secs}s, paused ${pause_at}s..${resume_at}s, then $p3_bytes bytes"
probes_counter=$(sed -n 's/^tcp:.*window_probes=\([0-9]*\).*/\1/p' "$TS_LOG")

# From the capture (our stack's view, times from the SYN).
sent_paced=$(tshark -r "$PCAP" -Y "ip.src == $STACK && tcp.len > 1 && frame.time_relative >= 0.5 && frame.time_relative < 2.0" \
    -T fields -e tcp.len 2>/dev/null | awk '{ n += $1 } END { print n + 0 }')
rate=$(calc "$sent_paced / 1.5")
tshark -r "$PCAP" -Y "tcp.analysis.zero_window || tcp.analysis.zero_window_probe || tcp.analysis.window_update" \
    -T fields -e frame.time_relative -e ip.src -e tcp.window_size -e tcp.analysis.zero_window_probe \
    2>/dev/null >"$LAB_OUT/window.tsv"
echo
echo "  time(s)   from         window  event"
awk -v s="$STACK" '{ ev = ($2 == s ? "window probe (1 byte)" : ($3 == 0 ? "ZERO WINDOW" : "window update")); if ($3 == 0 || $2 == s || prev == 0) printf "  %7.3f   %-12s %6s  %s\n", $1, $2, ($2 == s ? "" : $3), ev; prev = ($2 == s ? prev : $3) }' "$LAB_OUT/window.tsv"
# The zero-window episode the probes belong to (a loaded host can make the reader stall for a
# moment earlier, which closes and reopens the window once in the paced phase).
first_zero=$(awk -v k="$KERNEL" -v s="$STACK" '
    BEGIN { open = 1 } $2 == k && $3 == 0 && open != 0 { start = $1 } $2 == k { open = $3 }
    $2 == s { print start; exit }' "$LAB_OUT/window.tsv")
zeros=$(awk -v k="$KERNEL" '$2 == k && $3 == 0' "$LAB_OUT/window.tsv" | wc -l)
awk -v s="$STACK" '$2 == s { print $1 }' "$LAB_OUT/window.tsv" >"$LAB_OUT/probes.txt"
probes=$(wc -l <"$LAB_OUT/probes.txt")
reopen=$(awk -v k="$KERNEL" -v s="$STACK" '$2 == s { p = 1 } p && $2 == k && $3 > 0 { print $1; exit }' "$LAB_OUT/window.tsv")
# Intervals: zero window -> probe 1 -> probe 2 -> probe 3.
read -r i1 i2 i3 < <(awk -v z="${first_zero:-0}" '{ printf "%s ", $1 - (NR == 1 ? z : p); p = $1 } END { print "" }' "$LAB_OUT/probes.txt")

echo
lab_say "checks"
check_range "paced phase: sender's rate / reader's pace (100 kB/s)" "$(calc "$rate / ($CHUNK / $INTERVAL)")" 0.85 1.15
check_true "the kernel advertised a zero window" "$zeros >= 1" "$zeros zero-window ACKs"
check_true "our stack probed the closed window (capture)" "$probes >= 3" "$probes probes"
check_true "tunstack's counter agrees (window_probes)" "${probes_counter:-0} == $probes" "window_probes=${probes_counter:-none}"
check_range "first probe after >= 1 RTO (min 200 ms) (s)" "${i1:-0}" 0.2 0.35
check_range "probe interval doubles: 2nd / 1st" "$(calc "${i2:-0} / ${i1:-1}")" 1.7 2.3
check_range "probe interval doubles: 3rd / 2nd" "$(calc "${i3:-0} / ${i2:-1}")" 1.7 2.3
check_range "window reopened when the reader resumed: closed for (s)" "$(calc "${reopen:-0} - ${first_zero:-0}")" 2.6 3.3
check_true "nothing lost: the reader got all 200000 bytes after the pause" "${p3_bytes:-0} == 200000" "$p3_bytes bytes"
lab_say "capture: $PCAP (Wireshark: tcp.analysis.zero_window || tcp.analysis.zero_window_probe || tcp.analysis.window_update)"
lab_end
