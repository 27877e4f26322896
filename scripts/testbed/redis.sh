#!/usr/bin/env bash
# A throwaway Redis for the benchmarks (bench/queue.ts starts and stops one), on loopback only.
#
#   eval "$(bash scripts/testbed/redis.sh start)"   # prints export REGENT_TEST_REDIS_URL=… and REGENT_TEST_REDIS_DIR=…
#   bash scripts/testbed/redis.sh stop [DIR]        # DIR defaults to $REGENT_TEST_REDIS_DIR
#
# `start` installs Debian's redis-server with apt when it is missing (root, Debian), and starts it in a fresh
# /tmp/regent-redis.XXXX directory on 127.0.0.1 only, on port $REGENT_TEST_REDIS_PORT (default 56379) or the
# next free one, with persistence off (--save '' --appendonly no). If $REGENT_TEST_REDIS_DIR already names a
# running server, it prints that one's exports again. `stop` stops the server and removes its directory; it
# does nothing when there is none. Only the exports go to stdout.
set -euo pipefail

DEFAULT_PORT=56379

log() { printf 'redis.sh: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

install_redis() {
  command -v redis-server >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || die "redis-server is not installed and installing it needs root: apt-get install redis-server, or set REGENT_TEST_REDIS_URL to a server of your own"
  command -v apt-get >/dev/null || die "redis-server is not installed and there is no apt-get: install it, or set REGENT_TEST_REDIS_URL"
  log "installing redis-server (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  # Only our throwaway servers: stop the package from starting the system's redis-server on 6379 (as
  # postgres.sh stops postgresql-15 from making its main cluster), unless a policy is in place already.
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  local ok=1
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq redis-server >&2 || ok=
  [ -z "$made_policy" ] || rm -f "$policy"
  [ -n "$ok" ] || die "apt-get install redis-server failed"
  command -v redis-server >/dev/null || die "apt-get installed redis-server but it is still not on PATH"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_exports() {
  printf 'export REGENT_TEST_REDIS_URL=redis://127.0.0.1:%s\n' "$2"
  printf 'export REGENT_TEST_REDIS_DIR=%s\n' "$1"
}

# The server's pid when the directory holds a running one of ours.
running_pid() {
  local dir=$1 pid
  [ -f "$dir/redis.pid" ] || return 1
  pid=$(cat "$dir/redis.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # The pid must still be a redis-server (not a reused pid).
  grep -q redis "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

ping() { # port
  if command -v redis-cli >/dev/null; then
    [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
  else
    port_in_use "$1"
  fi
}

stop_server() {
  local dir=$1 pid
  case "$dir" in
    /tmp/regent-redis.*) ;;
    *) die "refusing to stop/remove '$dir': not a /tmp/regent-redis.* directory" ;;
  esac
  [ -d "$dir" ] || return 0
  if pid=$(running_pid "$dir"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "redis-server $pid did not stop in 5 s: killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
}

start() {
  if [ -n "${REGENT_TEST_REDIS_DIR:-}" ] && [ -f "$REGENT_TEST_REDIS_DIR/port" ] && running_pid "$REGENT_TEST_REDIS_DIR" >/dev/null; then
    log "reusing the server in $REGENT_TEST_REDIS_DIR"
    print_exports "$REGENT_TEST_REDIS_DIR" "$(cat "$REGENT_TEST_REDIS_DIR/port")"
    return 0
  fi
  install_redis

  local dir
  dir=$(mktemp -d /tmp/regent-redis.XXXX)
  # Whatever goes wrong from here on, leave no server or directory behind.
  trap 'stop_server "$dir"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local port=${REGENT_TEST_REDIS_PORT:-$DEFAULT_PORT} tries=0 pid
  while :; do
    tries=$((tries + 1))
    [ "$tries" -le 50 ] || die "no free port found from ${REGENT_TEST_REDIS_PORT:-$DEFAULT_PORT} on"
    if port_in_use "$port"; then
      port=$((port + 1))
      continue
    fi
    : >"$dir/log"
    # Not daemonized: we keep its pid, and `stop` signals exactly that process.
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" \
      --daemonize no --protected-mode yes --logfile "$dir/log" </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$dir/redis.pid"
    for _ in $(seq 100); do
      ping "$port" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null && ping "$port"; then break; fi
    # Someone took the port between our check and the bind: try the next one. Anything else is fatal.
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if grep -qi "address already in use" "$dir/log" 2>/dev/null; then
      port=$((port + 1))
      continue
    fi
    tail -n 20 "$dir/log" >&2 2>/dev/null || true
    die "redis-server did not start (log above)"
  done
  echo "$port" >"$dir/port"

  trap - EXIT INT TERM
  log "Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port ($dir)"
  print_exports "$dir" "$port"
}

case "${1:-}" in
  start) start ;;
  stop)
    dir=${2:-${REGENT_TEST_REDIS_DIR:-}}
    if [ -n "$dir" ]; then stop_server "$dir"; fi
    ;;
  *) die "usage: $0 start | stop [DIR]" ;;
esac
