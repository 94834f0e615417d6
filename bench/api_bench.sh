#!/usr/bin/env bash
# The REST API of `crmhost serve` under load (issue 13, "Performance"), measured with wrk
# (Debian's wrk) over a synthetic store of CUSTOMERS customers (default 1,000,000) with ORDERS
# orders (default 10,000,000) and EVENTS activity events (default 2,000,000), the same store
# bench/scoring_bench.sh generates (reused when it exists), scored once so customers have bands:
#   - GET /api/v1/customers/{id} (the 360 view), a random existing id per request (bench/api_get.lua),
#     THREADS threads and CONNECTIONS connections (2 and 64) for DURATION (15s): requests/s and p99;
#     in the same run, nginx (Debian's nginx-light, started here with its own configuration on a
#     free loopback port, access_log off) serves one real 360 answer saved to a file, with the
#     same requests: this machine's HTTP ceiling. Prints crmhost / nginx.
#   - GET /api/v1/customers?band=red&limit=50 with the same load: requests/s and p99.
#   - POST /api/v1/events, batches of BATCH (1,000) new orders of existing customers, unique
#     external ids per request (bench/api_events.lua), EVENTS_CONNECTIONS (4) connections: records
#     stored per second (accepted batches x BATCH / duration); afterwards the store is counted to
#     check that the rows are there.
# Medians of RUNS runs (default 5) each, then a summary table against the issue's targets.
# The server runs on a copy of the generated store (the events it takes do not grow the shared
# one); its API token comes from `crmhost tokens create`. The measuring part holds the machine's
# build lock (/tmp/crm-build.lock), so no build runs beside wrk.
# BACKEND=postgresql serves the store copied (`crmhost store copy`) into a fresh database of a
# throwaway PostgreSQL 15 server with durability on (bench/postgresql_bench_server.sh), or of the
# server at POSTGRESQL_URL if given; POSTGRESQL_STORE=postgresql://.../db serves a store copied there
# before, as it is (the events posted stay in it).
#   bench/api_bench.sh       RUNS=3 CUSTOMERS=100000 ORDERS=1000000 bench/api_bench.sh
#   BACKEND=postgresql bench/api_bench.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-5}"
customers="${CUSTOMERS:-1000000}"
orders="${ORDERS:-10000000}"
events="${EVENTS:-2000000}"
backend="${BACKEND:-sqlite}"
duration="${DURATION:-15s}"
threads="${THREADS:-2}"
connections="${CONNECTIONS:-64}"
events_connections="${EVENTS_CONNECTIONS:-4}"
batch="${BATCH:-1000}"
timeout="${WRK_TIMEOUT:-10s}"  # wrk's own 2 s would cut a slow server's latencies short
build="$root/build-bench"
lock=/tmp/crm-build.lock

source "$root/scripts/lib.sh"
CRM_BENCH_PACKAGES+=(wrk nginx-light curl)
crm_install_dependencies bench
cmake --preset bench -S "$root" >/dev/null
flock "$lock" cmake --build --preset bench --target crmhost crm_scoring_bench >/dev/null

crmhost="$build/bin/crmhost"
bench="$build/bin/crm_scoring_bench"
plugins="$build/plugins"
db="$build/scoring/crm-$customers-$orders-$events.db"
work="$build/api"
mkdir -p "$build/scoring" "$work"

# The store bench/scoring_bench.sh generates, with one finished scoring run (its end-to-end
# stores one; a store it only generated has none yet).
if [[ ! -f "$db" ]]; then
  "$bench" generate --db "$db" --customers "$customers" --orders "$orders" --events "$events"
  "$bench" train --db "$db" --plugin-dir "$plugins"
fi
if [[ "$(sqlite3 "$db" "SELECT count(*) FROM customer_scores")" == 0 ]]; then
  "$bench" end-to-end --db "$db" --plugin-dir "$plugins"
fi

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [[ -n "${pg_dir:-}" ]]; then
    "$root/bench/postgresql_bench_server.sh" stop "$pg_dir" || true
  fi
}
trap cleanup EXIT

