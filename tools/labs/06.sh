#!/usr/bin/env bash
# Lab 6: congestion control: slow start, AIMD, Reno vs CUBIC, the Mathis formula.
# docs/labs/06-congestion-control.md. Runs in the simulator (virtual time, no root).
# Usage: tools/labs/06.sh
source "$(dirname "$0")/lib.sh"
lab_init_sim 06 "congestion control: slow start, AIMD, Reno vs CUBIC, Mathis"
need_feature "tunstack sim (two stacks in virtual time)" sim
need_feature "the decision trace (tunstack sim --trace)" sim --trace
need_feature "plots (tunstack sim --plot DIR)" sim --plot
lab_need python3
MSS=1448

# cwnd_of FILE: "t_us cwnd ssthresh reason" for the client (the data sender).
cwnd_of() { trace "$1" ev=cwnd host=client -- t cwnd ssthresh reason; }
goodput_bps() { sed -n 's/^goodput *\([0-9.]*\) Mbit\/s.*/\1/p' "$1" | awk '{ print $1 * 1e6 }'; }

# Part A: Reno through a 10 Mbit/s, 50 ms bottleneck with a 64 kB queue: slow start until the
# queue overflows, then additive increase / multiplicative decrease.
lab_say "part A: Reno, 10 Mbit/s, RTT 50 ms, queue 64 kB, 20 s"
sim --duration 20s --rtt 50ms --rate 10mbit --queue 64kb --cc reno --seed 6 \
    --trace "$LAB_OUT/reno.jsonl" --plot "$LAB_OUT/reno-plots"
