#!/usr/bin/env bash
# Imports N order rows (default 1,000,000) through erp_csv into the store with
# `crmhost sync`, and the same file with the databases' own bulk loaders into a
# table of the same shape (the CSV's columns, keyed by the order id), all in one run:
#   - SQLite: crmhost sync into a fresh file vs sqlite3's .import (WITHOUT ROWID
#     like crmhost's orders table);
#   - PostgreSQL: `crmhost --db postgresql://... sync` into a fresh database vs
#     psql's \copy, on a throwaway PostgreSQL 15 server with durability on (its
#     defaults: fsync, synchronous_commit, full_page_writes), from
#     bench/postgresql_bench_server.sh. BACKENDS=sqlite skips it.
# Several runs each; prints medians and the ratios of the rates.
#   bench/import_bench.sh [ROWS]        RUNS=5 bench/import_bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rows="${1:-1000000}"
runs="${RUNS:-3}"
backends="${BACKENDS:-sqlite postgresql}"
build="$root/build-bench"

source "$root/scripts/lib.sh"
crm_install_dependencies bench
cmake --preset bench -S "$root" >/dev/null
cmake --build --preset bench >/dev/null

work="$(mktemp -d)"
chmod 755 "$work"  # the PostgreSQL server runs as `postgres` when we are root
stop_server() {
  if [[ -f "$work/pg/url" ]]; then
    "$root/bench/postgresql_bench_server.sh" stop "$work/pg" || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT
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
report() {  # label median times...
  local label=$1 median=$2
  shift 2
  printf '%-44s median %.2f s, %.0f rows/s  [runs: %s]\n' "$label" "$median" "$(echo "$rows / $median" | bc -l)" "$*"
}
printf 'rows: %d, runs: %d, machine: %s cores, load average at start: %s\n' "$rows" "$runs" "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"

if [[ " $backends " == *" sqlite "* ]]; then
  crm_times=()
  for ((i = 1; i <= runs; i++)); do
    rm -f "$work"/crm.db*
    start=$(now)
    "$build/bin/crmhost" --config "$work/crmhost.json" --db "$work/crm.db" sync >/dev/null
    crm_times+=("$(echo "$(now) - $start" | bc -l)")
    stored=$(sqlite3 "$work/crm.db" "SELECT count(*) FROM orders")
    [[ "$stored" == "$rows" ]] || { echo "crmhost stored $stored rows, expected $rows" >&2; exit 1; }
  done
  rm -f "$work"/crm.db*

  # The store's orders carry a covering by-customer index (schema 8 on; the feature build and
  # the 360 view read it) that sqlite3's table lacks: its build, timed apart, is what the same
  # table with that index costs sqlite3 at the least.
  peer_times=() peer_index_times=()
  for ((i = 1; i <= runs; i++)); do
    rm -f "$work"/peer.db*
    sqlite3 "$work/peer.db" "CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer_id TEXT, ordered_at TEXT,
      amount REAL, currency TEXT, product_line TEXT, quantity REAL, status TEXT) WITHOUT ROWID"
    start=$(now)
    sqlite3 "$work/peer.db" ".import --csv --skip 1 $work/exports/orders.csv orders"
    peer_times+=("$(echo "$(now) - $start" | bc -l)")
    start=$(now)
    sqlite3 "$work/peer.db" "CREATE INDEX orders_by_customer ON orders(customer_id, ordered_at, amount, status,
      currency, product_line)"
    peer_index_times+=("$(echo "$(now) - $start" | bc -l)")
  done
  rm -f "$work"/peer.db*

  sqlite_crm=$(printf '%s\n' "${crm_times[@]}" | median)
  sqlite_peer=$(printf '%s\n' "${peer_times[@]}" | median)
  report 'SQLite: crmhost sync (erp_csv -> store):' "$sqlite_crm" "${crm_times[*]}"
  sqlite_peer_index=$(printf '%s\n' "${peer_index_times[@]}" | median)
  report 'SQLite: sqlite3 .import (same file):' "$sqlite_peer" "${peer_times[*]}"
  report 'SQLite: sqlite3 CREATE INDEX by customer after:' "$sqlite_peer_index" "${peer_index_times[*]}"
  printf 'SQLite: crmhost rate / sqlite3 .import rate: %.2fx (target >= 0.75x)\n' \
    "$(echo "$sqlite_peer / $sqlite_crm" | bc -l)"
  printf 'SQLite: crmhost rate / sqlite3 .import + the same index: %.2fx\n' \
    "$(echo "($sqlite_peer + $sqlite_peer_index) / $sqlite_crm" | bc -l)"
fi

if [[ " $backends " == *" postgresql "* ]]; then
  "$root/bench/postgresql_bench_server.sh" start "$work/pg" >/dev/null
  server=$(cat "$work/pg/url")
  database_url() { echo "${server%/postgres}/$1"; }
  fresh_database() {
    PGOPTIONS=--client-min-messages=warning psql -q "$server" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  }
  crm_times=()
  for ((i = 1; i <= runs; i++)); do
    fresh_database crm_import
    start=$(now)
    "$build/bin/crmhost" --config "$work/crmhost.json" --db "$(database_url crm_import)" sync >/dev/null
    crm_times+=("$(echo "$(now) - $start" | bc -l)")
    stored=$(psql -At "$(database_url crm_import)" -c "SELECT count(*) FROM orders")
    [[ "$stored" == "$rows" ]] || { echo "crmhost stored $stored rows, expected $rows" >&2; exit 1; }
  done

  peer_times=()
  for ((i = 1; i <= runs; i++)); do
    fresh_database peer_import
    psql -q "$(database_url peer_import)" -c "CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer_id TEXT,
      ordered_at TEXT, amount DOUBLE PRECISION, currency TEXT, product_line TEXT, quantity DOUBLE PRECISION,
      status TEXT)"
    start=$(now)
    psql -q "$(database_url peer_import)" -c "\\copy orders FROM '$work/exports/orders.csv' WITH (FORMAT csv, HEADER true)"
    peer_times+=("$(echo "$(now) - $start" | bc -l)")
    stored=$(psql -At "$(database_url peer_import)" -c "SELECT count(*) FROM orders")
    [[ "$stored" == "$rows" ]] || { echo "psql \\copy stored $stored rows, expected $rows" >&2; exit 1; }
  done

  postgresql_crm=$(printf '%s\n' "${crm_times[@]}" | median)
  postgresql_peer=$(printf '%s\n' "${peer_times[@]}" | median)
  report 'PostgreSQL: crmhost sync (erp_csv -> store):' "$postgresql_crm" "${crm_times[*]}"
  report 'PostgreSQL: psql \copy (same file):' "$postgresql_peer" "${peer_times[*]}"
  printf 'PostgreSQL: crmhost rate / psql \\copy rate: %.2fx (target >= 0.6x)\n' \
    "$(echo "$postgresql_peer / $postgresql_crm" | bc -l)"
fi
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
