#!/usr/bin/env bash
# The project's one test command (`npm test`, and what .ci/run calls). On a fresh Debian machine it
# installs what the tests need when it is missing, builds, type-checks, lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n› %s\n' "$*"; }

if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

step "building (tsc -b)"
npx tsc -b
step "type-checking the tests"
npx tsc -p tsconfig.test.json
step "linting and format check (biome)"
npx biome check .

step "running the tests (vitest)"
results=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
node scripts/test-summary.mjs "$results"
rm -f "$results"
exit "$status"
