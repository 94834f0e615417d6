#!/usr/bin/env bash
# Churn detection at scale (issue 4): a synthetic store of CUSTOMERS customers
# (default 1,000,000) with ORDERS orders (default 10,000,000) and EVENTS
# activity events (default 2,000,000), then
#   - feature build + all four scorers + storing the run, end to end, RUNS times (median), peak memory;
#   - scorer_health through the plugin ABI against the same code linked in;
#   - scorer_logit against scikit-learn's LogisticRegression on the same data.
#   bench/scoring_bench.sh              RUNS=5 CUSTOMERS=100000 ORDERS=1000000 bench/scoring_bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-3}"
customers="${CUSTOMERS:-1000000}"
orders="${ORDERS:-10000000}"
events="${EVENTS:-2000000}"
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

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
totals=()
for ((i = 1; i <= runs; i++)); do
  line=$("$bench" end-to-end --db "$db" --plugin-dir "$plugins")
  echo "$line"
  totals+=("$(sed -E 's/.*total ([0-9.]+) s.*/\1/' <<<"$line")")
done
echo "end-to-end median of $runs runs: $(printf '%s\n' "${totals[@]}" | median) s"

"$bench" abi --db "$db" --plugin-dir "$plugins" --runs 7

ours=$("$bench" logit --db "$db" --plugin-dir "$plugins")
echo "$ours"
"$bench" export --db "$db" --out "$work/export" >/dev/null
peer=$(/usr/bin/python3 "$root/bench/sklearn_peer.py" "$work/export")
echo "$peer"
ours_s=$(sed -E 's/^scorer_logit ([0-9.]+) s.*/\1/' <<<"$ours")
peer_s=$(sed -E 's/^sklearn ([0-9.]+) s.*/\1/' <<<"$peer")
awk -v ours="$ours_s" -v peer="$peer_s" 'BEGIN {printf "scikit-learn / scorer_logit time: %.2fx\n", peer / ours}'
