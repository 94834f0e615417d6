#!/usr/bin/env bash
# Compares the end to end scoring time (crm_scoring_bench end-to-end: feature build +
# every scorer + storing the run) of two Release trees on the same store, alternating
# which goes first, RUNS times each (default 5), and prints both medians and the ratio.
# Both trees must have been built (cmake --preset bench; cmake --build --preset bench)
# and the store generated and trained (bench/scoring_bench.sh does both).
# NEW_STORE: the new tree runs on its own store (an older tree cannot open a store
# migrated past its schema: give it the store its own generator made, and the new
# tree a copy of it opened, migrated and trained once by the new tree).
# Each run starts from a fresh copy of its store (cp, then sync so that the copy's
# writeback does not fall into the run), so every run stores into the same file.
# OLD_ENV="NAME=value ..." runs the old tree with those variables (for example
# GLIBC_TUNABLES=glibc.malloc.hugetlb=1, the heap the new tree gives itself).
#   bench/scoring_compare.sh OLD_BUILD_DIR NEW_BUILD_DIR STORE [NEW_STORE]
#   RUNS=5 bench/scoring_compare.sh ../oldmain/build-bench build-bench build-bench/scoring/crm-1000000-10000000-2000000.db
set -euo pipefail
old=${1:?the old build-bench}
new=${2:?the new build-bench}
store=${3:?a generated, trained store}
new_store=${4:-$store}
runs="${RUNS:-5}"
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
crm_environment_words OLD_ENV old_environment
scratch="$(dirname "$store")/compare-scratch.db"
trap 'rm -f "$scratch" "$scratch-wal" "$scratch-shm"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_one() {  # build label store [NAME=value ...]
  local line
  rm -f "$scratch" "$scratch-wal" "$scratch-shm"
  cp "$3" "$scratch"
  sync
  line=$(env "${@:4}" "$1/bin/crm_scoring_bench" end-to-end --db "$scratch" --plugin-dir "$1/plugins")
  echo "$2: $line" >&2
  sed -E 's/.*total ([0-9.]+) s.*/\1/' <<<"$line"
}
old_times=() new_times=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2 == 1)); then
    old_times+=("$(run_one "$old" old "$store" "${old_environment[@]}")")
    new_times+=("$(run_one "$new" new "$new_store")")
  else
    new_times+=("$(run_one "$new" new "$new_store")")
    old_times+=("$(run_one "$old" old "$store" "${old_environment[@]}")")
  fi
done
old_median=$(printf '%s\n' "${old_times[@]}" | median)
new_median=$(printf '%s\n' "${new_times[@]}" | median)
echo "old: median of $runs runs $old_median s [${old_times[*]}]"
echo "new: median of $runs runs $new_median s [${new_times[*]}]"
awk -v o="$old_median" -v n="$new_median" 'BEGIN {printf "new / old time: %.2fx\n", n / o}'
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
