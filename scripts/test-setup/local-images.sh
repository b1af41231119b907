# Local stand-ins for the public images the project ships references to (node, redis,
# haproxy), built from Debian packages because public image registries are not reachable
# from the test machines. Sourced by scripts/test.sh.
#
#   base     debootstrap --variant=minbase bookworm from this machine's apt mirror, imported
#   node     the base + the Node binary this run uses + npm from the npm registry: stands in
#            for node:24-bookworm-slim (same paths, `node` user with uid 1000)
#   redis    the base + Debian's redis-server: stands in for redis:7-alpine
#   haproxy  the base + Debian's haproxy: stands in for haproxy:2.8-alpine
#
# Every tag carries a hash of what goes into the images (their Dockerfiles, the functions
# below that build them, the mirror, the Node and npm versions, the CA bundle, the npm registry), so a second run finds
# them and builds nothing, and any change builds them again.

IMAGES_SRC="$ROOT/test/docker/images"
IMAGE_REPO=webrtc-signaling-test
NPM_SPEC=npm@11
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

# The machine's Debian mirror for bookworm (deb822 .sources or one-line sources.list).
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local found
  found="$(awk '
    /^URIs:/ { uri = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm" && uri != "") { print uri; exit } }
    /^$/ { uri = "" }
  ' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
  if [ -z "$found" ]; then
    found="$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) bookworm .*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)"
  fi
  echo "${found:-http://deb.debian.org/debian}"
}

# Proxy settings of this shell, as build args (docker passes these predefined args to RUN).
proxy_build_args() {
  local name
  for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    if [ -n "${!name:-}" ]; then printf -- '--build-arg\n%s=%s\n' "$name" "${!name}"; fi
  done
}

