#!/usr/bin/env bash
# Churn detection at scale (issue 4): a synthetic store of CUSTOMERS customers
# (default 1,000,000) with ORDERS orders (default 10,000,000) and EVENTS
# activity events (default 2,000,000), then
#   - feature build + all four scorers + storing the run, end to end, RUNS times (median), peak memory;
#   - scorer_health through the plugin ABI against the same code linked in;
#   - scorer_logit against scikit-learn's LogisticRegression on the same data.
# BACKEND=postgresql runs the end to end part on PostgreSQL instead: the generated
# SQLite store is moved once (`crmhost store copy`, timed) into a fresh database of a
# throwaway PostgreSQL 15 server with durability on (its defaults), from
# bench/postgresql_bench_server.sh, or of the server at POSTGRESQL_URL if given;
# POSTGRESQL_STORE=postgresql://.../db uses a store copied there before, as it is.
# END_TO_END_ONLY=1 skips the ABI and scikit-learn comparisons.
#   bench/scoring_bench.sh              RUNS=5 CUSTOMERS=100000 ORDERS=1000000 bench/scoring_bench.sh
#   BACKEND=postgresql END_TO_END_ONLY=1 RUNS=5 bench/scoring_bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-3}"
customers="${CUSTOMERS:-1000000}"
orders="${ORDERS:-10000000}"
events="${EVENTS:-2000000}"
backend="${BACKEND:-sqlite}"
build="$root/build-bench"

source "$root/scripts/lib.sh"
crm_install_dependencies bench
cmake --preset bench -S "$root" >/dev/null
cmake --build --preset bench >/dev/null

bench="$build/bin/crm_scoring_bench"
plugins="$build/plugins"
work="$build/scoring"
db="$work/crm-$customers-$orders-$events.db"
mkdir -p "$work"
if [[ ! -f "$db" ]]; then
  "$bench" generate --db "$db" --customers "$customers" --orders "$orders" --events "$events"
  "$bench" train --db "$db" --plugin-dir "$plugins"
fi

store="$db"
if [[ "$backend" == postgresql && -n "${POSTGRESQL_STORE:-}" ]]; then
  store="$POSTGRESQL_STORE"
elif [[ "$backend" == postgresql ]]; then
  server="${POSTGRESQL_URL:-}"
  if [[ -z "$server" ]]; then
    chmod 755 "$work"  # the server runs as `postgres` when we are root
    "$root/bench/postgresql_bench_server.sh" start "$work/pg" >/dev/null
    trap '"$root/bench/postgresql_bench_server.sh" stop "$work/pg"' EXIT
    server=$(cat "$work/pg/url")
  fi
  name="crm_scoring_${customers}_${orders}_${events}"
  PGOPTIONS=--client-min-messages=warning psql -q "$server" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
  store="${server%/*}/$name"
  start=$(date +%s.%N)
  "$build/bin/crmhost" --db "$db" store copy --to "$store" 2>/dev/null
  echo "store copy to PostgreSQL: $(echo "$(date +%s.%N) - $start" | bc -l | xargs printf '%.1f') s"
elif [[ "$backend" != sqlite ]]; then
  echo "BACKEND must be sqlite or postgresql, not $backend" >&2
  exit 2
fi

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
totals=() peaks=()
for ((i = 1; i <= runs; i++)); do
  line=$("$bench" end-to-end --db "$store" --plugin-dir "$plugins")
  echo "$line"
  totals+=("$(sed -E 's/.*total ([0-9.]+) s.*/\1/' <<<"$line")")
  peaks+=("$(sed -E 's/.*peak RSS ([0-9]+) MiB.*/\1/' <<<"$line")")
done
echo "end-to-end on $backend, median of $runs runs: $(printf '%s\n' "${totals[@]}" | median) s, peak RSS median \
$(printf '%s\n' "${peaks[@]}" | median) MiB [totals: ${totals[*]}] (load average $(cut -d' ' -f1-3 /proc/loadavg))"
if [[ "${END_TO_END_ONLY:-0}" == 1 || "$backend" != sqlite ]]; then
  exit 0
fi

"$bench" abi --db "$db" --plugin-dir "$plugins" --runs 7

ours=$("$bench" logit --db "$db" --plugin-dir "$plugins")
echo "$ours"
"$bench" export --db "$db" --out "$work/export" >/dev/null
peer=$(/usr/bin/python3 "$root/bench/sklearn_peer.py" "$work/export")
echo "$peer"
ours_s=$(sed -E 's/^scorer_logit ([0-9.]+) s.*/\1/' <<<"$ours")
peer_s=$(sed -E 's/^sklearn ([0-9.]+) s.*/\1/' <<<"$peer")
awk -v ours="$ours_s" -v peer="$peer_s" 'BEGIN {printf "scikit-learn / scorer_logit time: %.2fx\n", peer / ours}'
