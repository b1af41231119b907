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
#   5. vitest run, with any arguments given (`npm test -- test/unit`).
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

if docker_tests_selected "$@"; then
  ensure_container_engine   # exports DOCKER_HOST when it started its own dockerd
  ensure_local_images       # exports NODE_IMAGE, REDIS_IMAGE, HAPROXY_IMAGE
  # No Ryuk (its image is on Docker Hub only): the fixtures remove their containers, and the
  # exit trap removes whatever a crashed test file left behind (containers labelled by
  # testcontainers or by the docker tests).
  export TESTCONTAINERS_RYUK_DISABLED=true
  # The run must really exercise the testcontainers path of the Redis fixture, not quietly
  # fall back to the binary: with this set the fixture fails instead of falling back.
  if [ -z "${REDIS_URL:-}" ]; then export REDIS_FIXTURE_REQUIRE="${REDIS_FIXTURE_REQUIRE:-testcontainers}"; fi
fi

section "vitest"
status=0
npx --no-install vitest run "$@" || status=$?
exit "$status"
