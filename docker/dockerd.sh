#!/usr/bin/env bash
# Make sure a Docker daemon answers; start Debian's dockerd by hand when none runs.
# No bridge and no iptables: this machine's kernel/sandbox allows neither, so builds and
# containers use the host network (`--network host`).
set -euo pipefail
docker info >/dev/null 2>&1 && exit 0
command -v dockerd >/dev/null || {
  echo "dockerd is missing: apt-get install docker.io (or point DOCKER_HOST at a daemon)" >&2; exit 1; }
log=${DOCKERD_LOG:-/tmp/corridos-dockerd.log}
nohup dockerd --iptables=false --ip6tables=false --bridge=none >"$log" 2>&1 &
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "dockerd did not answer within 60 s; see $log" >&2
exit 1
