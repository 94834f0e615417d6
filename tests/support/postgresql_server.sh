#!/usr/bin/env bash
# postgresql_server.sh start|stop DIR [--durable] -- the test suite's PostgreSQL 15 server
# (Debian's postgresql-15), started once per test run on a free loopback port in DIR, durability
# off (tests only); --durable keeps PostgreSQL's defaults (fsync, synchronous_commit,
# full_page_writes on), as the benchmarks measure (bench/postgresql_bench_server.sh). `start` writes the server's base URL to DIR/url; tests read it through
# CRM_TEST_POSTGRESQL_URL_FILE and create a database each (tests/support/test_database.hpp).
# initdb refuses to run as root: as root the server runs as the `postgres` user.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?a folder for the server}
durable=${3:-}
bin=/usr/lib/postgresql/15/bin
as_server_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  start)
    if [[ ! -x $bin/initdb ]]; then
      echo "postgresql_server.sh: $bin/initdb not found: install Debian's postgresql-15 (scripts/test.sh does)" >&2
      exit 1
    fi
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_server_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    initdb_options=(--no-sync)
    server_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    if [[ $durable == --durable ]]; then
      initdb_options=()
      server_options=""
    fi
    as_server_user "$bin/initdb" -D "$dir/data" -A trust -U crm -E UTF8 --locale=C.UTF-8 "${initdb_options[@]}" \
      >"$dir/initdb.log"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-k $dir -h 127.0.0.1 -p $port $server_options" >/dev/null
    echo "postgresql://crm@127.0.0.1:$port/postgres" >"$dir/url.tmp"
    mv "$dir/url.tmp" "$dir/url"
    echo "PostgreSQL test server on 127.0.0.1:$port ($dir)"
    ;;
  stop)
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_server_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgresql_server.sh start|stop DIR [--durable]" >&2
    exit 2
    ;;
esac
