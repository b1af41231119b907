# Shared helpers for scripts/test.sh: sections, root/apt detection, exit clean-ups.
# Sourced, not run.

# Nothing may wait for input: CI has no terminal, and a prompt would hang the job.
export DEBIAN_FRONTEND=noninteractive

# Seconds since `npm test` started (kept across the re-exec under Node 24), in every heading.
export TEST_SH_STARTED="${TEST_SH_STARTED:-$(date +%s)}"
section() { printf '\n===== %s (+%d s) =====\n' "$*" "$(($(date +%s) - TEST_SH_STARTED))"; }
note() { printf '[test set-up] %s\n' "$*"; }
fail() {
  printf '[test set-up] error: %s\n' "$*" >&2
  exit 1
}

# Clean-ups run once at exit, last registered first (dockerd stops after its containers).
CLEANUPS=()
add_cleanup() { CLEANUPS=("$1" "${CLEANUPS[@]}"); }
run_cleanups() {
  local fn
  for fn in "${CLEANUPS[@]}"; do "$fn" || true; done
  CLEANUPS=()
}
trap run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# How to run privileged commands: as root directly, else `sudo -n` when that works without a
# password; empty CAN_ROOT means we cannot, and the caller prints what to run instead.
AS_ROOT=()
CAN_ROOT=1
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then AS_ROOT=(sudo -n); else CAN_ROOT=; fi
fi
can_apt() { [ -n "$CAN_ROOT" ] && command -v apt-get >/dev/null 2>&1; }

# Keep apt from starting services (redis-server on 6379, coturn, haproxy, dockerd): the tests
# start their own servers on free ports and must not depend on, or collide with, system
# daemons. policy-rc.d exiting 101 is Debian's "do not start" answer.
POLICY_RC=/usr/sbin/policy-rc.d
remove_policy_rc() { "${AS_ROOT[@]}" rm -f "$POLICY_RC"; }
block_service_starts() {
  if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${AS_ROOT[@]}" tee "$POLICY_RC" >/dev/null
    "${AS_ROOT[@]}" chmod 755 "$POLICY_RC"
    add_cleanup remove_policy_rc
  fi
}

APT_UPDATED=
apt_install() {
  block_service_starts
  if [ -z "$APT_UPDATED" ]; then
    "${AS_ROOT[@]}" apt-get -o Acquire::Retries=3 update
    APT_UPDATED=1
  fi
  "${AS_ROOT[@]}" apt-get -o Acquire::Retries=3 install -y --no-install-recommends "$@"
}
