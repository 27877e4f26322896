#!/usr/bin/env bash
# A Docker engine and a private registry with password auth, for the Docker tests, on loopback only.
#   bash scripts/testbed/docker.sh start   installs docker.io and docker-registry when missing, starts
#                                          dockerd (no bridge, no iptables: containers use the host's
#                                          network) unless one answers already, starts a registry with
#                                          htpasswd auth on a free 127.0.0.1 port, builds the base image
#                                          regent-node-base:20 from this machine's node when missing, and
#                                          prints `export …` lines for the tests
#   bash scripts/testbed/docker.sh stop DIR stops what `start` started (DIR is REGENT_TEST_DOCKER_DIR)
# Nothing is pulled from the internet: the base image is this machine's node binary and its libraries.
set -euo pipefail

BASE_IMAGE=regent-node-base:20
# Bumped when the base image's recipe changes, so that a machine's older one is rebuilt.
BASE_RECIPE=2

log() { echo "docker.sh: $*" >&2; }

wait_for() { # what, command…
  local what=$1
  shift
  for _ in $(seq 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "$what did not come up within 30 s"
  return 1
}

start() {
  if ! command -v dockerd >/dev/null || ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null; then
    log "installing docker.io, docker-registry and apache2-utils (apt)"
    apt-get update -qq >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq docker.io docker-registry apache2-utils >&2
  fi
  local dir
  dir=$(mktemp -d /tmp/regent-docker.XXXXXX)

  if docker version >/dev/null 2>&1; then
    log "using the Docker engine that is running"
  else
    # No bridge and no iptables rules: the machine's network stays as it was; containers run with
    # --network host and reach the tests' servers on 127.0.0.1.
    dockerd --host unix:///var/run/docker.sock --bridge=none --iptables=false --ip-masq=false \
      --pidfile "$dir/dockerd.pid" >"$dir/dockerd.log" 2>&1 &
    echo $! >"$dir/dockerd.started"
    wait_for "dockerd (log: $dir/dockerd.log)" docker version
  fi

  local port
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  mkdir -p "$dir/registry"
  htpasswd -Bbn regent-test regent-test-password >"$dir/htpasswd" 2>/dev/null
  cat >"$dir/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $dir/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: regent-test-only}
auth: {htpasswd: {realm: regent-test, path: $dir/htpasswd}}
EOF
  docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  echo $! >"$dir/registry.pid"
  wait_for "the registry (log: $dir/registry.log)" curl -sf -o /dev/null -w '' "http://127.0.0.1:$port/v2/" -u regent-test:regent-test-password

  if [ "$(docker image inspect -f '{{index .Config.Labels "io.regent.recipe"}}' "$BASE_IMAGE" 2>/dev/null)" != "$BASE_RECIPE" ]; then
    log "building $BASE_IMAGE from $(command -v node)"
    local root
    root=$(mktemp -d)
    mkdir -p "$root/usr/bin" "$root/etc/ssl" "$root/tmp" "$root/app"
    chmod 1777 "$root/tmp"
    # node, and /usr/bin/env for `#!/usr/bin/env node` scripts (as Node's own images have); no shell.
    cp "$(command -v node)" "$root/usr/bin/node"
    cp /usr/bin/env "$root/usr/bin/env"
    for lib in $( (ldd "$(command -v node)" && ldd /usr/bin/env) | grep -o '/[^ ]*' | sort -u); do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
    cp -rL /etc/ssl/certs "$root/etc/ssl/certs"
    printf 'hosts: files\n' >"$root/etc/nsswitch.conf"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
    printf 'root:x:0:0::/root:/usr/bin/node\nnode:x:1000:1000::/home/node:/usr/bin/node\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnode:x:1000:\n' >"$root/etc/group"
    mkdir -p "$root/home/node" && chown 1000:1000 "$root/home/node"
    tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/bin' -c 'WORKDIR /app' -c 'CMD ["/usr/bin/node"]' \
      -c "LABEL io.regent.recipe=$BASE_RECIPE" - "$BASE_IMAGE" >/dev/null
    rm -rf "$root"
  fi

  echo "export REGENT_TEST_DOCKER_DIR=$dir"
  echo "export REGENT_TEST_REGISTRY=127.0.0.1:$port"
  echo "export REGENT_TEST_REGISTRY_USER=regent-test"
  echo "export REGENT_TEST_REGISTRY_PASSWORD=regent-test-password"
  echo "export REGENT_TEST_BASE_IMAGE=$BASE_IMAGE"
}

stop() {
  local dir=${1:?usage: docker.sh stop DIR}
  [ -f "$dir/registry.pid" ] && kill "$(cat "$dir/registry.pid")" 2>/dev/null || true
  if [ -f "$dir/dockerd.started" ]; then
    kill "$(cat "$dir/dockerd.started")" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$(cat "$dir/dockerd.started")" 2>/dev/null || break
      sleep 0.2
    done
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
