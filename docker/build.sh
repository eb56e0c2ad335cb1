#!/usr/bin/env bash
# Build the corridos images: docker/build.sh [audio|light|train|serving ...] (default: all).
# Names: REGISTRY/corridos-<job>:TAG, from corridos/mlops/cluster.py (the names the pipeline and
# the manifests use); $CORRIDOS_IMAGE_REGISTRY and $CORRIDOS_IMAGE_TAG override its defaults, as
# they do for `corridos pipeline compile|submit`.
# The build context is a staged copy of the few files the images need: the repository holds
# GBs of environments and runs that must not be sent to the daemon.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(audio light train serving)
for image in "${images[@]}"; do
  case $image in audio | light | train | serving) ;; *) echo "unknown image: $image" >&2; exit 2 ;; esac
done

source docker/common.sh
uv_version=$(sed -n 's/^UV_VERSION := //p' Makefile)
# Local-only layers the images share: what they run on, and that plus uv.
BASE_IMAGE=corridos-base:$IMAGE_TAG UV_IMAGE=corridos-uv:$IMAGE_TAG

docker/dockerd.sh
docker/base.sh

context=$(mktemp -d /tmp/corridos-context.XXXXXX)
trap 'rm -rf "$context"' EXIT
logs=${BUILD_LOGS:-runs/images}
mkdir -p "$logs"
cp -r pyproject.toml uv.lock README.md corridos "$context"/
[ -d serving ] && cp -r serving "$context"/
find "$context" -name __pycache__ -prune -exec rm -rf {} +
cp docker/with-build-ca.sh docker/slim-venv.sh "$context"/
# Extra roots for reaching PyPI from the build (a TLS-intercepting proxy's CA), used per command
# and never installed in an image: $CORRIDOS_BUILD_CA, else the host's local CAs, else none.
extra_ca=$(cat ${CORRIDOS_BUILD_CA:-/usr/local/share/ca-certificates/*.crt} 2>/dev/null || true)

build() {  # build TAG DOCKERFILE [ARG=VALUE ...]
  local tag=$1 file=$2; shift 2
  local args=()
  for a in "$@" "EXTRA_CA_PEM=$extra_ca"; do args+=(--build-arg "$a"); done
  echo "== $tag"
  local start=$SECONDS log=$logs/${tag//[:\/]/_}.log
  # The legacy builder and the host network: BuildKit does not start in this sandbox, which allows
  # no network bridge either.
  DOCKER_BUILDKIT=0 docker build --network host -f "docker/$file" "${args[@]}" -t "$tag" "$context" >"$log" 2>&1 || {
    tail -30 "$log" >&2; echo "build of $tag failed; the whole log: $log" >&2; exit 1; }
  echo "   built in $((SECONDS - start)) s, $(image_size "$tag")"
}

build "$BASE_IMAGE" base.Dockerfile
build "$UV_IMAGE" uv.Dockerfile "BASE=$BASE_IMAGE" "UV_VERSION=$uv_version"
# The audio and train images grow from the light one; the serving image only from the base.
for image in "${images[@]}"; do
  case $image in
    light | audio | train) build "$LIGHT_IMAGE" light.Dockerfile "UV_IMAGE=$UV_IMAGE"; break ;;
  esac
done
for image in "${images[@]}"; do
  case $image in
    light) ;;
    audio) build "$AUDIO_IMAGE" audio.Dockerfile "LIGHT=$LIGHT_IMAGE" ;;
    train) build "$TRAIN_IMAGE" train.Dockerfile "LIGHT=$LIGHT_IMAGE" ;;
    serving) build "$SERVING_IMAGE" serving.Dockerfile "UV_IMAGE=$UV_IMAGE" "BASE=$BASE_IMAGE" ;;
  esac
done