# The served store: a copy, so the events posted do not change the generated one.
if [[ "$backend" == sqlite ]]; then
  store="$work/crm.db"
  rm -f "$store" "$store-wal" "$store-shm"
  sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
  cp "$db" "$store"
  count_sql() { sqlite3 "$store" "$1"; }
elif [[ "$backend" == postgresql && -n "${POSTGRESQL_STORE:-}" ]]; then
  store="$POSTGRESQL_STORE"
  count_sql() { psql -qAt "$store" -c "$1"; }
elif [[ "$backend" == postgresql ]]; then
  server="${POSTGRESQL_URL:-}"
  if [[ -z "$server" ]]; then
    pg_dir="$work/pg"
    chmod 755 "$build" "$work"  # the server runs as `postgres` when we are root
    "$root/bench/postgresql_bench_server.sh" start "$pg_dir" >/dev/null
    server=$(cat "$pg_dir/url")
  fi
  name="crm_api_${customers}_${orders}_${events}"
  PGOPTIONS=--client-min-messages=warning psql -q "$server" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" \
    -c "CREATE DATABASE $name" >/dev/null
  store="${server%/*}/$name"
  start=$(date +%s.%N)
  "$crmhost" --db "$db" store copy --to "$store" 2>/dev/null
  echo "store copy to PostgreSQL: $(echo "$(date +%s.%N) - $start" | bc -l | xargs printf '%.1f') s"
  count_sql() { psql -qAt "$store" -c "$1"; }
else
  echo "BACKEND must be sqlite or postgresql, not $backend" >&2
  exit 2
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until URL answers (any HTTP status), or fails naming LOG.
wait_for() {
  local url=$1 log=$2 pid=$3 i
  for ((i = 0; i < 300; i++)); do
    if curl -s -o /dev/null "$url"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server for $url exited before it answered:" >&2
      tail -n 30 "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$url did not answer within 30 s:" >&2
  tail -n 30 "$log" >&2
  exit 1
}

# The scheduler's jobs are off: a scoring run of a million customers, caught up at start, or
# alert evaluation every 30 s would run beside the requests measured.
config="$work/crmhost.json"
cat >"$config" <<EOF
{
  "database": "$store",
  "log_level": "warn",
  "plugin_dirs": ["$plugins"],
  "service": {"jobs": {"score": {"enabled": false}, "alerts": {"enabled": false}, "winback": {"enabled": false}}}
}
EOF
token=$("$crmhost" --config "$config" tokens create "bench-$$" --scopes write --json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

api_port=$(free_port)
"$crmhost" --config "$config" serve --listen "127.0.0.1:$api_port" >"$work/serve.log" 2>&1 &
pids+=($!)
serve_pid=$!
api="http://127.0.0.1:$api_port"
wait_for "$api/healthz" "$work/serve.log" "${pids[-1]}"

# nginx serves one real 360 answer for every /api/v1/customers/{id}: the same bytes, the same
# requests, no application behind them.
nginx_dir="$work/nginx"
rm -rf "$nginx_dir"
mkdir -p "$nginx_dir/www" "$nginx_dir/temp"
curl -sf -H "Authorization: Bearer $token" "$api/api/v1/customers/1" >"$nginx_dir/www/customer.json"
nginx_port=$(free_port)
nginx_user=""
if [[ "$(id -u)" -eq 0 ]]; then
  nginx_user="user root;"  # its workers read files under our (root's) build folder
fi
cat >"$nginx_dir/nginx.conf" <<EOF
$nginx_user
daemon off;
worker_processes auto;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $nginx_dir/temp/body;
  proxy_temp_path $nginx_dir/temp/proxy;
  fastcgi_temp_path $nginx_dir/temp/fastcgi;
  uwsgi_temp_path $nginx_dir/temp/uwsgi;
  scgi_temp_path $nginx_dir/temp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $nginx_dir/www;
    default_type application/json;
    location / { try_files /customer.json =404; }
  }
}
EOF
nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log" &
pids+=($!)
nginx_url="http://127.0.0.1:$nginx_port"
wait_for "$nginx_url/" "$nginx_dir/error.log" "${pids[-1]}"
if ! cmp -s <(curl -sf "$nginx_url/api/v1/customers/7") "$nginx_dir/www/customer.json"; then
  echo "nginx does not serve $nginx_dir/www/customer.json" >&2
  exit 1
