#!/usr/bin/env bash
# Lab 4: retransmission and the RTO: a scripted drop, the timeout, its exponential back-off.
# docs/labs/04-rto.md. Runs in the simulator (virtual time, no root). Usage: tools/labs/04.sh
source "$(dirname "$0")/lib.sh"
lab_init_sim 04 "retransmission and the RTO"
need_feature "tunstack sim (two stacks in virtual time)" sim
need_feature "scripted impairments (--impair 'drop data#3')" sim --impair
need_feature "the decision trace (tunstack sim --trace)" sim --trace
lab_need python3
RTT_MS=100

# Part A: a tail loss. 20 kB = 14 full segments and a 208-byte one (bytes 20273-20480). Drop
# that last segment and its first three retransmissions: nothing follows it, so no duplicate
# ACKs can announce the loss; only timers can (a tail loss probe, RFC 8985 §7, then the RTO).
sim --bytes 20kb --rtt ${RTT_MS}ms --seed 4 --impair 'drop seq=20300 count=4' \
    --trace "$LAB_OUT/tail.jsonl" --pcap "$LAB_OUT/tail.pcapng"
trace "$LAB_OUT/tail.jsonl" ev=send host=client -- t seq len cause rexmit >"$LAB_OUT/tail-sends.tsv"
# The original of the last segment and every retransmission of it.
awk -F'\t' '$2 <= 20273 && $2 + $3 > 20273 && $3 > 0' "$LAB_OUT/tail-sends.tsv" >"$LAB_OUT/tail-last.tsv"
echo "  sends of the last segment (t in ms, cause):"
awk -F'\t' '{ printf "    %9.1f  seq %s  %s\n", $1 / 1000, $2, $4 }' "$LAB_OUT/tail-last.tsv"
# The gap before each RTO retransmission (from the previous send of the segment).
read -r g1 g2 g3 _ < <(awk -F'\t' 'NR > 1 && $4 == "rto" { printf "%s ", ($1 - p) / 1000 } { p = $1 } END { print "" }' "$LAB_OUT/tail-last.tsv")
rtos=$(awk -F'\t' '$4 == "rto"' "$LAB_OUT/tail-sends.tsv" | wc -l)
tlps=$(awk -F'\t' '$4 == "tail_loss_probe"' "$LAB_OUT/tail-sends.tsv" | wc -l)
fast_a=$(awk -F'\t' '$4 == "fast_retransmit"' "$LAB_OUT/tail-sends.tsv" | wc -l)
srtt_ms=$(trace "$LAB_OUT/tail.jsonl" ev=rtt host=client -- srtt_us | tail -1 | awk '{ print $1 / 1000 }')
lab_say "$tlps tail loss probe(s); gaps before the RTOs: ${g1:-?} ms, ${g2:-?} ms, ${g3:-?} ms (SRTT before the loss: $srtt_ms ms)"

# Part B: the same loss in the middle of a longer transfer: the segments after it make the
# receiver send duplicate ACKs, and the third one triggers a fast retransmit, long before any RTO.
sim --bytes 100kb --rtt ${RTT_MS}ms --seed 4 --impair 'drop data#3' --trace "$LAB_OUT/mid.jsonl"
trace "$LAB_OUT/mid.jsonl" ev=send host=client -- t seq len cause >"$LAB_OUT/mid-sends.tsv"
seq3=$(awk -F'\t' '$3 > 0 { n++ } n == 3 { print $2; exit }' "$LAB_OUT/mid-sends.tsv")
t_orig=$(awk -F'\t' -v s="$seq3" '$2 == s { print $1; exit }' "$LAB_OUT/mid-sends.tsv")
t_fast=$(awk -F'\t' -v s="$seq3" '$2 == s && $4 == "fast_retransmit" { print $1; exit }' "$LAB_OUT/mid-sends.tsv")
rtos_b=$(awk -F'\t' '$4 == "rto"' "$LAB_OUT/mid-sends.tsv" | wc -l)
lab_say "data#3 (seq $seq3) sent at $(calc "${t_orig:-0} / 1000") ms, fast-retransmitted at $(calc "${t_fast:-0} / 1000") ms"

echo
lab_say "checks"
check_true "tail loss: repaired by timers only (probe + RTOs = 4)" "$rtos + $tlps == 4 && $fast_a == 0" "$tlps probe(s), $rtos RTO, $fast_a fast"
check_true "tail loss: the 5th copy gets through (5 sends of the segment)" "$(wc -l <"$LAB_OUT/tail-last.tsv") == 5" "$(wc -l <"$LAB_OUT/tail-last.tsv") sends"
check_range "first RTO >= max(200 ms, SRTT) (ms)" "${g1:-0}" "$(calc "($srtt_ms > 200 ? $srtt_ms : 200)")" 1000
check_range "back-off: 2nd timeout / 1st (RFC 6298 5.5)" "$(calc "${g2:-0} / ${g1:-1}")" 1.95 2.05
check_range "back-off: 3rd timeout / 2nd" "$(calc "${g3:-0} / ${g2:-1}")" 1.95 2.05
check_true "mid-transfer loss: a fast retransmit, no RTO" "${t_fast:-0} > 0 && $rtos_b == 0" "fast at ${t_fast:-none} us, $rtos_b RTO"
check_range "mid-transfer loss: repaired in about 1 RTT (RTTs)" "$(calc "(${t_fast:-0} - ${t_orig:-0}) / ($RTT_MS * 1000)")" 0.95 1.6
lab_say "files: $LAB_OUT (tail.pcapng: Wireshark filter frame.comment contains \"RTO\")"
lab_end
