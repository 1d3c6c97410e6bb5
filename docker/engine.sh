#!/usr/bin/env bash
# Make sure a Docker engine answers, with both compose versions, idempotently:
#   - Debian's docker.io and docker-compose (v1.29, kept for the compatibility run) if missing;
#   - the `docker compose` v2 plugin (the default compose), pinned: Debian bookworm packages no
#     docker-compose-plugin, so it is built once from its Go module into Cascade's cache
#     (~/.cache/cascade/compose/<version>/, like the toxiproxy-server build) and installed from there;
#   - dockerd started in the background if `docker info` fails, then waited for (bounded).
# On failure, print the engine's own error and exit 1.
#
#   docker/engine.sh                 engine + docker compose v2 + docker-compose v1
#   docker/engine.sh --no-compose-v2 leave out the v2 plugin (a machine without Go)
#
# Environment: CASCADE_DOCKERD_LOG (default /var/log/cascade-dockerd.log),
# CASCADE_DOCKERD_WAIT_S (default 30), COMPOSE_V2_VERSION (default v2.29.7),
# CASCADE_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/cascade).
set -euo pipefail

LOG=${CASCADE_DOCKERD_LOG:-/var/log/cascade-dockerd.log}
WAIT_S=${CASCADE_DOCKERD_WAIT_S:-30}
COMPOSE_V2_VERSION=${COMPOSE_V2_VERSION:-v2.29.7}
CACHE=${CASCADE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cascade}
WANT_V2=1
for arg in "$@"; do
  case "$arg" in
    --compose-v2) WANT_V2=1 ;;  # the default now; accepted for old scripts
    --no-compose-v2) WANT_V2=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "engine: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'engine: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  say "need root for: $*"; exit 2; fi; }

# The engine's own words: its errors first, then the last lines of its log.
engine_error() {
  if [ -r "$LOG" ]; then
    say "errors in $LOG:"
    grep -E 'level=(error|fatal)|^failed|Error' "$LOG" | tail -n 10 >&2 || true
    say "last lines of $LOG:"
    tail -n 10 "$LOG" >&2
  else
    say "no log at $LOG to show"
  fi
}

# 1. Packages, only what is missing.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)  # v1: the compatibility run
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} with apt-get"
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

# 2. The engine: started only if nobody answers.
if ! docker info >/dev/null 2>&1; then
  if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is running but not answering yet; waiting"
  else
    say "starting dockerd (log: $LOG)"
    # setsid: the engine must outlive this script and the shell that ran it.
    as_root sh -c 'mkdir -p "$(dirname "$1")" && setsid nohup dockerd >>"$1" 2>&1 </dev/null &' sh "$LOG"
  fi
  deadline=$((SECONDS + WAIT_S))
  until docker info >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the Docker engine did not answer within ${WAIT_S} s; docker info says:"
      docker info 2>&1 >/dev/null | tail -n 5 >&2 || true
      engine_error
      exit 1
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
      say "dockerd exited while starting"
      engine_error
      exit 1
    fi
    sleep 0.2
  done
fi

# 3. The compose v2 plugin, pinned, built from its Go module once (no container registry needed).
if [ "$WANT_V2" = 1 ]; then
  have=$(docker compose version --short 2>/dev/null || true)
  if [ "v${have#v}" != "$COMPOSE_V2_VERSION" ]; then
    if [ "$(id -u)" = 0 ]; then plugins=/usr/local/lib/docker/cli-plugins; else plugins=$HOME/.docker/cli-plugins; fi
    cached=$CACHE/compose/$COMPOSE_V2_VERSION/docker-compose
    if [ ! -x "$cached" ]; then
      command -v go >/dev/null || { say "building docker compose $COMPOSE_V2_VERSION needs Go on PATH (or pass --no-compose-v2)"; exit 2; }
      say "building docker compose $COMPOSE_V2_VERSION into $cached (about 2 minutes, once)"
      gobin=$(mktemp -d)
      trap 'rm -rf "$gobin"' EXIT
      GOBIN=$gobin GOFLAGS=-buildvcs=false go install -trimpath \
        -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_V2_VERSION" \
        "github.com/docker/compose/v2/cmd@$COMPOSE_V2_VERSION"
      mkdir -p "$(dirname "$cached")"
      install -m 0755 "$gobin/cmd" "$cached.tmp" && mv -f "$cached.tmp" "$cached"  # never half a binary
      rm -rf "$gobin"; trap - EXIT
    fi
    say "installing docker compose $COMPOSE_V2_VERSION into $plugins (from $cached)"
    mkdir -p "$plugins"
    install -m 0755 "$cached" "$plugins/docker-compose"
    docker compose version >/dev/null || { say "the installed docker compose plugin does not run"; exit 1; }
  fi
fi

server=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
v2=$(docker compose version --short 2>/dev/null || echo missing)
v1=$(docker-compose version --short 2>/dev/null || echo missing)
say "ready: engine $server; docker compose (v2): $v2; docker-compose (v1): $v1"
