#!/usr/bin/env bash
# How the end to end scoring time (crm_scoring_bench end-to-end) grows with the store:
# a small and a large store (for issue 12: 1M/10M/2M and 2M/20M/4M, each generated and
# trained by `crm_scoring_bench generate` and `train`), alternating, RUNS times each
# (default 5), each run on a fresh copy of its store (cp, then sync). Prints the medians
# of the total, of storing and of the feature build, the process's user and system CPU
# time (/usr/bin/time), and the large/small ratios.
#   bench/scoring_linearity.sh BUILD_DIR SMALL_STORE LARGE_STORE
#   RUNS=5 bench/scoring_linearity.sh build-bench s1m.db s2m.db
set -euo pipefail
build=${1:?a Release build-bench}
small=${2:?the small generated, trained store}
large=${3:?the large generated, trained store}
runs="${RUNS:-5}"
scratch="$(dirname "$large")/linearity-scratch.db"
trap 'rm -f "$scratch" "$scratch-wal" "$scratch-shm"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A values
run_one() {  # label store
  local line times
  rm -f "$scratch" "$scratch-wal" "$scratch-shm"
  cp "$2" "$scratch"
  sync
  times=$(mktemp)
  line=$(/usr/bin/time -o "$times" -f "%U %S" "$build/bin/crm_scoring_bench" end-to-end --db "$scratch" \
    --plugin-dir "$build/plugins")
  echo "$1: $line; user, system CPU $(cat "$times") s"
  values[$1 total]+="$(sed -E 's/.*total ([0-9.]+) s.*/\1/' <<<"$line") "
  values[$1 storing]+="$(sed -E 's/.*storing ([0-9.]+) s.*/\1/' <<<"$line") "
  values[$1 features]+="$(sed -E 's/.*features ([0-9.]+) s.*/\1/' <<<"$line") "
  values[$1 user]+="$(cut -d' ' -f1 "$times") "
  values[$1 system]+="$(cut -d' ' -f2 "$times") "
  rm -f "$times"
}
for ((i = 1; i <= runs; i++)); do
  run_one small "$small"
  run_one large "$large"
done
for measure in total storing features user system; do
  small_median=$(tr ' ' '\n' <<<"${values[small $measure]}" | grep . | median)
  large_median=$(tr ' ' '\n' <<<"${values[large $measure]}" | grep . | median)
  echo "$measure, median of $runs: small $small_median s, large $large_median s, large/small \
$(echo "$large_median / $small_median" | bc -l | xargs printf '%.2f')x"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
