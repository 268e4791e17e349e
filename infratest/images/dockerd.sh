#!/usr/bin/env bash
# dockerd.sh: make sure a Docker engine answers on this machine.
#
# - installs Debian's docker.io package with apt when dockerd is missing;
# - when `docker info` fails, starts dockerd in the background with the vfs
#   storage driver (works inside containers and sandboxes without overlayfs)
#   and --ip=127.0.0.1, so that published ports bind to the loopback only;
# - waits (bounded, DOCKERD_WAIT seconds, 60 by default) until `docker info`
#   answers.
#
# Idempotent: with an engine already answering it does nothing. dockerd's
# output goes to DOCKERD_LOG (/var/log/oauthstore-dockerd.log by default).
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/oauthstore-dockerd.log}
DOCKERD_WAIT=${DOCKERD_WAIT:-60}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if docker info >/dev/null 2>&1; then
  echo "dockerd.sh: a Docker engine already answers"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "dockerd.sh: installing docker.io with apt"
  start=$SECONDS
  as_root apt-get update -qq
  # docker.io pulls in containerd, runc and the docker CLI.
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    docker.io iptables >/dev/null
  echo "dockerd.sh: docker.io installed in $((SECONDS - start)) s"
fi

# A dockerd of ours may still be starting: only start one if none runs.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "dockerd.sh: starting dockerd (vfs, published ports on 127.0.0.1), log in $DOCKERD_LOG"
  as_root mkdir -p "$(dirname "$DOCKERD_LOG")"
  # setsid: dockerd must outlive this script and its process group.
  as_root setsid dockerd --storage-driver=vfs --ip=127.0.0.1 >>"$DOCKERD_LOG" 2>&1 </dev/null &
fi

deadline=$((SECONDS + DOCKERD_WAIT))
until docker info >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "dockerd.sh: no answer from dockerd after ${DOCKERD_WAIT}s; last lines of $DOCKERD_LOG:" >&2
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    exit 1
  fi
  sleep 1
done
echo "dockerd.sh: Docker engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