fi

# field NAME LINE: the integer NAME=... of a RESULT line.
field() { sed -E "s/.*[[:space:]]$1=([0-9]+).*/\\1/" <<<"$2"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# wait_idle PID: until the process has used less than 5 % of a core over half a second (at most
# 5 minutes). wrk stops at its deadline with requests still in flight; a server that finishes them
# after would otherwise be measured while it still works off the run before.
wait_idle() {
  local before after i
  for ((i = 0; i < 600; i++)); do
    before=$(awk '{print $14 + $15}' "/proc/$1/stat")
    sleep 0.5
    after=$(awk '{print $14 + $15}' "/proc/$1/stat")
    if ((after - before <= $(getconf CLK_TCK) / 40)); then
      return 0
    fi
  done
  echo "process $1 still busy after 5 minutes" >&2
}

# wrk_get URL PATH: one wrk run of bench/api_get.lua; prints its RESULT line, fails on errors.
wrk_get() {
  local output result
  output=$(API_PATH="$2" CUSTOMERS="$customers" API_TOKEN="$token" \
    wrk -t"$threads" -c"$connections" -d"$duration" --timeout "$timeout" --latency -s "$root/bench/api_get.lua" "$1")
  result=$(grep '^RESULT' <<<"$output")
  wait_idle "$serve_pid"
  if (($(field timeouts "$result") > 0)); then
    echo "GET $1$2: $(field timeouts "$result") requests got no answer within $timeout" >&2
  fi
  if (($(field non2xx "$result") + $(field connect_errors "$result") + $(field read_errors "$result") +
    $(field write_errors "$result") > 0)); then
    echo "$output" >&2
    echo "GET $1$2: errors (see above)" >&2
    exit 1
  fi
  echo "$result"
}

# Measured from here on: no build may run beside wrk.
exec {lock_fd}>"$lock"
flock "$lock_fd"

declare -A rates p99s
record() {  # record KEY RESULT [RECORDS_PER_REQUEST]
  local per=${3:-1}
  rates[$1]+="$(awk -v n="$(field requests "$2")" -v us="$(field duration_us "$2")" -v per="$per" \
    'BEGIN {printf "%.0f", n * per / (us / 1e6)}') "
  p99s[$1]+="$(awk -v us="$(field p99_us "$2")" 'BEGIN {printf "%.2f", us / 1000}') "
}
report() {  # report LABEL KEY
  printf '%-46s %s req/s, p99 %s ms\n' "$1" "$(awk -v n="$(field requests "$2")" \
    -v us="$(field duration_us "$2")" 'BEGIN {printf "%.0f", n / (us / 1e6)}')" \
    "$(awk -v us="$(field p99_us "$2")" 'BEGIN {printf "%.2f", us / 1000}')"
}

echo "warming up (5 s of each GET, not counted)"
duration=5s wrk_get "$api" "/api/v1/customers/{id}" >/dev/null
duration=5s wrk_get "$api" "/api/v1/customers?band=red&limit=50" >/dev/null

for ((i = 1; i <= runs; i++)); do
  result=$(wrk_get "$api" "/api/v1/customers/{id}")
  record view "$result"
  report "run $i: crmhost GET /api/v1/customers/{id}" "$result"
  result=$(wrk_get "$nginx_url" "/api/v1/customers/{id}")
  record nginx "$result"
  report "run $i: nginx, the same body from a file" "$result"
done

for ((i = 1; i <= runs; i++)); do
  result=$(wrk_get "$api" "/api/v1/customers?band=red&limit=50")
  record list "$result"
  report "run $i: crmhost GET /api/v1/customers?band=red&limit=50" "$result"
done

for ((i = 1; i <= runs; i++)); do
  tag="apibench-$$-$i"
  output=$(CUSTOMERS="$customers" API_TOKEN="$token" BATCH="$batch" RUN_TAG="$tag" \
    wrk -t1 -c"$events_connections" -d"$duration" --timeout "$timeout" --latency -s "$root/bench/api_events.lua" "$api/api/v1/events")
  result=$(grep '^RESULT' <<<"$output")
  accepted=$(field accepted_batches "$result")
  wait_idle "$serve_pid"
  if (($(field failed_batches "$result") + $(field connect_errors "$result") + $(field read_errors "$result") +
    $(field write_errors "$result") + $(field timeouts "$result") > 0)) || ((accepted == 0)); then
    echo "$output" >&2
    echo "POST /api/v1/events: failed batches or errors (see above)" >&2
    events_failed="failed: $(grep '^FIRST_FAILURE' <<<"$output" | cut -c15-80)"
    break
  fi
  # The rows are in the store: every accepted batch, and at most the batches still in flight
  # when wrk stopped (the server finished them after wrk's last answer: wait_idle).
  stored=$(count_sql "SELECT count(*) FROM orders WHERE source = 'erp' AND external_id LIKE '$tag-%'")
  if ((stored < accepted * batch || stored > (accepted + events_connections) * batch)); then
    echo "POST /api/v1/events run $i: $((accepted * batch)) records accepted, but the store has $stored" >&2
    exit 1
  fi
  record events "$(sed -E "s/requests=[0-9]+/requests=$accepted/" <<<"$result")" "$batch"
  printf '%-46s %s records/s, p99 %s ms per batch (%s records accepted, %s stored)\n' \
    "run $i: crmhost POST /api/v1/events x$batch" "$(awk -v n="$accepted" -v per="$batch" \
    -v us="$(field duration_us "$result")" 'BEGIN {printf "%.0f", n * per / (us / 1e6)}')" \
    "$(awk -v us="$(field p99_us "$result")" 'BEGIN {printf "%.2f", us / 1000}')" "$((accepted * batch))" "$stored"
done
flock -u "$lock_fd"

med() { tr ' ' '\n' <<<"$1" | { grep . || true; } | median; }
verdict() { if awk "BEGIN {exit !($1)}"; then echo met; else echo MISSED; fi; }
view_rate=$(med "${rates[view]}") view_p99=$(med "${p99s[view]}")
nginx_rate=$(med "${rates[nginx]}") nginx_p99=$(med "${p99s[nginx]}")
list_rate=$(med "${rates[list]}") list_p99=$(med "${p99s[list]}")
events_rate=$(med "${rates[events]:-}") events_p99=$(med "${p99s[events]:-}")
echo
echo "crmhost serve on $backend, $customers customers, medians of $runs runs of $duration (wrk -t$threads;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-44s %5s %16s %10s  %-32s %s\n' "request" "conns" "rate" "p99" "target" ""
printf '%-44s %5s %10s req/s %7s ms  %-32s %s\n' "GET /api/v1/customers/{id}" "$connections" "$view_rate" \
  "$view_p99" ">= 5000 req/s, p99 < 25 ms" "$(verdict "$view_rate >= 5000 && $view_p99 < 25")"
printf '%-44s %5s %10s req/s %7s ms  %-32s %s\n' "  nginx, the same body from a file" "$connections" \
  "$nginx_rate" "$nginx_p99" "(this machine's HTTP ceiling)" ""
printf '%-44s %5s %16s %10s\n' "  crmhost / nginx" "" "$(awk -v a="$view_rate" -v b="$nginx_rate" \
  'BEGIN {printf "%.3f", a / b}')" ""
printf '%-44s %5s %10s req/s %7s ms  %-32s %s\n' "GET /api/v1/customers?band=red&limit=50" "$connections" \
  "$list_rate" "$list_p99" "p99 < 50 ms" "$(verdict "$list_p99 < 50")"
if [[ -n "${events_failed:-}" ]]; then
  printf '%-44s %5s %s\n' "POST /api/v1/events, $batch orders a batch" "$events_connections" "$events_failed"
else
  printf '%-44s %5s %8s recs/s %7s ms  %-32s %s\n' "POST /api/v1/events, $batch orders a batch" \
    "$events_connections" "$events_rate" "$events_p99" ">= 50000 records/s stored" \
    "$(verdict "$events_rate >= 50000")"
fi
echo "[view req/s: ${rates[view]}| nginx: ${rates[nginx]}| list p99 ms: ${p99s[list]}| events records/s: ${rates[events]:-}]"
