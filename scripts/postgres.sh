#!/usr/bin/env bash
# A private PostgreSQL cluster for the server's tests and benchmarks.
#
#   scripts/postgres.sh [start]   ensure postgresql is installed, start the cluster, create the
#                                 test database; prints `export NHI_TEST_POSTGRES_URL=...`
#   scripts/postgres.sh url       print the URL only
#   scripts/postgres.sh stop      stop the cluster
#
# Data and socket live in $NHI_PG_DIR (default: <repo>/.run/pg); port $NHI_PG_PORT, else the
# first free port from 55432 (another checkout's cluster may hold 55432), remembered in
# $NHI_PG_DIR/port. Use it as:  eval "$(scripts/postgres.sh)"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGDIR="${NHI_PG_DIR:-$ROOT/.run/pg}"
DB="${NHI_PG_DB:-nhi_test}"
PORT_FILE="$PGDIR/port"

current_port() {
  if [ -n "${NHI_PG_PORT:-}" ]; then echo "$NHI_PG_PORT"
  elif [ -f "$PORT_FILE" ]; then cat "$PORT_FILE"
  else echo 55432; fi
}
PORT="$(current_port)"
url() { echo "postgres://postgres@127.0.0.1:$PORT/$DB"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log() { echo "postgres.sh: $*" >&2; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  elif [ "$(id -un)" = postgres ]; then
    "$@"
  else
    log "must run as root or postgres"; return 1
  fi
}

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

ensure_installed() {
  if bindir >/dev/null; then return 0; fi
  # apt may be busy (another install): wait for the lock up to ~5 minutes.
  for _ in $(seq 1 60); do
    if [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 2>/dev/null; then
      break
    fi
    bindir >/dev/null && break
    sleep 5
  done
  bindir >/dev/null || { log "postgresql is not installed and cannot be installed"; return 1; }
}

running() {
  local bin; bin="$(bindir)"
  [ -f "$PGDIR/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1
}

start() {
  ensure_installed
  local bin; bin="$(bindir)"
  mkdir -p "$PGDIR"
  chown postgres:postgres "$PGDIR" 2>/dev/null || true
  if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
    log "initdb in $PGDIR/data"
    as_pg "$bin/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! running; then
    rm -f "$PGDIR/data/postmaster.pid"
    if [ -z "${NHI_PG_PORT:-}" ]; then
      while port_busy "$PORT"; do PORT=$((PORT + 1)); done
    fi
    echo "$PORT" > "$PORT_FILE"
    log "starting on 127.0.0.1:$PORT"
    as_pg "$bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 start \
      -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
  fi
  if ! as_pg "$bin/psql" -h "$PGDIR" -p "$PORT" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname='$DB'" postgres | grep -q 1; then
    as_pg "$bin/psql" -h "$PGDIR" -p "$PORT" -U postgres -qc "CREATE DATABASE $DB" postgres
  fi
  echo "export NHI_TEST_POSTGRES_URL=$(url)"
}

stop() {
  local bin; bin="$(bindir)" || return 0
  if running; then as_pg "$bin/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null; log "stopped"; fi
}

case "${1:-start}" in
  start) start ;;
  url) url ;;
  stop) stop ;;
  *) echo "usage: $0 [start|url|stop]" >&2; exit 2 ;;
esac
