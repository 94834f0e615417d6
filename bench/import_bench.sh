#!/usr/bin/env bash
# Imports N order rows (default 1,000,000) through erp_csv into the store with
# `crmhost sync`, and the same file with sqlite3's own .import into a table of
# the same shape (the CSV's columns, keyed by the order id, WITHOUT ROWID like
# crmhost's orders table). Several runs each; prints medians and the ratio.
#   bench/import_bench.sh [ROWS]        RUNS=5 bench/import_bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rows="${1:-1000000}"
runs="${RUNS:-3}"
build="$root/build-bench"

source "$root/scripts/lib.sh"
crm_install_dependencies bench
cmake --preset bench -S "$root" >/dev/null
cmake --build --preset bench >/dev/null

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build/bin/crm_generate" --orders "$rows" --customers $((rows / 100 + 1)) --out "$work/exports"
rm "$work/exports/customers.csv"
cat >"$work/crmhost.json" <<JSON
{"plugins": {"erp_csv": {"config": {
  "path": "exports", "record_type": "order",
  "columns": {"external_id": "order_id", "customer_external_id": "customer_id", "ordered_at_ms": "ordered_at",
              "amount": "amount", "currency": "currency", "product_line": "product_line",
              "quantity": "quantity", "status": "status"}}}}}
JSON

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

crm_times=()
for ((i = 1; i <= runs; i++)); do
  rm -f "$work"/crm.db*
  start=$(now)
  "$build/bin/crmhost" --config "$work/crmhost.json" --db "$work/crm.db" sync >/dev/null
  crm_times+=("$(echo "$(now) - $start" | bc -l)")
  stored=$(sqlite3 "$work/crm.db" "SELECT count(*) FROM orders")
  [[ "$stored" == "$rows" ]] || { echo "crmhost stored $stored rows, expected $rows" >&2; exit 1; }
done

peer_times=()
for ((i = 1; i <= runs; i++)); do
  rm -f "$work"/peer.db*
  sqlite3 "$work/peer.db" "CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer_id TEXT, ordered_at TEXT,
    amount REAL, currency TEXT, product_line TEXT, quantity REAL, status TEXT) WITHOUT ROWID"
  start=$(now)
  sqlite3 "$work/peer.db" ".import --csv --skip 1 $work/exports/orders.csv orders"
  peer_times+=("$(echo "$(now) - $start" | bc -l)")
done

crm_median=$(printf '%s\n' "${crm_times[@]}" | median)
peer_median=$(printf '%s\n' "${peer_times[@]}" | median)
printf 'rows: %d, runs: %d, machine: %s cores\n' "$rows" "$runs" "$(nproc)"
printf 'crmhost sync (erp_csv -> store): median %.2f s, %.0f rows/s  [runs: %s]\n' "$crm_median" \
  "$(echo "$rows / $crm_median" | bc -l)" "${crm_times[*]}"
printf 'sqlite3 .import (same file):     median %.2f s, %.0f rows/s  [runs: %s]\n' "$peer_median" \
  "$(echo "$rows / $peer_median" | bc -l)" "${peer_times[*]}"
printf 'ratio crmhost / sqlite3: %.2fx\n' "$(echo "$crm_median / $peer_median" | bc -l)"
