#!/usr/bin/env bash
# Lab 5: fast retransmit and SACK; NewReno vs RACK.
# retransmission with duplicate-ACK recovery vs RACK. docs/labs/05-sack.md.
# Runs in the simulator (virtual time, no root). Usage: tools/labs/05.sh
source "$(dirname "$0")/lib.sh"
lab_init_sim 05 "fast retransmit and SACK; NewReno vs RACK"
need_feature "tunstack sim (two stacks in virtual time)" sim
need_feature "scripted impairments (--impair 'drop data#3')" sim --impair
need_feature "SACK on/off in the simulator (tunstack sim --sack on|off)" sim --sack
need_feature "the decision trace (tunstack sim --trace)" sim --trace
lab_need python3
RTT_MS=100
MSS=1448
# Three segments of the same window: data#20, #23 and #26 (relative seq 1 + (N-1) x 1448).
DROPS=(--impair 'drop data#20' --impair 'drop data#23' --impair 'drop data#26')

# recovery FILE: "first-retransmit-ms last-hole-retransmit-ms retransmissions rtos delivered-by-s"
recovery() {
    trace "$1" ev=send host=client -- t seq len cause rexmit >"$1.sends"
    local holes
    holes=$(for n in 20 23 26; do echo $((1 + (n - 1) * MSS)); done | tr '\n' ' ')
    awk -F'\t' -v h="$holes" 'BEGIN { split(h, a, " "); for (i in a) hole[a[i]] = 1 }
        $5 == "True" || $5 == "true" { r++; if ($4 == "rto") rto++ }
        ($5 == "True" || $5 == "true") && ($2 in hole) && !($2 in seen) { seen[$2] = $1; if (!first) first = $1; last = $1 }
        END { printf "%.1f %.1f %d %d\n", first / 1000, last / 1000, r, rto }' "$1.sends"
}
delivered_by() { sed -n 's/.*delivered by \([0-9.]*\)s.*/\1/p' "$1"; }

lab_say "part A: the same three losses, SACK off (NewReno, RFC 6582) and on (RFC 6675)"
NOSACK=(--sack off)
# Some builds want the recovery named explicitly when SACK is off.
"$BIN" sim --bytes 1kb --sack off >/dev/null 2>&1 || NOSACK+=(--recovery newreno)
sim --bytes 200kb --rtt ${RTT_MS}ms --seed 5 "${DROPS[@]}" "${NOSACK[@]}" --trace "$LAB_OUT/nosack.jsonl" --pcap "$LAB_OUT/nosack.pcapng"
T_NOSACK=$(delivered_by "$SIM_OUT")
sim --bytes 200kb --rtt ${RTT_MS}ms --seed 5 "${DROPS[@]}" --sack on --trace "$LAB_OUT/sack.jsonl" --pcap "$LAB_OUT/sack.pcapng"
T_SACK=$(delivered_by "$SIM_OUT")
read -r ns_first ns_last ns_rexmit ns_rto < <(recovery "$LAB_OUT/nosack.jsonl")
read -r s_first s_last s_rexmit s_rto < <(recovery "$LAB_OUT/sack.jsonl")
printf '\n  %-10s %22s %14s %9s %13s\n' "" "holes repaired (ms)" "retransmits" RTOs "delivered by"
printf '  %-10s %10s .. %8s %14s %9s %12ss\n' "SACK off" "$ns_first" "$ns_last" "$ns_rexmit" "$ns_rto" "$T_NOSACK"
printf '  %-10s %10s .. %8s %14s %9s %12ss\n' "SACK on" "$s_first" "$s_last" "$s_rexmit" "$s_rto" "$T_SACK"

echo
lab_say "checks"
check_true "SACK off: NewReno repairs one hole per RTT (last - first >= 2 RTT)" \
    "$ns_last - $ns_first >= 1.9 * $RTT_MS" "$(calc "$ns_last - $ns_first") ms"
check_true "SACK on: all three holes repaired within 1 RTT" "$s_last - $s_first < $RTT_MS" "$(calc "$s_last - $s_first") ms"
check_true "no timeout in either run" "$ns_rto == 0 && $s_rto == 0" "RTOs: $ns_rto, $s_rto"
# Each hole retransmitted, the first time within 1 RTT of the fast retransmit, and only once (RACK
# orders sends by transmission, RFC 8985 §6.2: the ACKs of new data sent in the same tick before the
# resends do not mark them lost again).
holes_ok=$(awk -F'\t' -v f="$s_first" -v r="$RTT_MS" '($5 == "True" || $5 == "true") && ($2 == 27513 || $2 == 31857 || $2 == 36201) && !($2 in t) { t[$2] = $1 / 1000 }
    END { for (h in t) if (t[h] - f < r) k++; print k + 0 }' "$LAB_OUT/sack.jsonl.sends")
check_true "SACK on: each of the 3 holes retransmitted within 1 RTT" "$holes_ok == 3" "$holes_ok of 3"
check_true "SACK on: no retransmission beyond the 3 holes" "$s_rexmit == 3" "$s_rexmit retransmissions"
check_true "SACK on finishes first" "$T_SACK < $T_NOSACK" "$T_SACK s vs $T_NOSACK s"

# Part B: a lost retransmission. Duplicate-ACK recovery cannot see it; RACK (RFC 8985) can.
help=$("$BIN" sim --help)
if ! grep -qw "rack" <<<"$help"; then
    printf '\n[lab 05] SKIPPED part B (NewReno vs RACK): waiting for a tunstack feature: RACK loss detection (tunstack sim --recovery rack)\n' >&2
else
    base=sack
    grep -qw "dupack" <<<"$help" && base=dupack
    lab_say "part B: the first loss's retransmission is lost too: --recovery $base vs rack"
    LOST=(--impair 'drop seq=27513' --impair 'drop rexmit seq=27513')
    sim --bytes 200kb --rtt ${RTT_MS}ms --seed 5 "${LOST[@]}" --recovery $base --trace "$LAB_OUT/dupack.jsonl"
    T_DUP=$(delivered_by "$SIM_OUT")
    sim --bytes 200kb --rtt ${RTT_MS}ms --seed 5 "${LOST[@]}" --recovery rack --trace "$LAB_OUT/rack.jsonl"
    T_RACK=$(delivered_by "$SIM_OUT")
    rto_dup=$(trace "$LAB_OUT/dupack.jsonl" ev=send host=client cause=rto -- t | wc -l)
    rto_rack=$(trace "$LAB_OUT/rack.jsonl" ev=send host=client cause=rto -- t | wc -l)
    check_true "$base recovery: the lost retransmission needs the RTO" "$rto_dup >= 1" "$rto_dup RTO"
    check_true "RACK: the lost retransmission is detected without an RTO" "$rto_rack == 0" "$rto_rack RTO"
    check_true "RACK finishes first" "$T_RACK < $T_DUP" "$T_RACK s vs $T_DUP s"
fi
lab_say "files: $LAB_OUT (Wireshark: tcp.options.sack_le, tcp.analysis.fast_retransmission, frame.comment)"
lab_end
