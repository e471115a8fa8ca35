#!/usr/bin/env bash
# The teaching labs (docs/labs/): list them, run one, several or all, and summarise.
# Usage: tools/labs/run.sh list | tools/labs/run.sh all | tools/labs/run.sh 1 3 10
# Each lab is tools/labs/NN.sh (needs root: it creates its own network namespace). Exit status:
# 0 when every lab run passed or was skipped, 1 when one failed.
cd "$(dirname "$0")" || exit 1

title() { sed -n "2s/^# Lab [0-9]*: //p" "$1"; }

if [ "${1:-list}" = list ]; then
    for f in [0-9][0-9].sh; do printf "  %2d  %s\n" "$((10#${f%.sh}))" "$(title "$f")"; done
    exit 0
fi
labs=()
if [ "$1" = all ]; then
    for f in [0-9][0-9].sh; do labs+=("${f%.sh}"); done
else
    for n in "$@"; do labs+=("$(printf '%02d' "$((10#$n))")"); done
fi
summary=()
failed=0
for n in "${labs[@]}"; do
    [ -x "$n.sh" ] || { echo "no lab $n (tools/labs/run.sh list)" >&2; exit 2; }
    start=$(date +%s)
    ./"$n.sh"
    rc=$?
    secs=$(($(date +%s) - start))
    case $rc in
    0) verdict=PASS ;;
    77) verdict=SKIPPED ;;
    *) verdict="FAIL (exit $rc)"; failed=1 ;;
    esac
    summary+=("$(printf '  lab %s  %-16s %3ds  %s' "$n" "$verdict" "$secs" "$(title "$n.sh")")")
done
echo
echo "labs:"
printf '%s\n' "${summary[@]}"
exit $failed