images_hash() {
  local ca=none
  [ -f "$HOST_CA_BUNDLE" ] && ca="$(sha256sum <"$HOST_CA_BUNDLE" | cut -c1-64)"
  {
    (cd "$IMAGES_SRC" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    # The code that builds them, not the whole file: other edits here need no rebuild.
    declare -f build_base_image build_node_image build_apt_image | sha256sum
    echo "mirror $(debian_mirror)"
    echo "node $(node --version) $NPM_SPEC"
    echo "ca $ca"
    echo "registry $(npm config get registry)"
  } | sha256sum | cut -c1-12
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_base_image() {
  local tag="$1" mirror rootfs
  mirror="$(debian_mirror)"
  [ "$(id -u)" -eq 0 ] || fail "building the local base image needs root (debootstrap); run npm test as root, or build $tag yourself"
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/bookworm-rootfs-XXXXXX")"
  note "debootstrap --variant=minbase bookworm from $mirror"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
    tail -n 20 "$rootfs.log" >&2
    rm -rf "$rootfs"
    fail "debootstrap failed (full log: $rootfs.log)"
  fi
  # Packages installed in image builds must not start services; keep the image lean.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90no-recommends"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs.log"
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$tag" >/dev/null
  rm -rf "$rootfs"
}

build_node_image() {
  local tag="$1" base="$2" ctx node_bin
  ctx="$(mktemp -d "${TMPDIR:-/tmp}/node-image-XXXXXX")"
  cp -r "$IMAGES_SRC/node/." "$ctx/"
  node_bin="$(node -p 'process.execPath')"
  cp "$node_bin" "$ctx/node"
  # npm's registry tarball bundles its dependencies: unpacked, it runs as is.
  (cd "$ctx" && npm pack "$NPM_SPEC" --silent >/dev/null && tar -xzf npm-*.tgz && mv package npm && rm npm-*.tgz)
  if [ -f "$HOST_CA_BUNDLE" ]; then cp "$HOST_CA_BUNDLE" "$ctx/ca-certificates.crt"; else : >"$ctx/ca-certificates.crt"; fi
  local args=()
  mapfile -t args < <(proxy_build_args)
  docker build -q "${args[@]}" --build-arg "BASE=$base" --build-arg "NPM_REGISTRY=$(npm config get registry)" -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

build_apt_image() {
  local tag="$1" base="$2" dir="$3" args=()
  mapfile -t args < <(proxy_build_args)
  docker build -q "${args[@]}" --build-arg "BASE=$base" -t "$tag" "$IMAGES_SRC/$dir" >/dev/null
}

# Older hashes of our stand-ins are dead weight: remove those a day old or more (a younger
# one may belong to another checkout's run going on right now on this machine).
prune_old_images() {
  local hash="$1" ref created day_ago
  day_ago=$(($(date +%s) - 86400))
  docker images --format '{{.Repository}}:{{.Tag}}|{{.CreatedAt}}' | while IFS='|' read -r ref created; do
    case "$ref" in "$IMAGE_REPO"/*) ;; *) continue ;; esac
    case "$ref" in *"-$hash" | *":$hash") continue ;; esac
    created="$(date -d "${created% *}" +%s 2>/dev/null || echo 0)"
    if [ "$created" -lt "$day_ago" ]; then docker rmi "$ref" >/dev/null 2>&1 || true; fi
  done
}

# Names the images of this content hash (LOCAL_NODE_IMAGE, ...); cheap, builds nothing.
name_local_images() {
  LOCAL_HASH="$(images_hash)"
  LOCAL_BASE_IMAGE="$IMAGE_REPO/debian:bookworm-$LOCAL_HASH"
  LOCAL_NODE_IMAGE="$IMAGE_REPO/node:24-$LOCAL_HASH"
  LOCAL_REDIS_IMAGE="$IMAGE_REPO/redis:$LOCAL_HASH"
  LOCAL_HAPROXY_IMAGE="$IMAGE_REPO/haproxy:$LOCAL_HASH"
}

# Builds whichever of the named images is missing (none, on a second run).
build_local_images() {
  local started=$SECONDS
  if image_exists "$LOCAL_NODE_IMAGE" && image_exists "$LOCAL_REDIS_IMAGE" && image_exists "$LOCAL_HAPROXY_IMAGE"; then
    note "cached (hash $LOCAL_HASH): $LOCAL_NODE_IMAGE $LOCAL_REDIS_IMAGE $LOCAL_HAPROXY_IMAGE"
    return
  fi
  if ! image_exists "$LOCAL_BASE_IMAGE"; then build_base_image "$LOCAL_BASE_IMAGE"; note "built $LOCAL_BASE_IMAGE ($((SECONDS - started)) s)"; fi
  image_exists "$LOCAL_NODE_IMAGE" || { build_node_image "$LOCAL_NODE_IMAGE" "$LOCAL_BASE_IMAGE"; note "built $LOCAL_NODE_IMAGE"; }
  image_exists "$LOCAL_REDIS_IMAGE" || { build_apt_image "$LOCAL_REDIS_IMAGE" "$LOCAL_BASE_IMAGE" redis; note "built $LOCAL_REDIS_IMAGE"; }
  image_exists "$LOCAL_HAPROXY_IMAGE" || { build_apt_image "$LOCAL_HAPROXY_IMAGE" "$LOCAL_BASE_IMAGE" haproxy; note "built $LOCAL_HAPROXY_IMAGE"; }
  prune_old_images "$LOCAL_HASH"
  note "local images ready in $((SECONDS - started)) s"
}

# Fills docker's layer cache for the repository's Dockerfile on the local Node image, so the
# docker tests' own `docker build` (the thing they test) finds its layers ready.
warm_app_image() {
  local started=$SECONDS args=()
  mapfile -t args < <(proxy_build_args)
  docker build -q "${args[@]}" --build-arg "NODE_IMAGE=$LOCAL_NODE_IMAGE" -t webrtc-signaling-cluster:test "$ROOT" >/dev/null
  note "Dockerfile layers cached ($((SECONDS - started)) s)"
}

# The images, for the suites that use them (docker-compose.yml reads the same names).
export_local_images() {
  export NODE_IMAGE="$LOCAL_NODE_IMAGE" REDIS_IMAGE="$LOCAL_REDIS_IMAGE" HAPROXY_IMAGE="$LOCAL_HAPROXY_IMAGE"
}

# Stand-ins are for machines without a registry (CI, as root). Images the user named are
# used as they are; a user who is not root (a developer in the docker group) gets the public
# images, which docker pulls.
local_images_wanted() {
  if [ -n "${NODE_IMAGE:-}" ] && [ -n "${REDIS_IMAGE:-}" ] && [ -n "${HAPROXY_IMAGE:-}" ]; then
    note "using the images given: NODE_IMAGE=$NODE_IMAGE REDIS_IMAGE=$REDIS_IMAGE HAPROXY_IMAGE=$HAPROXY_IMAGE"
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    note "not root, so no local stand-ins (debootstrap needs root): the docker tests use the public images, or set NODE_IMAGE, REDIS_IMAGE and HAPROXY_IMAGE to your registry's"
    return 1
  fi
}

ensure_local_images() {
  section "Local images"
  local_images_wanted || return 0
  name_local_images
  build_local_images
  export_local_images
}

# The same, in the background while other suites run: on a fresh machine the debootstrap and
# the first image builds take minutes that need not be spent waiting.
LOCAL_IMAGES_PID=
LOCAL_IMAGES_LOG=
stop_local_images_build() { if [ -n "$LOCAL_IMAGES_PID" ]; then kill "$LOCAL_IMAGES_PID" 2>/dev/null || true; fi; }
start_local_images_build() {
  section "Local images (building in the background)"
  local_images_wanted || return 0
  name_local_images
  LOCAL_IMAGES_LOG="$(mktemp "${TMPDIR:-/tmp}/local-images-XXXXXX.log")"
  note "log: $LOCAL_IMAGES_LOG"
  (build_local_images; warm_app_image) >"$LOCAL_IMAGES_LOG" 2>&1 &
  LOCAL_IMAGES_PID=$!
  add_cleanup stop_local_images_build
}
wait_local_images_build() {
  [ -n "$LOCAL_IMAGES_PID" ] || return 0
  section "Local images"
  local status=0
  wait "$LOCAL_IMAGES_PID" || status=$?
  LOCAL_IMAGES_PID=
  cat "$LOCAL_IMAGES_LOG"
  [ "$status" -eq 0 ] || fail "building the local images failed (exit $status; log above, in $LOCAL_IMAGES_LOG)"
  rm -f "$LOCAL_IMAGES_LOG"
  export_local_images
}
