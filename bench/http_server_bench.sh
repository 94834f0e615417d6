#!/usr/bin/env bash
# The HTTP server's ceiling (issue 13): a trivial handler returning a ~2 KB
# JSON body, served by each http::Server implementation (Beast, cpprestsdk)
# and, as this machine's HTTP ceiling, by nginx serving the same bytes from a
# file; each measured RUNS times (default 5) with
# `wrk -t2 -c64 -d10s --latency`, medians of requests/s and p99 printed side by side.
#   bench/http_server_bench.sh          RUNS=3 DURATION=5s bench/http_server_bench.sh
#   BUILD_DIR=build bench/http_server_bench.sh   (a tree where crm_http_server_bench is built: no build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-5}"
duration="${DURATION:-10s}"
threads="${THREADS:-2}"
path=/api/v1/customers/42

if [[ -n "${BUILD_DIR:-}" ]]; then
  build="$BUILD_DIR"
else
  build="$root/build-bench"
  source "$root/scripts/lib.sh"
  crm_install_dependencies bench
  cmake --preset bench -S "$root" >/dev/null
  cmake --build --preset bench --target crm_http_server_bench >/dev/null
fi
bench="$build/bin/crm_http_server_bench"
for program in wrk nginx; do
  command -v "$program" >/dev/null || [[ -x /usr/sbin/$program ]] ||
    { echo "$program is missing: install the Debian package ${program/nginx/nginx-light}" >&2; exit 1; }
done

work="$(mktemp -d)"
chmod 755 "$work"  # started by root, nginx workers run as an unprivileged user
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wrk's latency ("1.23ms", "850.00us", "1.01s") in milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f\n", v}'; }
wait_for_port() {
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1$path" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing answers on 127.0.0.1:$1" >&2; exit 1
}

# measure NAME PORT: RUNS wrk runs, medians into results.
declare -A rps p99
measure() {
  local name=$1 port=$2 rates=() latencies=() output
  wait_for_port "$port"
  wrk -t2 -c64 -d2s "http://127.0.0.1:$port$path" >/dev/null  # warm-up
  for ((i = 1; i <= runs; i++)); do
    output=$(wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:$port$path")
    if grep -q "Non-2xx\|Socket errors" <<<"$output"; then echo "$name run $i: $(grep 'Non-2xx\|Socket errors' <<<"$output")" >&2; fi
    rates+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$output")")
    latencies+=("$(awk '$1 == "99%" {print $2}' <<<"$output" | to_ms)")
    echo "$name run $i: ${rates[-1]} requests/s, p99 ${latencies[-1]} ms" >&2
  done
  rps[$name]=$(printf '%s\n' "${rates[@]}" | median)
  p99[$name]=$(printf '%s\n' "${latencies[@]}" | median)
}

for implementation in beast cpprestsdk; do
  "$bench" --implementation "$implementation" --threads "$threads" >"$work/$implementation.out" &
  server_pid=$!
  for _ in $(seq 100); do grep -q '^port ' "$work/$implementation.out" 2>/dev/null && break; sleep 0.1; done
  measure "$implementation" "$(awk '/^port / {print $2}' "$work/$implementation.out")"
  kill "$server_pid"; wait "$server_pid" || true; server_pid=""
done

# nginx, its own configuration and temporary files, the same body from a file.
nginx_port=$(free_port)
mkdir -p "$work/nginx"
"$bench" --write-body "$work/nginx/customer.json"
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes $threads;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location = $path { default_type application/json; alias $work/nginx/customer.json; }
  }
}
CONF
/usr/sbin/nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
server_pid=$!
measure nginx "$nginx_port"
kill "$server_pid"; wait "$server_pid" || true; server_pid=""

echo "body $(stat -c %s "$work/nginx/customer.json") bytes, wrk -t2 -c64 -d$duration, $threads server threads, median of $runs runs"
printf '%-12s %14s %10s %14s\n' server requests/s p99_ms "of nginx"
for name in beast cpprestsdk nginx; do
  printf '%-12s %14s %10s %13.2fx\n' "$name" "${rps[$name]}" "${p99[$name]}" "$(echo "${rps[$name]} / ${rps[nginx]}" | bc -l)"
done
