#!/usr/bin/env bash
# The whole scoring pipeline against a pandas and scikit-learn peer (issue 17):
# on one store of CUSTOMERS customers and ORDERS orders (default 1,000,000 and
# 10,000,000, with EVENTS activity events, default 2,000,000), RUNS times
# (default 5), alternating which goes first,
#   - crmhost: `crm_scoring_bench end-to-end` (as bench/scoring_bench.sh): the
#     feature build from the store, every scorer with its stored model, the run
#     stored (customer_scores, score_runs);
#   - the peer: bench/pipeline_peer.py score: the purchases read with Python's
#     sqlite3 into pandas, scorer_logit's RFM features with pandas, scikit-learn's
#     LogisticRegression (fitted before, untimed, as crmhost's models are), one
#     row per customer written to the table peer_customer_scores.
# Then both medians, every run, both peak memories, the ratio peer / crmhost and
# the load average, and a check that the peer's scores are scorer_logit's.
# Each pair of runs holds the machine's build lock (/tmp/crm-build.lock), so no
# build runs during a measurement.
#
# The store: STORE=FILE, else build-bench/scoring/crm-C-O-E.db. When it is missing
# it is copied from SOURCE_STORE=FILE if given (a ready store; the copy is written,
# the source never), else generated and trained as bench/scoring_bench.sh does.
# crmhost's side runs its heap on transparent huge pages where the kernel offers them
# (core/huge_page_heap.hpp); PEER_ENV="GLIBC_TUNABLES=glibc.malloc.hugetlb=1" gives
# the peer's Python the same heap, to compare like with like.
#   bench/pipeline_bench.sh
#   RUNS=3 SOURCE_STORE=/path/to/crm-1000000-10000000-2000000.db bench/pipeline_bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-5}"
customers="${CUSTOMERS:-1000000}"
orders="${ORDERS:-10000000}"
events="${EVENTS:-2000000}"
build="$root/build-bench"
lock=/tmp/crm-build.lock

source "$root/scripts/lib.sh"
crm_install_dependencies bench
flock "$lock" sh -c "cmake --preset bench -S '$root' >/dev/null && cmake --build --preset bench >/dev/null"

bench="$build/bin/crm_scoring_bench"
plugins="$build/plugins"
peer=(/usr/bin/python3 "$root/bench/pipeline_peer.py")
crm_environment_words PEER_ENV peer_environment
if ((${#peer_environment[@]} > 0)); then
  peer=(env "${peer_environment[@]}" "${peer[@]}")
fi
work="$build/scoring"
store="${STORE:-$work/crm-$customers-$orders-$events.db}"
mkdir -p "$work"
if [[ ! -f "$store" && -n "${SOURCE_STORE:-}" ]]; then
  if [[ "$(realpath "$SOURCE_STORE")" == "$(realpath -m "$store")" ]]; then
    echo "SOURCE_STORE is the store itself; give another STORE" >&2
    exit 2
  fi
  cp "$SOURCE_STORE" "$store"
  echo "copied $SOURCE_STORE to $store"
elif [[ ! -f "$store" ]]; then
  "$bench" generate --db "$store" --customers "$customers" --orders "$orders" --events "$events"
  "$bench" train --db "$store" --plugin-dir "$plugins"
fi
# The peer's model: fitted on the snapshot crmhost's stored scorer_logit model was trained on.
model="$work/$(basename "$store" .db).peer-model.pkl"
"${peer[@]}" train --db "$store" --model "$model"

now() { date +%s.%N; }
seconds_since() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
field() { sed -E "s/.*$1 ([0-9.]+) .*/\\1/" <<<"$2"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ours_total=() ours_peak=() ours_wall=() peer_total=() peer_peak=() peer_wall=()
run_ours() {
  local start line
  start=$(now)
  line=$("$bench" end-to-end --db "$store" --plugin-dir "$plugins")
  ours_wall+=("$(seconds_since "$start")")
  ours_total+=("$(field total "$line")")
  ours_peak+=("$(field 'peak RSS' "$line")")
  echo "  crmhost: $line; process ${ours_wall[-1]} s"
}
run_peer() {
  local start line
  start=$(now)
  line=$("${peer[@]}" score --db "$store" --model "$model")
  peer_wall+=("$(seconds_since "$start")")
  peer_total+=("$(field total "$line")")
  peer_peak+=("$(field 'peak RSS' "$line")")
  echo "  $line; process ${peer_wall[-1]} s"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
exec 9>"$lock"
for ((i = 1; i <= runs; i++)); do
  flock 9
  echo "run $i (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  if ((i % 2 == 1)); then
    run_ours
    run_peer
  else
    run_peer
    run_ours
  fi
  flock -u 9
done
exec 9>&-
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
"${peer[@]}" check --db "$store"

ours=$(printf '%s\n' "${ours_total[@]}" | median)
theirs=$(printf '%s\n' "${peer_total[@]}" | median)
echo "crmhost end to end, median of $runs: $ours s [${ours_total[*]}], process $(printf '%s\n' "${ours_wall[@]}" |
  median) s [${ours_wall[*]}], peak RSS median $(printf '%s\n' "${ours_peak[@]}" | median) MiB [${ours_peak[*]}]"
echo "pandas + scikit-learn peer, median of $runs: $theirs s [${peer_total[*]}], process $(printf '%s\n' \
  "${peer_wall[@]}" | median) s [${peer_wall[*]}], peak RSS median $(printf '%s\n' "${peer_peak[@]}" | median) MiB \
[${peer_peak[*]}]"
awk -v ours="$ours" -v theirs="$theirs" 'BEGIN {printf "peer / crmhost time: %.2fx (target >= 3x)\n", theirs / ours}'
echo "load average: $load_before before, $load_after after"
# Leave the store as crmhost made it.
sqlite3 "$store" "DROP TABLE IF EXISTS peer_customer_scores"
