#!/usr/bin/env bash
# `npm test` (and `.ci/run`): set up everything the suites need, then run vitest.
#
# Plain bash on purpose: it must work on a machine whose Node is too old for vitest (Debian's
# Node 20 dies inside vitest with "Map.groupBy is not a function"), so nothing here runs
# before Node 24 is in place except shell and `node -p` on long-standing APIs.
#
# Steps, each idempotent (a second run only checks):
#   1. Node >= package.json engines, else Node 24 from the npm registry into .tools/, re-exec.
#   2. System tools the tests drive (redis-server, chromium, haproxy, coturn, docker, ...):
#      installed with apt as root, otherwise named with the exact install command.
#   3. node_modules (npm ci when missing or older than package-lock.json), then `npm run build`.
#   4. When the docker tests are part of the run: a container engine (starts a private dockerd
#      when none answers) and the local stand-in images (built once, cached by content hash).
#   5. vitest run, with any arguments given (`npm test -- test/unit`); without arguments,
#      `npm run lint` first, then two passes (see the end of this file).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SETUP="$ROOT/scripts/test-setup"
# shellcheck source=test-setup/common.sh
. "$SETUP/common.sh"
# shellcheck source=test-setup/node.sh
. "$SETUP/node.sh"
# shellcheck source=test-setup/system-tools.sh
. "$SETUP/system-tools.sh"
# shellcheck source=test-setup/container-engine.sh
. "$SETUP/container-engine.sh"
# shellcheck source=test-setup/local-images.sh
. "$SETUP/local-images.sh"

ensure_node "$@"          # may exec this script again under Node 24
ensure_system_tools
ensure_node_modules

section "build"
npm run build

# Where `npm test` set up a container engine, the run really exercises the testcontainers
# path of the Redis fixture: REDIS_FIXTURE_REQUIRE turns its fallback to the binary into a
# failure. No Ryuk (its image is on Docker Hub only): the fixtures remove their containers,
# and the exit trap removes what a crashed test file left behind.
use_container_redis() {
  export TESTCONTAINERS_RYUK_DISABLED=true
  if [ -z "${REDIS_URL:-}" ]; then export REDIS_FIXTURE_REQUIRE="${REDIS_FIXTURE_REQUIRE:-testcontainers}"; fi
}

status=0
if [ "$#" -eq 0 ]; then
  # The whole suite, in two passes so the images build while the first one runs:
  #   1. unit, integration, browser: Redis as a user without Docker gets it (the binary),
  #      unless the user's own engine answers (then theirs, as the fixture prefers);
  #   2. the docker tests, and the protocol v1 and resilience suites once more with Redis
  #      started by testcontainers from the local REDIS_IMAGE.
  # Lint first (type-aware eslint, Prettier's check, knip): a finding fails the run, but the
  # suites still run so one push shows everything that is wrong.
  section "lint"
  npm run --silent lint || status=$?
  ensure_container_engine
  start_local_images_build
  SUMMARY_FILE="$(mktemp)"; export SUMMARY_FILE
  section "vitest: unit, integration, browser"
  if [ "${DOCKER_HOST:-}" = "unix://$ENGINE_SOCK" ]; then
    env -u DOCKER_HOST npx --no-install vitest run --project unit --project integration --project browser || status=$?
  else
    npx --no-install vitest run --project unit --project integration --project browser || status=$?
  fi
  recheck_container_engine
  wait_local_images_build
  recheck_container_engine
  use_container_redis
  section "vitest: docker, and Redis through testcontainers"
  npx --no-install vitest run test/docker test/integration/protocol-v1.test.ts test/integration/resilience.test.ts || status=$?
  # One closing line for both passes (CI reads the last one).
  awk '{ p += $1; f += $2; s += $3 } END { printf "\ntotal: %d passed, %d failed, %d skipped\n", p, f, s }' "$SUMMARY_FILE"
  rm -f "$SUMMARY_FILE"
elif docker_tests_selected "$@"; then
  ensure_container_engine
  ensure_local_images
  use_container_redis
  section "vitest"
  npx --no-install vitest run "$@" || status=$?
else
  section "vitest"
  npx --no-install vitest run "$@" || status=$?
fi
exit "$status"
