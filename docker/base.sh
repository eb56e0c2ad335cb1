#!/usr/bin/env bash
# The root filesystem every corridos image starts from: Debian bookworm (minbase) with its
# Python 3.11, made with debootstrap and `docker import`, because no registry image can be
# pulled here. Where Docker Hub is reachable, `debian:bookworm-slim` + apt-get would do
# the same; this keeps the build independent of any image registry.
#   usage: docker/base.sh [TAG]      (default corridos-rootfs:bookworm)
set -euo pipefail
tag=${1:-corridos-rootfs:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag exists; docker rmi it to rebuild"; exit 0
fi
command -v debootstrap >/dev/null || {
  echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
root=$(mktemp -d /tmp/corridos-rootfs.XXXXXX)
trap 'rm -rf "$root" "$root.log"' EXIT
log=$root.log
echo "debootstrap bookworm into $root (log: $log)"
# python3 is 3.11 on bookworm, the version pyproject.toml requires; libsndfile1 for soundfile,
# libgomp1 for onnxruntime and jaxlib.
debootstrap --variant=minbase \
  --include=python3,python3-venv,ca-certificates,libsndfile1,libgomp1 \
  bookworm "$root" "$mirror" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
# debootstrap knows only the release itself: add the security and point-release updates, and
# apply them, so images start patched.
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
SOURCES
{ chroot "$root" apt-get update -qq && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get upgrade -y -qq \
  && chroot "$root" apt-get clean; } >>"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
rm -rf "$root"/var/lib/apt/lists/*
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' - "$tag"
