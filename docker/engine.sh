#!/usr/bin/env bash
# Make sure a Docker engine answers, idempotently: install Debian's docker.io and
# docker-compose (v1.29) if missing, start dockerd in the background if `docker info` fails,
# and wait (bounded) until it answers. On failure, print the engine's own error and exit 1.
#
#   docker/engine.sh                 engine + compose (v2 plugin if present, else v1)
#   docker/engine.sh --compose-v2    also build the `docker compose` v2 plugin with Go
#                                    (Debian bookworm ships no docker-compose-plugin)
#
# Environment: CASCADE_DOCKERD_LOG (default /var/log/cascade-dockerd.log),
# CASCADE_DOCKERD_WAIT_S (default 30), COMPOSE_V2_VERSION (default v2.29.7).
set -euo pipefail

LOG=${CASCADE_DOCKERD_LOG:-/var/log/cascade-dockerd.log}
WAIT_S=${CASCADE_DOCKERD_WAIT_S:-30}
COMPOSE_V2_VERSION=${COMPOSE_V2_VERSION:-v2.29.7}
WANT_V2=0
for arg in "$@"; do
  case "$arg" in
    --compose-v2) WANT_V2=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
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
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  missing+=(docker-compose)
fi
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

# 3. Optionally the compose v2 plugin, built from its Go module (no container registry needed).
if [ "$WANT_V2" = 1 ] && ! docker compose version >/dev/null 2>&1; then
  command -v go >/dev/null || { say "--compose-v2 needs Go on PATH"; exit 2; }
  if [ "$(id -u)" = 0 ]; then plugins=/usr/local/lib/docker/cli-plugins; else plugins=$HOME/.docker/cli-plugins; fi
  say "building docker compose $COMPOSE_V2_VERSION into $plugins (about 2 minutes, once)"
  gobin=$(mktemp -d)
  trap 'rm -rf "$gobin"' EXIT
  GOBIN=$gobin GOFLAGS=-buildvcs=false go install -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_V2_VERSION" \
    "github.com/docker/compose/v2/cmd@$COMPOSE_V2_VERSION"
  mkdir -p "$plugins"
  install -m 0755 "$gobin/cmd" "$plugins/docker-compose"
fi

server=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
if v2=$(docker compose version --short 2>/dev/null); then compose="docker compose $v2 (v2)"
elif v1=$(docker-compose version --short 2>/dev/null); then compose="docker-compose $v1 (v1)"
else compose="none"; fi
say "ready: engine $server; compose: $compose"
