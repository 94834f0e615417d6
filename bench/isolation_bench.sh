#!/usr/bin/env bash
# Plugins in a worker process against the same plugins in the host's process (issue 16), one run:
#   - CSV import of ROWS order rows (default 1,000,000) through erp_csv with `crmhost sync`,
#     "isolation": "process" against "in_process", alternating, RUNS times each (median);
#   - scorer_health scoring every customer of the 1,000,000-customer scoring store
#     (bench/scoring_bench.sh makes it) in a worker against in-process, alternating, RUNS times;
#   - a worker killed between calls, timed from the kill to its replacement's first answer.
#   bench/isolation_bench.sh            RUNS=5 ROWS=1000000 bench/isolation_bench.sh
# SCORING_STORE=path uses that store for the scoring part (default: build-bench/scoring/crm-1000000-...db).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rows="${ROWS:-1000000}"
runs="${RUNS:-5}"
build="$root/build-bench"
scoring_store="${SCORING_STORE:-$build/scoring/crm-1000000-10000000-2000000.db}"

source "$root/scripts/lib.sh"
crm_install_dependencies bench
cmake --preset bench -S "$root" >/dev/null
cmake --build --preset bench --target crmhost crmhost-plugin-worker crm_generate crm_scoring_bench erp_csv \
  scorer_health scorer_rfm scorer_bgnbd scorer_logit >/dev/null

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build/bin/crm_generate" --orders "$rows" --customers $((rows / 100 + 1)) --out "$work/exports" >/dev/null
rm "$work/exports/customers.csv"
for isolation in in_process process; do
  cat >"$work/$isolation.json" <<JSON
{"plugin_runtime": {"isolation": "$isolation"},
 "plugins": {"erp_csv": {"config": {
  "path": "exports", "record_type": "order",
  "columns": {"external_id": "order_id", "customer_external_id": "customer_id", "ordered_at_ms": "ordered_at",
              "amount": "amount", "currency": "currency", "product_line": "product_line",
              "quantity": "quantity", "status": "status"}}}}}
JSON
done

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf 'rows: %d, runs: %d, machine: %s cores, load average at start: %s\n' "$rows" "$runs" "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"

declare -A times=([in_process]="" [process]="")
for ((i = 1; i <= runs; i++)); do
  order=(in_process process)
  ((i % 2 == 0)) && order=(process in_process)
  for isolation in "${order[@]}"; do
    rm -f "$work"/crm.db*
    start=$(now)
    "$build/bin/crmhost" --config "$work/$isolation.json" --db "$work/crm.db" --no-default-plugin-dir \
      --plugin-dir "$build/plugins" sync --connector erp_csv >/dev/null
    times[$isolation]+="$(echo "$(now) - $start" | bc -l) "
  done
done
in_process=$(tr ' ' '\n' <<<"${times[in_process]}" | grep . | median)
process=$(tr ' ' '\n' <<<"${times[process]}" | grep . | median)
printf 'erp_csv import, in the host process: median %.2f s, %.0f rows/s  [runs: %s]\n' "$in_process" \
  "$(echo "$rows / $in_process" | bc -l)" "${times[in_process]}"
printf 'erp_csv import, in a worker:         median %.2f s, %.0f rows/s  [runs: %s]\n' "$process" \
  "$(echo "$rows / $process" | bc -l)" "${times[process]}"
printf 'worker/in-process import throughput: %.2fx (target >= 0.90x)\n' "$(echo "$in_process / $process" | bc -l)"

if [[ -f "$scoring_store" ]]; then
  "$build/bin/crm_scoring_bench" isolation --db "$scoring_store" --plugin-dir "$build/plugins" --runs "$runs"
else
  echo "no scoring store at $scoring_store: run bench/scoring_bench.sh once to make it" >&2
  exit 1
fi
