#!/usr/bin/env bash
# Lab 9: DNS over UDP: resolution, TTL and caching, NXDOMAIN, a lost query's retry.
# docs/labs/09-dns.md. Usage: sudo tools/labs/09.sh
source "$(dirname "$0")/lib.sh"
lab_init 09 "DNS over UDP: resolution, TTL, NXDOMAIN, a lost query and the retry"
lab_need dig python3 tshark
RTT_MS=50

# Part A: ask the authoritative server (tunstack's dns service) directly.
ts_up --delay 25ms --seed 9 --serve dns --pcap "$LAB_OUT/a.pcapng"
nsx dig @"$STACK" www.lab.test >"$LAB_OUT/www.txt"
# Two more, for the best of 3 query times (the host's noise only adds time).
for i in 1 2; do nsx dig @"$STACK" www.lab.test +noall +stats; done >"$LAB_OUT/www-more.txt"
nsx dig @"$STACK" nosuch.lab.test >"$LAB_OUT/nosuch.txt"
lab_say "\$ dig @$STACK www.lab.test"
grep -E "status|flags:|^www|Query time" "$LAB_OUT/www.txt" | sed 's/^/    /'
lab_say "\$ dig @$STACK nosuch.lab.test"
grep -E "status|SOA|Query time" "$LAB_OUT/nosuch.txt" | sed 's/^/    /'
qt_www=$(cat "$LAB_OUT/www.txt" "$LAB_OUT/www-more.txt" | sed -n 's/;; Query time: \([0-9]*\) msec/\1/p' | minof)
ttl_www=$(awk '$1 == "www.lab.test." && $4 == "A" { print $2 }' "$LAB_OUT/www.txt")
nx_status=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' "$LAB_OUT/nosuch.txt")
nx_soa_ttl=$(awk '$4 == "SOA" { print $2 }' "$LAB_OUT/nosuch.txt")

# Part B: a caching resolver in front of it (tools/labs/dns_cache.py, in the namespace on
# 127.0.0.1:5353); two queries a second for 6 s, for a name with TTL 5 and one with TTL 300.
lab_say "part B: through a cache, 2 queries/s for 6 s: short.lab.test (TTL 5) and www.lab.test (TTL 300)"
ip netns exec "$NS" python3 "$LAB_ROOT/tools/labs/dns_cache.py" 127.0.0.1 5353 "$STACK" "$LAB_OUT/cache.log" &
CACHE_PID=$!
trap 'kill $CACHE_PID 2>/dev/null; lab_cleanup' EXIT
sleep 0.3
: >"$LAB_OUT/cached.txt"
for i in $(seq 12); do
    for name in short www; do
        nsx dig @127.0.0.1 -p 5353 $name.lab.test +noall +answer +stats |
            awk -v n=$name '$4 == "A" { ttl = $2 } /Query time/ { print n, ttl, $4 }' >>"$LAB_OUT/cached.txt"
    done
    sleep 0.5
done
for i in 1 2; do nsx dig @127.0.0.1 -p 5353 nosuch.lab.test +noall +stats >/dev/null; done
kill $CACHE_PID 2>/dev/null
wait $CACHE_PID 2>/dev/null
echo "    short.lab.test TTLs seen: $(awk '$1 == "short" { printf "%s ", $2 }' "$LAB_OUT/cached.txt")"
echo "    www.lab.test   TTLs seen: $(awk '$1 == "www" { printf "%s ", $2 }' "$LAB_OUT/cached.txt")"
sort "$LAB_OUT/cache.log" | uniq -c | sed 's/^/   /'
miss_short=$(grep -c "^miss short" "$LAB_OUT/cache.log")
miss_www=$(grep -c "^miss www" "$LAB_OUT/cache.log")
miss_nx=$(grep -c "^miss nosuch" "$LAB_OUT/cache.log")
cold=$(awk '$1 == "www" { print $3; exit }' "$LAB_OUT/cached.txt")
warm=$(awk '$1 == "www" && NR > 2 { print $3 }' "$LAB_OUT/cached.txt" | median)
ttl_max=$(awk '$1 == "short" { print $2 }' "$LAB_OUT/cached.txt" | maxof)
ttl_min=$(awk '$1 == "short" { print $2 }' "$LAB_OUT/cached.txt" | minof)

