#!/usr/bin/env bash
# Run a smoke test in each built image, as the cluster runs it: uid 10001, read-only root
# filesystem, a tmpfs /tmp, host network (no bridge here; servers answer on loopback); print each
# image's size beside its result.
#   usage: docker/smoke.sh [audio|light|train|serving ...]   (default: all)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(audio light train serving)
corpus=${CORPUS:-../shared/datasets/corridos-midi}
source docker/common.sh
docker/dockerd.sh
run() { docker run --rm --network host --read-only --tmpfs /tmp:exec --user 10001:10001 "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for URL CONTAINER: until URL answers 200 (true) or the container stops or 4 minutes pass (false)
wait_for() {
  for _ in $(seq 120); do
    curl -sf -o /dev/null --max-time 2 "$1" && return 0
    [ "$(docker inspect -f '{{.State.Running}}' "$2")" = true ] || return 1
    sleep 2
  done
  return 1
}
containers=()
trap 'for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done' EXIT

for image in "${images[@]}"; do
  start=$SECONDS
  echo "== $image"
  case $image in
    audio)
      tag=$AUDIO_IMAGE
      # separation and transcription on synthetic audio made in the container, in the audio env;
      # then transcription again from the main env, across the process boundary as the
      # pipeline's components call it
      run -v "$repo/docker/smoke_audio.py:/smoke/smoke_audio.py:ro" "$AUDIO_IMAGE" sh -c \
        '"$CORRIDOS_AUDIO_PYTHON" /smoke/smoke_audio.py /tmp/smoke &&
         corridos audio transcribe /tmp/smoke/separated --out /tmp/smoke/from-main >/dev/null &&
         ls /tmp/smoke/from-main/midi/*.mid && echo "main env -> audio env: transcribed"' ;;
    light)
      # the dataset stage on the corpus, mounted read-only; Keras on JAX, no TensorFlow in the image
      tag=$LIGHT_IMAGE
      run -v "$(cd "$corpus" && pwd):/corpus:ro" "$LIGHT_IMAGE" sh -c \
        'python -c "import importlib.util, keras; assert keras.backend.backend() == \"jax\"; assert not importlib.util.find_spec(\"tensorflow\")" &&
         corridos dataset build /corpus --out /tmp/dataset >/tmp/log 2>&1 || { tail -20 /tmp/log; exit 1; }
         test -s /tmp/dataset/summary.json && echo "dataset built; Keras on JAX"' ;;
    train)
      tag=$TRAIN_IMAGE
      # Keras on JAX (the GPU image's backend) trains the tiny preset for a moment; on a machine
      # without a GPU JAX falls back to the CPU, which is the point of a smoke test here.
      run -v "$(cd "$corpus" && pwd):/corpus:ro" -e JAX_PLATFORMS="${JAX_PLATFORMS:-}" "$TRAIN_IMAGE" sh -c \
        'python -c "import jax, keras; print(\"jax\", jax.__version__, jax.devices(), \"keras backend\", keras.backend.backend())" &&
         corridos dataset build /corpus --out /tmp/dataset >/tmp/log 2>&1 &&
         corridos train /tmp/dataset --family lstm --preset tiny --set epochs=1 --set steps_per_epoch=5 --no-mlflow --out /tmp/train >>/tmp/log 2>&1 || { tail -20 /tmp/log; exit 1; }
         ls /tmp/train && echo "trained"' ;;
    serving)
      # The service starts as in the cluster, against an MLflow server (the light image's, with a
      # sqlite store in its /tmp) on loopback, and answers /livez; with an empty registry /readyz
      # answers 503 with the reason. The serving image holds the MLflow client only.
      tag=$SERVING_IMAGE
      docker image inspect "$LIGHT_IMAGE" >/dev/null 2>&1 || {
        echo "the serving smoke test needs $LIGHT_IMAGE (its MLflow server): build it too" >&2; exit 1; }
      mlflow_port=$(free_port) port=${SMOKE_PORT:-$(free_port)}
      mlflow=corridos-mlflow-smoke-$$ name=corridos-serving-smoke-$$
      containers+=("$mlflow" "$name")
      docker run -d --name "$mlflow" --network host --read-only --tmpfs /tmp:exec --user 10001:10001 \
        -e MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false "$LIGHT_IMAGE" \
        mlflow server --backend-store-uri sqlite:////tmp/mlflow.db --artifacts-destination /tmp/artifacts \
        --host 127.0.0.1 --port "$mlflow_port" >/dev/null
      wait_for "http://127.0.0.1:$mlflow_port/health" "$mlflow" || {
        docker logs --tail 30 "$mlflow"; echo "the MLflow server did not answer on 127.0.0.1:$mlflow_port" >&2; exit 1; }
      docker run -d --name "$name" --network host --read-only --tmpfs /tmp:exec --user 10001:10001 \
        -e MLFLOW_TRACKING_URI="http://127.0.0.1:$mlflow_port" \
        "$SERVING_IMAGE" bentoml serve serving.service:Corridos --host 127.0.0.1 --port "$port" >/dev/null
      wait_for "http://127.0.0.1:$port/livez" "$name" || {
        docker logs --tail 30 "$name"; echo "the serving image did not answer /livez on 127.0.0.1:$port" >&2; exit 1; }
      readyz=$(curl -s -w ' (%{http_code})' "http://127.0.0.1:$port/readyz")
      echo "serving answered /livez; /readyz: $readyz"
      [[ $readyz == *"(503)" ]] || { echo "expected /readyz 503 with an empty registry" >&2; exit 1; }
      # the players' page is packaged, and a short line's tab is written in every format (music21,
      # PyGuitarPro and matplotlib work in the slimmed environment)
      curl -fsS "http://127.0.0.1:$port/" | grep -q 'id="generate"' || {
        echo "the serving image does not serve the players' page at /" >&2; exit 1; }
      docker exec "$name" python -c '
import numpy as np, pathlib
from corridos.symbolic.sequences import NoteArrays, from_arrays
from corridos.tablature.files import FORMATS, write_tabs
line = from_arrays(NoteArrays(np.arange(8) * 0.25, np.arange(8) * 0.25 + 0.2,
                              np.array([45, 48, 52, 57, 60, 64, 69, 72], np.int16), np.full(8, 80, np.int16)))
_, paths = write_tabs(line, pathlib.Path("/tmp/smoke-tab"), list(FORMATS))
assert all(p.stat().st_size > 0 for p in paths), paths
print("tab written:", " ".join(p.suffix for p in paths))' || {
        echo "the serving image cannot write a tab" >&2; exit 1; } ;;
    *) echo "unknown image: $image" >&2; exit 2 ;;
  esac
  echo "   passed in $((SECONDS - start)) s; $tag: $(image_size "$tag")"
done
