# System tools the suites drive for real, installed before any test starts.
# Sourced by scripts/test.sh.

# command -> Debian package providing it. Keep in step with test/fixtures (requireExecutable)
# and the README's testing section.
declare -A TOOL_PACKAGE=(
  [redis-server]=redis-server   # Redis fixture (binary path), Redis Cluster fixture
  [chromium]=chromium           # browser tests (playwright-core drives the system Chromium)
  [firefox-esr]=firefox-esr     # browser tests in Firefox
  [haproxy]=haproxy             # load-balancer tests, npm run cluster
  [turnserver]=coturn           # TURN relay tests
  [openssl]=openssl             # TLS Redis fixture's throwaway certificate
  [dockerd]=docker.io           # container engine for the docker tests and testcontainers
  [docker]=docker.io
  [docker-compose]=docker-compose
  [debootstrap]=debootstrap     # local stand-ins for public base images (no registry here)
)
TOOL_ORDER=(redis-server chromium firefox-esr haproxy turnserver openssl dockerd docker docker-compose debootstrap)

# Finds a tool on PATH or in Debian's sbin folders (PATH is often trimmed under sudo or CI).
have_tool() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ] || [ -x "/sbin/$1" ]
}

ensure_system_tools() {
  section "System tools"
  local cmd missing=() packages=()
  for cmd in "${TOOL_ORDER[@]}"; do
    if have_tool "$cmd"; then continue; fi
    missing+=("$cmd")
    case " ${packages[*]} " in *" ${TOOL_PACKAGE[$cmd]} "*) ;; *) packages+=("${TOOL_PACKAGE[$cmd]}") ;; esac
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    note "found: ${TOOL_ORDER[*]}"
    return
  fi
  note "missing: ${missing[*]}"
  if can_apt; then
    apt_install "${packages[@]}"
    return
  fi
  fail "the tests need ${missing[*]}. Install them (as root) with: apt-get install -y ${packages[*]}"
}
