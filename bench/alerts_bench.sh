#!/usr/bin/env bash
# Alert delivery (issue 5): ALERTS alerts (default 10,000) raised, routed and
# delivered to a local webhook receiver through the outbox on SQLite, RUNS
# times each (default 5, medians):
#   burst   every alert raised by one scoring run, then the outbox drained (`crmhost run`);
#   steady  alerts arriving at RATE per second (default 2,000), delivered as they come.
#   bench/alerts_bench.sh          RUNS=3 ALERTS=20000 RATE=3000 bench/alerts_bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-5}"
alerts="${ALERTS:-10000}"
rate="${RATE:-2000}"
build="$root/build-bench"

source "$root/scripts/lib.sh"
crm_install_dependencies bench
cmake --preset bench -S "$root" >/dev/null
cmake --build --preset bench >/dev/null

bench="$build/bin/crm_alerts_bench"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for mode in burst steady; do
  rates=() p99s=()
  for ((i = 1; i <= runs; i++)); do
    line=$("$bench" --plugin-dir "$build/plugins" --alerts "$alerts" --mode "$mode" --rate "$rate")
    echo "$line"
    rates+=("$(sed -E 's/.* ([0-9]+) notifications\/s.*/\1/' <<<"$line")")
    p99s+=("$(sed -E 's/.*p99 ([0-9]+) ms.*/\1/' <<<"$line")")
  done
  echo "$mode median of $runs runs: $(printf '%s\n' "${rates[@]}" | median) notifications/s, p99 creation to delivery $(printf '%s\n' "${p99s[@]}" | median) ms"
done
