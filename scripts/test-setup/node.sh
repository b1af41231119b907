# Node for the test run: package.json's engines minimum, else Node 24 from the npm registry's
# `node` package (it ships the official binaries) into .tools/, and the script again under it.
# Sourced by scripts/test.sh.

TOOLS_NODE_BIN="$ROOT/.tools/node_modules/node/bin"

# Minimum "major.minor" from engines.node (">=22.12"); `node -p` and require work on any Node.
engines_minimum() {
  sed -n 's/.*"node": *">= *\([0-9][0-9]*\)\(\.\([0-9][0-9]*\)\)\{0,1\}.*/\1.\3/p' "$ROOT/package.json" | head -n1
}

# True when `$1` (a node executable) is at least the engines minimum.
node_new_enough() {
  local node="$1" want have
  want="$(engines_minimum)"
  have="$("$node" -p 'process.versions.node' 2>/dev/null)" || return 1
  awk -v have="$have" -v want="$want" 'BEGIN {
    split(have, h, "."); split(want, w, ".");
    exit !((h[1] + 0 > w[1] + 0) || (h[1] + 0 == w[1] + 0 && h[2] + 0 >= w[2] + 0))
  }'
}

ensure_node() {
  section "Node.js (package.json engines: >=$(engines_minimum))"
  local found
  found="$(command -v node || true)"
  if [ -n "$found" ] && node_new_enough "$found"; then
    note "node $(node --version) at $found; npm $(npm --version 2>/dev/null || echo missing)"
    return
  fi
  note "found node: ${found:-none}${found:+ ($(node --version 2>/dev/null))}; it is older than the engines minimum"
  if [ -n "${TEST_SH_REEXEC:-}" ]; then fail "still on $(node --version) after installing Node 24 into .tools/"; fi
  if [ ! -x "$TOOLS_NODE_BIN/node" ] || ! node_new_enough "$TOOLS_NODE_BIN/node"; then
    if ! command -v npm >/dev/null 2>&1; then
      # Debian's npm brings its own older Node, which is enough to fetch the `node` package.
      if can_apt; then apt_install npm; else
        fail "npm test needs Node >= $(engines_minimum). Install Node 24 (https://nodejs.org/en/download), or npm (\`sudo apt-get install npm\`) so this script can fetch it into .tools/."
      fi
    fi
    note "installing Node 24 from the npm registry into .tools/"
    npm install --prefix "$ROOT/.tools" --no-save --no-audit --no-fund --no-package-lock node@24
  fi
  note "re-running under $("$TOOLS_NODE_BIN/node" --version) from .tools/"
  export PATH="$TOOLS_NODE_BIN:$PATH" TEST_SH_REEXEC=1
  exec bash "$ROOT/scripts/test.sh" "$@"
}

# npm ci when node_modules is missing or older than package-lock.json (a pulled change).
ensure_node_modules() {
  section "node_modules"
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ ! "$ROOT/package-lock.json" -nt "$stamp" ] && [ -z "${CI:-}" ]; then
    note "up to date (npm ci runs when package-lock.json is newer, and always in CI)"
    return
  fi
  npm ci --no-audit --no-fund
}