# Part C: 30 % loss each way. dig waits 1 s for an answer, then asks again (same query ID).
lab_say "part C: 30% loss each way; 10 lookups with dig +timeout=1 +tries=6"
ts_up --delay 25ms --loss 30% --seed 9 --serve dns --pcap "$LAB_OUT/c.pcapng"
: >"$LAB_OUT/lossy.txt"
for i in $(seq 10); do
    s=$(date +%s.%N)
    st=$(nsx dig @"$STACK" www.lab.test +tries=6 +timeout=1 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
    e=$(date +%s.%N)
    echo "${st:-FAILED} $(calc "$e - $s")" >>"$LAB_OUT/lossy.txt"
done
ts_down
awk '{ printf "    lookup %2d: %-8s %6.3f s\n", NR, $1, $2 }' "$LAB_OUT/lossy.txt"
queries_sent=$(sed -n 's/^emulator in: packets_in=\([0-9]*\).*/\1/p' "$TS_LOG")
lab_say "$(grep '^emulator' "$TS_LOG" | tr '\n' ' ')"
ok=$(grep -c "^NOERROR" "$LAB_OUT/lossy.txt")
retried=$(awk '$2 >= 1' "$LAB_OUT/lossy.txt" | wc -l)
waited=$(awk '{ n += int($2) } END { print n }' "$LAB_OUT/lossy.txt")
repeated_ids=$(tshark -r "$LAB_OUT/c.pcapng" -Y "dns.flags.response == 0" -T fields -e dns.id 2>/dev/null | sort | uniq -d | wc -l)

echo
lab_say "checks"
check_range "www.lab.test answered in 1 RTT (dig's query time, best of 3, ms)" "${qt_www:-0}" $((RTT_MS - 5)) $((RTT_MS * 13 / 10))
check_true "www.lab.test has TTL 300" "${ttl_www:-0} == 300" "TTL $ttl_www"
check_true "nosuch.lab.test: NXDOMAIN" "\"$nx_status\" == \"NXDOMAIN\"" "$nx_status"
check_true "NXDOMAIN carries the SOA, TTL = negative-caching time 60" "${nx_soa_ttl:-0} == 60" "SOA TTL $nx_soa_ttl"
check_true "cold lookup through the cache costs an RTT (ms)" "${cold:-0} >= $((RTT_MS - 5))" "$cold ms"
check_true "warm lookups are answered locally (median < 10 ms)" "${warm:-99} < 10" "$warm ms"
check_true "TTL 5: the cache counts it down and asks again (2-3 misses in 6 s)" "$miss_short >= 2 && $miss_short <= 3" "$miss_short misses"
check_true "TTL 300: one miss in 6 s" "$miss_www == 1" "$miss_www miss"
check_true "the TTL served counts down from 5" "$ttl_max == 5 && $ttl_min <= 2" "TTL seen $ttl_min..$ttl_max"
check_true "NXDOMAIN is cached too (negative caching, RFC 2308)" "$miss_nx == 1" "$miss_nx miss for 2 lookups"
check_true "lossy: every lookup succeeded thanks to retries" "$ok == 10" "$ok of 10"
check_true "lossy: some lookups needed a retry (took >= 1 s)" "$retried >= 1" "$retried lookups"
check_true "lossy: each retry cost one 1 s timeout" "$waited == ${queries_sent:-0} - 10" "$waited s waited, $queries_sent queries sent for 10 lookups"
answers_lost=$(sed -n 's/^emulator out:.*dropped_loss=\([0-9]*\).*/\1/p' "$TS_LOG")
lab_say "capture: $repeated_ids query IDs reached the server twice (their answer was lost: ${answers_lost:-0} answers dropped)"
lab_say "captures: $LAB_OUT/a.pcapng, $LAB_OUT/c.pcapng (Wireshark: dns, dns.flags.rcode == 3, dns.retransmission)"
lab_end
