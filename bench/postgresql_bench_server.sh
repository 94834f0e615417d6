#!/usr/bin/env bash
# postgresql_bench_server.sh start|stop DIR -- a throwaway PostgreSQL 15 server (Debian's
# postgresql-15) for the benchmarks, on a free loopback port in DIR, with durability ON:
# PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes all on), unlike the test
# suite's server, because benchmarks measure the defaults. The test suite's script starts it
# (tests/support/postgresql_server.sh --durable). `start` writes the server's base URL
# (database "postgres") to DIR/url and prints it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
action=${1:?start or stop}
dir=${2:?a folder for the server}
"$root/tests/support/postgresql_server.sh" "$action" "$dir" --durable >/dev/null
if [[ $action == start ]]; then
  cat "$dir/url"
fi
