#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests (scripts/test.sh starts and stops it).
#
#   eval "$(bash scripts/testbed/postgres.sh start)"   # prints export REGENT_TEST_PG_URL=… and REGENT_TEST_PG_DIR=…
#   bash scripts/testbed/postgres.sh stop [DIR]        # DIR defaults to $REGENT_TEST_PG_DIR
#
# `start` installs postgresql-15 with apt when it is missing (root, Debian), makes a cluster in a fresh
# /tmp/regent-pg.XXXX directory, and starts it on 127.0.0.1 only, on port $REGENT_TEST_PG_PORT (default
# 55432) or the next free one, with durability off (fsync, synchronous_commit, full_page_writes). If
# $REGENT_TEST_PG_DIR already names a running cluster, it prints that one's exports again. `stop` stops the
# cluster and removes its directory; it does nothing when there is none. Only the exports go to stdout.
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
DEFAULT_PORT=55432

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

# Runs a command as the postgres user when we are root (initdb refuses root); as ourselves otherwise.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_postgres() {
  [ -x "$PGBIN/initdb" ] && return 0
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL 15 is not installed ($PGBIN/initdb) and installing it needs root: apt-get install postgresql-15, or set REGENT_TEST_PG_URL to a server of your own"
  command -v apt-get >/dev/null || die "PostgreSQL 15 is not installed and there is no apt-get: install it, or set REGENT_TEST_PG_URL"
  # Only our throwaway clusters: stop the package from creating (and starting) the system's 15/main.
  mkdir -p /etc/postgresql-common/createcluster.d
  [ -e /etc/postgresql-common/createcluster.d/regent-no-main-cluster.conf ] ||
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/regent-no-main-cluster.conf
  log "installing PostgreSQL 15 (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql-15 >&2
  [ -x "$PGBIN/initdb" ] || die "apt-get installed postgresql-15 but $PGBIN/initdb is still missing"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_exports() {
  printf 'export REGENT_TEST_PG_URL=postgres://postgres@127.0.0.1:%s/postgres\n' "$2"
  printf 'export REGENT_TEST_PG_DIR=%s\n' "$1"
}

is_running() {
  [ -f "$1/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

stop_cluster() {
  local dir=$1
  case "$dir" in
    /tmp/regent-pg.*) ;;
    *) die "refusing to stop/remove '$dir': not a /tmp/regent-pg.* directory" ;;
  esac
  [ -d "$dir" ] || return 0
  if is_running "$dir"; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      log "pg_ctl stop failed for $dir (see $dir/log)"
  fi
  rm -rf "$dir"
}

start() {
  if [ -n "${REGENT_TEST_PG_DIR:-}" ] && [ -f "$REGENT_TEST_PG_DIR/port" ] && is_running "$REGENT_TEST_PG_DIR"; then
    log "reusing the cluster in $REGENT_TEST_PG_DIR"
    print_exports "$REGENT_TEST_PG_DIR" "$(cat "$REGENT_TEST_PG_DIR/port")"
    return 0
  fi
  install_postgres

  local dir
  dir=$(mktemp -d /tmp/regent-pg.XXXX)
  # Whatever goes wrong from here on, leave no cluster or directory behind.
  trap 'stop_cluster "$dir"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"

  as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    die "initdb failed"
  }

  local port=${REGENT_TEST_PG_PORT:-$DEFAULT_PORT} tries=0
  while :; do
    tries=$((tries + 1))
    [ "$tries" -le 50 ] || die "no free port found from ${REGENT_TEST_PG_PORT:-$DEFAULT_PORT} on"
    if port_in_use "$port"; then
      port=$((port + 1))
      continue
    fi
    # -k: the Unix socket (and its lock file) in our directory, not in /var/run/postgresql or /tmp.
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1; then
      break
    fi
    # Someone took the port between our check and the bind: try the next one. Anything else is fatal.
    if grep -q "could not bind\|could not create any TCP/IP sockets" "$dir/log" 2>/dev/null; then
      : >"$dir/log"
      port=$((port + 1))
      continue
    fi
    tail -n 20 "$dir/log" >&2 2>/dev/null || true
    die "PostgreSQL did not start (log above)"
  done
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30 || die "PostgreSQL on port $port is not ready"
  echo "$port" >"$dir/port"

  trap - EXIT INT TERM
  log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)"
  print_exports "$dir" "$port"
}

case "${1:-}" in
  start) start ;;
  stop)
    dir=${2:-${REGENT_TEST_PG_DIR:-}}
    if [ -n "$dir" ]; then stop_cluster "$dir"; fi
    ;;
  *) die "usage: $0 start | stop [DIR]" ;;
esac
