#!/usr/bin/env bash
# The project's one test command (`npm test`, and what .ci/run calls). On a fresh Debian machine it
# installs what the tests need when it is missing, builds, type-checks, lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n› %s\n' "$*"; }

# Tools the tests call as a person would: curl (docs/api.md walkthrough), python3 (a client without an
# SDK), script (a terminal for the live progress display).
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
command -v script >/dev/null || missing+=(bsdutils)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]} (apt)"
  apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}"
fi

if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

step "building (tsc -b, then the CLI bundle)"
npm run --silent build
step "type-checking the tests"
npx tsc -p tsconfig.test.json
step "linting and format check (biome)"
npx biome check .

# The database suites run on SQLite and on a real PostgreSQL 15: a throwaway cluster of our own unless
# REGENT_TEST_PG_URL names one already (REGENT_TEST_BACKENDS=sqlite skips PostgreSQL).
cleanup=()
stop_testbed() {
  for command in "${cleanup[@]}"; do eval "$command" || true; done
}
trap stop_testbed EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

backends=",${REGENT_TEST_BACKENDS:-sqlite,postgres},"
if [ -z "${REGENT_TEST_PG_URL:-}" ] && [[ "${backends// /}" == *,postgres,* ]]; then
  step "starting PostgreSQL (scripts/testbed/postgres.sh)"
  pg_env=$(bash scripts/testbed/postgres.sh start) # not `eval "$(…)"`, which would hide a failed start
  eval "$pg_env"
  cleanup+=('bash scripts/testbed/postgres.sh stop "$REGENT_TEST_PG_DIR"')
fi

# The Docker tests need a Docker engine and a private registry with password auth (installed and started
# here when missing; containers use the host's network, so nothing leaves loopback).
if [ -z "${REGENT_TEST_REGISTRY:-}" ]; then
  step "starting a Docker engine and a registry (scripts/testbed/docker.sh)"
  docker_env=$(bash scripts/testbed/docker.sh start)
  eval "$docker_env"
  cleanup+=('bash scripts/testbed/docker.sh stop "$REGENT_TEST_DOCKER_DIR"')
fi

# The web UI's end-to-end tests drive Debian's Chromium (installed here when missing).
if [ -z "${REGENT_TEST_CHROMIUM:-}" ]; then
  step "Chromium for the UI tests (scripts/testbed/chromium.sh)"
  REGENT_TEST_CHROMIUM=$(bash scripts/testbed/chromium.sh)
  export REGENT_TEST_CHROMIUM
fi

step "running the tests (vitest)"
results=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
node scripts/test-summary.mjs "$results"
rm -f "$results"
exit "$status"
