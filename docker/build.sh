#!/usr/bin/env bash
# Build the corridos images: docker/build.sh [audio|light|train|serving ...] (default: all).
# Tags come from corridos/constants.py, so the pipeline and the manifests name what is built.
# The build context is a staged copy of the few files the images need: the repository holds
# GBs of environments and runs that must not be sent to the daemon.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(audio light train serving)

eval "$(python3 - <<'PY'
import runpy
c = runpy.run_path("corridos/constants.py")
for name in ("AUDIO_IMAGE", "TRAIN_IMAGE", "LIGHT_IMAGE", "SERVING_IMAGE", "IMAGE_TAG"):
    print(f"{name}={c[name]}")
PY
)"
uv_version=$(sed -n 's/^UV_VERSION := //p' Makefile)
BASE_IMAGE=corridos-base:$IMAGE_TAG

docker/dockerd.sh
docker/base.sh

context=$(mktemp -d /tmp/corridos-context.XXXXXX)
trap 'rm -rf "$context"' EXIT
logs=${BUILD_LOGS:-runs/images}
mkdir -p "$logs"
cp -r pyproject.toml uv.lock README.md corridos "$context"/
[ -d serving ] && cp -r serving "$context"/
find "$context" -name __pycache__ -prune -exec rm -rf {} +
cp docker/with-build-ca.sh "$context"/
# Extra roots for reaching PyPI from the build (a TLS-intercepting proxy's CA), used per command
# and never installed in an image: $CORRIDOS_BUILD_CA, else the host's local CAs, else none.
extra_ca=$(cat ${CORRIDOS_BUILD_CA:-/usr/local/share/ca-certificates/*.crt} 2>/dev/null || true)

build() {  # build TAG DOCKERFILE [ARG=VALUE ...]
  local tag=$1 file=$2; shift 2
  local args=()
  for a in "$@" "EXTRA_CA_PEM=$extra_ca"; do args+=(--build-arg "$a"); done
  echo "== $tag"
  local start=$SECONDS log=$logs/${tag//[:\/]/_}.log
  # The legacy builder and the host network: BuildKit and bridges do not work here (FINDINGS).
  DOCKER_BUILDKIT=0 docker build --network host -f "docker/$file" "${args[@]}" -t "$tag" "$context" >"$log" 2>&1 || {
    tail -30 "$log" >&2; echo "build of $tag failed; the whole log: $log" >&2; exit 1; }
  echo "   built in $((SECONDS - start)) s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.2f GB", $1/1e9}')"
}

build "$BASE_IMAGE" base.Dockerfile "UV_VERSION=$uv_version"
# Every other image starts from the light one (the main environment).
build "$LIGHT_IMAGE" light.Dockerfile "BASE=$BASE_IMAGE"
for image in "${images[@]}"; do
  case $image in
    light) ;;
    audio) build "$AUDIO_IMAGE" audio.Dockerfile "LIGHT=$LIGHT_IMAGE" ;;
    train) build "$TRAIN_IMAGE" train.Dockerfile "LIGHT=$LIGHT_IMAGE" ;;
    serving)
      [ -f serving/service.py ] || { echo "serving/service.py is missing: the serving image needs it" >&2; exit 1; }
      build "$SERVING_IMAGE" serving.Dockerfile "LIGHT=$LIGHT_IMAGE" ;;
    *) echo "unknown image: $image" >&2; exit 2 ;;
  esac
done
