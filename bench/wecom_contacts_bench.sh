#!/usr/bin/env bash
# Syncs a WeCom corp of N external contacts (default 100,000) followed by M members (default
# 500) from the WeCom double (tests/doubles/wecom_double.py, its "generated" corp: one in five
# contacts followed by two members) through im_wecom with `crmhost sync` into a fresh SQLite
# store, then syncs again (the second pass compares with the first), several runs each; prints
# the medians of wall time, crmhost's CPU time and its peak memory (max RSS, /usr/bin/time -v).
# PEER_PLUGIN_DIR names a folder holding another build of im_wecom (im_wecom.so and
# im_wecom.json), e.g. im_wecom 0.1 from an older commit, whose cursor carried every contact:
# the same runs with it, the named peer, on the same crmhost.
#   bench/wecom_contacts_bench.sh [CONTACTS] [MEMBERS]
#   RUNS=5 BUILD=build PEER_PLUGIN_DIR=/tmp/old/build/plugins bench/wecom_contacts_bench.sh
# FIRST_PASS_ONLY=1 skips the second pass; PEER_ONLY=1 runs the peer alone.
# BUILD is the build folder holding bin/crmhost and plugins/ (default build-bench, made by
# `cmake --preset bench && cmake --build --preset bench`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
contacts="${1:-100000}"
members="${2:-500}"
runs="${RUNS:-3}"
build="${BUILD:-$root/build-bench}"
build="$(cd "$build" && pwd)"
crmhost="$build/bin/crmhost"
for program in "$crmhost" "$build/plugins/im_wecom.so" /usr/bin/time sqlite3 curl; do
  [[ -e "$program" || -n "$(command -v "$program" 2>/dev/null)" ]] || { echo "missing: $program" >&2; exit 1; }
done

work="$(mktemp -d)"
double_pid=""
cleanup() {
  if [[ -n "$double_pid" ]]; then kill "$double_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 "$root/tests/doubles/wecom_double.py" --port 0 >"$work/double.out" &
double_pid=$!
for _ in $(seq 100); do
  grep -q '^listening' "$work/double.out" 2>/dev/null && break
  sleep 0.1
done
port="$(awk '/^listening/ {print $2}' "$work/double.out")"
[[ -n "$port" ]] || { echo "the WeCom double did not start" >&2; exit 1; }
control() { curl -fsS -X POST --data "$2" "http://127.0.0.1:$port/__control/$1" >/dev/null; }
control state "{\"corps\": {\"ww-bench\": \"bench-contact-secret\"}, \"page_size\": 100,
  \"generated\": {\"contacts\": $contacts, \"members\": $members, \"resigned_members\": 0}}"

cat >"$work/crmhost.json" <<JSON
{"plugins": {"im_wecom": {"config": {"base_url": "http://127.0.0.1:$port/cgi-bin/", "corp_id": "ww-bench",
  "contact_secret": {"env": "WECOM_CONTACT_SECRET"}}}}}
JSON
export WECOM_CONTACT_SECRET=bench-contact-secret

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
# CPU seconds the double has used so far (utime + stime of its process).
double_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$double_pid/stat"; }
# One `crmhost sync` into $work/crm.db with the plugins of $1; appends "wall cpu rss_kb double_cpu" to $2.
sync_once() {
  local plugins=$1 out=$2 start wall double_start
  control reset '{}'
  double_start=$(double_cpu)
  start=$(now)
  /usr/bin/time -v -o "$work/time.txt" "$crmhost" --config "$work/crmhost.json" --no-default-plugin-dir \
    --plugin-dir "$plugins" --db "$work/crm.db" sync >"$work/sync.out" 2>&1 &
  local timed=$! anon=0 file=0 pid
  # Where the memory is: anonymous (heap: the connector, the host's caches) or file pages
  # (SQLite's memory-mapped database), sampled every 0.1 s; peaks printed to stderr.
  while kill -0 "$timed" 2>/dev/null; do
    pid=$(pgrep -P "$timed" -x crmhost || true)
    if [[ -n "$pid" ]]; then
      read -r a f < <(awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {print a + 0, f + 0}' "/proc/$pid/status" 2>/dev/null ||
        echo "0 0")
      ((a > anon)) && anon=$a
      ((f > file)) && file=$f
    fi
    sleep 0.1
  done
  wait "$timed" || { cat "$work/sync.out" >&2; exit 1; }
  printf '  peak RssAnon %d MB, RssFile %d MB, store %d MB\n' $((anon / 1024)) $((file / 1024)) \
    $(($(cat "$work"/crm.db* | wc -c) / 1048576)) >&2
  wall=$(echo "$(now) - $start" | bc -l)
  awk -v wall="$wall" -v double="$(echo "$(double_cpu) - $double_start" | bc -l)" \
    '/User time/ {u=$NF} /System time/ {s=$NF} /Maximum resident/ {r=$NF}
    END {printf "%s %s %s %s\n", wall, u + s, r, double}' "$work/time.txt" >>"$out"
}
# Runs the first and the second pass $runs times with the plugins of $2; prints the medians.
bench() {
  local label=$1 plugins=$2 pass
  rm -f "$work"/first.txt "$work"/second.txt
  for ((i = 1; i <= runs; i++)); do
    rm -f "$work"/crm.db*
    sync_once "$plugins" "$work/first.txt"
    stored=$(sqlite3 "$work/crm.db" "SELECT count(*) FROM contacts")
    [[ "$stored" == "$contacts" ]] || { echo "$label stored $stored contacts, expected $contacts" >&2; exit 1; }
    [[ -n "${FIRST_PASS_ONLY:-}" ]] && continue
    sync_once "$plugins" "$work/second.txt"
    changes=$(sqlite3 "$work/crm.db" "SELECT count(*) FROM activities")
    [[ "$changes" == 0 ]] || { echo "$label: $changes activities after an unchanged pass" >&2; exit 1; }
  done
  passes=(first second)
  [[ -z "${FIRST_PASS_ONLY:-}" ]] || passes=(first)
  for pass in "${passes[@]}"; do
    printf '%-32s %-6s pass: median %6.2f s wall, %6.2f s CPU, %6.1f MB max RSS (double: %5.2f s CPU)  [wall: %s]\n' \
      "$label" "$pass" "$(cut -d' ' -f1 "$work/$pass.txt" | median)" "$(cut -d' ' -f2 "$work/$pass.txt" | median)" \
      "$(echo "$(cut -d' ' -f3 "$work/$pass.txt" | median) / 1024" | bc -l)" \
      "$(cut -d' ' -f4 "$work/$pass.txt" | median)" "$(cut -d' ' -f1 "$work/$pass.txt" | xargs printf '%.2f ')"
  done
}

printf 'contacts: %d, members: %d, runs: %d, machine: %s cores, load average at start: %s\n' "$contacts" \
  "$members" "$runs" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$work/plugins" "$work/peer"
cp "$build/plugins/im_wecom.so" "$build/plugins/im_wecom.json" "$work/plugins/"
[[ -n "${PEER_ONLY:-}" ]] ||
  bench "im_wecom $(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "$work/plugins/im_wecom.json" | head -1) (plugin state)" \
    "$work/plugins"
if [[ -n "${PEER_PLUGIN_DIR:-}" ]]; then
  cp "$PEER_PLUGIN_DIR/im_wecom.so" "$PEER_PLUGIN_DIR/im_wecom.json" "$work/peer/"
  bench "im_wecom $(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "$work/peer/im_wecom.json" | head -1) (cursor)" \
    "$work/peer"
fi
