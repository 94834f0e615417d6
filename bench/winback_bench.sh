#!/usr/bin/env bash
# Win-back campaigns at scale (issue 6): CUSTOMERS lost customers (default
# 100,000) enrolled and advanced one step (a message queued in the outbox),
# RUNS times (default 5), medians.
#   bench/winback_bench.sh          RUNS=3 CUSTOMERS=200000 bench/winback_bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-5}"
customers="${CUSTOMERS:-100000}"
build="$root/build-bench"

source "$root/scripts/lib.sh"
crm_install_dependencies bench
cmake --preset bench -S "$root" >/dev/null
cmake --build --preset bench >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
enrolments=() steps=()
for ((i = 1; i <= runs; i++)); do
  line=$("$build/bin/crm_winback_bench" --customers "$customers")
  echo "$line"
  enrolments+=("$(sed -E 's/.*\(([0-9]+) enrolments\/s.*/\1/' <<<"$line")")
  steps+=("$(sed -E 's/.*\(([0-9]+) steps\/s.*/\1/' <<<"$line")")
done
echo "median of $runs runs: $(printf '%s\n' "${enrolments[@]}" | median) enrolments/s, $(printf '%s\n' "${steps[@]}" | median) steps/s"
