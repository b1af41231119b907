# A container engine for the docker tests and the testcontainers path of the Redis fixture.
# Sourced by scripts/test.sh.
#
# An engine that already answers (DOCKER_HOST, or the default socket) is used as it is.
# Otherwise, as root, this starts a private dockerd: its own socket and exec root under
# /run/webrtc-signaling-test (so other tools that probe /var/run/docker.sock do not find it),
# the default data root /var/lib/docker (so built images stay cached between runs), its log
# in a temp folder, and published ports defaulting to 127.0.0.1. It is stopped at exit by the
# last run using it (runs on one machine share it through two locks, below).

ENGINE_DIR=/run/webrtc-signaling-test
ENGINE_SOCK="$ENGINE_DIR/docker.sock"
ENGINE_LOCK_FD=

# True when a docker-compatible daemon answers on the current DOCKER_HOST (or the default).
docker_answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# The docker tests run when no file filter is given, or a filter names test/docker.
docker_tests_selected() {
  local arg any_filter=
  for arg in "$@"; do
    case "$arg" in
      -*) ;;
      *) any_filter=1; case "$arg" in *docker*) return 0 ;; esac ;;
    esac
  done
  [ -z "$any_filter" ]
}

# Two locks, so runs on one machine share one daemon without waiting for each other:
#   start.lock  exclusive, briefly: whoever holds it may start or stop the daemon;
#   users.lock  shared by every run using the daemon, for as long as it runs.
# A run joining takes users.lock while holding start.lock, and a run leaving checks for
# other users while holding start.lock, so nobody stops the daemon under a run that joins.
ENGINE_START_FD=
ENGINE_USERS_FD=

stop_private_engine() {
  [ -n "$ENGINE_USERS_FD" ] || return 0
  flock -x -w 120 "$ENGINE_START_FD" || true
  # Last one out (an exclusive users.lock means no other run holds it shared) removes what
  # crashed test files left behind and stops the daemon.
  # ($ENGINE_DIR/lock is what earlier versions of this script held: a run of one of those may
  # still be using the daemon.)
  if flock -x -n "$ENGINE_USERS_FD" && { [ ! -e "$ENGINE_DIR/lock" ] || flock -x -n "$ENGINE_DIR/lock" true; }; then
    local leftovers
    leftovers="$(docker ps -aq --filter label=org.testcontainers=true 2>/dev/null || true)"
    # Compose projects of the docker tests (test/docker/compose.test.ts names them sigtest-*).
    leftovers="$leftovers $(docker ps -a --filter label=com.docker.compose.project --format '{{.ID}} {{.Label "com.docker.compose.project"}}' 2>/dev/null | awk '$2 ~ /^sigtest-/ { print $1 }' || true)"
    leftovers="$leftovers $(docker ps -aq --filter label=webrtc-signaling-test 2>/dev/null || true)"
    # shellcheck disable=SC2086
    if [ -n "${leftovers// /}" ]; then docker rm -f $leftovers >/dev/null 2>&1 || true; fi
    local pid
    pid="$(cat "$ENGINE_DIR/docker.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      note "stopping the private dockerd (pid $pid): no other test run is using it"
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
  else
    note "leaving dockerd running: another test run is using it"
  fi
  exec {ENGINE_USERS_FD}>&- {ENGINE_START_FD}>&-
  ENGINE_USERS_FD=
  ENGINE_START_FD=
}

start_private_engine() {
  local log_dir
  log_dir="$(mktemp -d "${TMPDIR:-/tmp}/dockerd-XXXXXX")"
  note "starting dockerd (log: $log_dir/dockerd.log)"
  # setsid: the daemon must not get the terminal's Ctrl-C before we stop it ourselves. The
  # lock descriptors are closed for it: a daemon holding this run's lock would look like a
  # run that never ends, and nobody would ever stop it.
  setsid dockerd \
    --host "unix://$ENGINE_SOCK" \
    --exec-root "$ENGINE_DIR/exec" \
    --pidfile "$ENGINE_DIR/docker.pid" \
    --ip 127.0.0.1 \
    >"$log_dir/dockerd.log" 2>&1 </dev/null {ENGINE_START_FD}>&- {ENGINE_USERS_FD}>&- &
  local pid=$!
  for _ in $(seq 1 150); do
    if docker_answers; then
      note "dockerd $(docker version --format '{{.Server.Version}}') answers on $DOCKER_HOST"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  tail -n 30 "$log_dir/dockerd.log" >&2 || true
  fail "dockerd did not answer within 30 s (log above, full log in $log_dir/dockerd.log)"
}

ensure_container_engine() {
  section "Container engine"
  if docker_answers; then
    note "using the running engine: docker $(docker version --format '{{.Server.Version}}') at ${DOCKER_HOST:-the default socket}"
    return
  fi
  if [ -z "$CAN_ROOT" ] || [ "$(id -u)" -ne 0 ]; then
    fail "the docker tests need a container engine and none answers${DOCKER_HOST:+ at $DOCKER_HOST}. Start one (\`sudo systemctl start docker\`, or \`sudo dockerd &\`), or install it with \`sudo apt-get install -y docker.io docker-compose\`; or run the other suites alone: npm test -- test/unit test/integration test/browser"
  fi
  mkdir -p "$ENGINE_DIR"
  export DOCKER_HOST="unix://$ENGINE_SOCK"
  exec {ENGINE_START_FD}>"$ENGINE_DIR/start.lock" {ENGINE_USERS_FD}>"$ENGINE_DIR/users.lock"
  add_cleanup stop_private_engine
  flock -x -w 300 "$ENGINE_START_FD" || fail "another test run has held $ENGINE_DIR/start.lock for 5 minutes"
  if docker_answers; then note "using the dockerd another test run started on $DOCKER_HOST"; else start_private_engine; fi
  flock -s "$ENGINE_USERS_FD"
  flock -u "$ENGINE_START_FD"
}