cwnd_of "$LAB_OUT/reno.jsonl" >"$LAB_OUT/reno-cwnd.tsv"
# Slow start: cwnd at the end of each 50 ms round from the first ACK, until the first reduction.
ss_growth=$(awk -F'\t' '
    $4 ~ /^slow start/ && !cut { if (!t0) t0 = $1; k = int(($1 - t0) / 50000); c[k] = $2; if (k > kmax) kmax = k }
    $4 ~ /retransmit|RTO|recovery/ { cut = 1 }
    END { n = 0; for (k = 1; k <= kmax && k <= 4; k++) if (c[k] && c[k-1]) { s += c[k] / c[k-1]; n++ } print (n ? s / n : 0) }' \
    "$LAB_OUT/reno-cwnd.tsv")
# Multiplicative decrease: ssthresh / cwnd just before each fast retransmit.
md=$(awk -F'\t' '$4 !~ /fast retransmit/ { prev = $2 } $4 ~ /fast retransmit/ && prev { print $3 / prev; exit }' "$LAB_OUT/reno-cwnd.tsv")
# Additive increase: the longest uninterrupted stretch of congestion avoidance, its growth in MSS
# divided by its length in RTTs (the RTT there includes the queue: the mean RTT sample in it).
read -r ca_t0 ca_t1 ca_gain < <(awk -F'\t' '
    $4 ~ /^congestion avoidance/ { if (!run) { run = 1; ts = $1; cs = $2 } te = $1; ce = $2; next }
    { if (run && te - ts > bt1 - bt0) { bt0 = ts; bt1 = te; bg = ce - cs } run = 0 }
    END { if (run && te - ts > bt1 - bt0) { bt0 = ts; bt1 = te; bg = ce - cs } print bt0 + 0, bt1 + 0, bg + 0 }' \
    "$LAB_OUT/reno-cwnd.tsv")
ca_rtt=$(trace "$LAB_OUT/reno.jsonl" ev=rtt host=client -- t sample_us |
    awk -v a="$ca_t0" -v b="$ca_t1" '$1 >= a && $1 <= b { s += $2; n++ } END { print (n ? s / n : 50000) }')
ai=$(calc "$ca_gain / $MSS / (($ca_t1 - $ca_t0) / $ca_rtt)")
reductions=$(grep -c -E "fast retransmit|RTO" "$LAB_OUT/reno-cwnd.tsv")
lab_say "slow start x$ss_growth per RTT; decrease to x$md; congestion avoidance +$ai MSS per RTT (RTT there $(calc "$ca_rtt / 1000") ms); $reductions reductions"

# Part B: CUBIC on the same path (needs --cc cubic).
cubic=0
if "$BIN" sim --help | grep -qw cubic; then
    cubic=1
    lab_say "part B: CUBIC on the same path"
    # One scripted early loss sets a small W_max; CUBIC then climbs back to it (concave) and
    # probes beyond it (convex) until the 20 Mbit/s, 100 ms path's queue overflows.
    sim --duration 15s --rtt 100ms --rate 20mbit --queue 256kb --cc cubic --seed 6 --impair 'drop data#30' \
        --trace "$LAB_OUT/cubic.jsonl" --plot "$LAB_OUT/cubic-plots"
    cwnd_of "$LAB_OUT/cubic.jsonl" >"$LAB_OUT/cubic-cwnd.tsv"
    md_cubic=$(awk -F'\t' '$4 !~ /retransmit|recovery|RTO/ { prev = $2 } $4 ~ /retransmit|RTO/ && prev && $3 != "inf" { print $3 / prev; exit }' "$LAB_OUT/cubic-cwnd.tsv")
    # Shape of the epoch after the first reduction (congestion-avoidance events only, so the
    # recovery's inflation is left out) up to the next reduction or the end: the second
    # differences of cwnd sampled every 100 ms, summed over its first and its last third.
    read -r early late < <(awk -F'\t' '
        $4 ~ /retransmit|RTO/ { r++; next }
        r == 1 && $4 ~ /^congestion avoidance/ && $1 >= tnext { v[n++] = $2; tnext = $1 + 100000 }
        END { third = int(n / 3); e = 0; l = 0
              for (i = 1; i < third; i++) e += v[i+1] - 2 * v[i] + v[i-1]
              for (i = n - third; i < n - 1; i++) l += v[i+1] - 2 * v[i] + v[i-1]
              print e, l }' "$LAB_OUT/cubic-cwnd.tsv")
    lab_say "CUBIC: decrease to x$md_cubic; the epoch after it: curvature early $early, late $late"
else
    printf '\n[lab 06] SKIPPED part B (Reno vs CUBIC): waiting for a tunstack feature: CUBIC (tunstack sim --cc cubic)\n' >&2
fi

# Part C: the Mathis formula. Random loss p, no bottleneck: throughput = MSS/RTT x sqrt(3/2)/sqrt(p).
lab_say "part C: Reno with 1% random loss, RTT 50 ms, no bottleneck, 60 s (3 seeds)"
rates=()
for seed in 1 2 3; do
    sim --duration 60s --rtt 50ms --loss 1% --cc reno --seed $seed
    rates+=("$(goodput_bps "$SIM_OUT")")
done
measured=$(printf '%s\n' "${rates[@]}" | awk '{ s += $1 } END { print s / NR }')
mathis=$(calc "$MSS * 8 / 0.05 * sqrt(1.5) / sqrt(0.01)")
lab_say "Mathis: $(calc "$mathis / 1e6") Mbit/s predicted, $(calc "$measured / 1e6") Mbit/s measured (mean of ${rates[*]})"

echo
lab_say "checks"
check_range "slow start: cwnd grows x1.5-2 per RTT" "$ss_growth" 1.4 2.1
check_range "multiplicative decrease (Reno): ssthresh / cwnd" "${md:-0}" 0.4 0.6
check_range "additive increase: MSS per RTT in congestion avoidance" "${ai:-0}" 0.8 1.25
check_true "the queue overflowed more than once (a sawtooth)" "$reductions >= 2" "$reductions reductions"
check_true "plots written (time-sequence, cwnd)" "$(ls "$LAB_OUT/reno-plots" 2>/dev/null | grep -c svg) >= 2" "$(ls "$LAB_OUT/reno-plots" 2>/dev/null | tr '\n' ' ')"
if [ $cubic = 1 ]; then
    check_range "multiplicative decrease (CUBIC, beta 0.7): ssthresh / cwnd" "${md_cubic:-0}" 0.6 0.8
    check_true "CUBIC after the loss: concave first (curvature < 0)" "${early:-0} < 0" "$early"
    check_true "CUBIC after the loss: convex later (curvature > 0)" "${late:-0} > 0" "$late"
fi
check_range "Mathis: measured / predicted" "$(calc "$measured / $mathis")" 0.6 1.5
lab_say "files: $LAB_OUT (plots: reno-plots/cwnd.svg$([ $cubic = 1 ] && echo ', cubic-plots/cwnd.svg'))"
lab_end
