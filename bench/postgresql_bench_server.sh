#!/usr/bin/env bash
# postgresql_bench_server.sh start|stop DIR -- a throwaway PostgreSQL 15 server (Debian's
# postgresql-15) for the benchmarks, on a free loopback port in DIR, with durability ON:
# PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes all on), unlike the test
# suite's server (tests/support/postgresql_server.sh), because benchmarks measure the defaults.
# `start` writes the server's base URL (database "postgres") to DIR/url and prints it.
# initdb refuses to run as root: as root the server runs as the `postgres` user.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?a folder for the server}
bin=/usr/lib/postgresql/15/bin
as_server_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  start)
    if [[ ! -x $bin/initdb ]]; then
      echo "postgresql_bench_server.sh: $bin/initdb not found: install Debian's postgresql-15" >&2
      exit 1
    fi
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_server_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    as_server_user "$bin/initdb" -D "$dir/data" -A trust -U crm -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-k $dir -h 127.0.0.1 -p $port" >/dev/null
    echo "postgresql://crm@127.0.0.1:$port/postgres" >"$dir/url.tmp"
    mv "$dir/url.tmp" "$dir/url"
    cat "$dir/url"
    ;;
  stop)
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_server_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgresql_bench_server.sh start|stop DIR" >&2
    exit 2
    ;;
esac
