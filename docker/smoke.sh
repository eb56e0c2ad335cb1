#!/usr/bin/env bash
# Run a smoke test in each built image, as the cluster runs it: uid 10001, read-only root
# filesystem, a tmpfs /tmp, host network (no bridge here; the serving answers on loopback).
#   usage: docker/smoke.sh [audio|light|train|serving ...]   (default: all)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(audio light train serving)
corpus=${CORPUS:-../shared/datasets/corridos-midi}
port=${SMOKE_PORT:-3000}
eval "$(python3 - <<'PY'
import runpy
c = runpy.run_path("corridos/constants.py")
for name in ("AUDIO_IMAGE", "TRAIN_IMAGE", "LIGHT_IMAGE", "SERVING_IMAGE"):
    print(f"{name}={c[name]}")
PY
)"
docker/dockerd.sh
run() { docker run --rm --network host --read-only --tmpfs /tmp:exec --user 10001:10001 "$@"; }

for image in "${images[@]}"; do
  start=$SECONDS
  echo "== $image"
  case $image in
    audio)
      # separation and transcription on synthetic audio made in the container, in the audio env;
      # then transcription again from the main env, across the process boundary as the
      # pipeline's components call it
      run -v "$repo/docker/smoke_audio.py:/smoke/smoke_audio.py:ro" "$AUDIO_IMAGE" sh -c \
        '"$CORRIDOS_AUDIO_PYTHON" /smoke/smoke_audio.py /tmp/smoke &&
         corridos audio transcribe /tmp/smoke/separated --out /tmp/smoke/from-main >/dev/null &&
         ls /tmp/smoke/from-main/midi/*.mid && echo "main env -> audio env: transcribed"' ;;
    light)
      # the dataset stage on the corpus, mounted read-only
      run -v "$(cd "$corpus" && pwd):/corpus:ro" "$LIGHT_IMAGE" sh -c \
        'corridos dataset build /corpus --out /tmp/dataset >/tmp/log 2>&1 || { tail -20 /tmp/log; exit 1; }
         test -s /tmp/dataset/summary.json && echo "dataset built"' ;;
    train)
      # Keras on JAX (the GPU image's backend) trains the tiny preset for a moment; on a machine
      # without a GPU JAX falls back to the CPU, which is the point of a smoke test here.
      run -v "$(cd "$corpus" && pwd):/corpus:ro" -e JAX_PLATFORMS="${JAX_PLATFORMS:-}" "$TRAIN_IMAGE" sh -c \
        'python -c "import jax, keras; print(\"jax\", jax.__version__, jax.devices(), \"keras backend\", keras.backend.backend())" &&
         corridos dataset build /corpus --out /tmp/dataset >/tmp/log 2>&1 &&
         corridos train /tmp/dataset --family lstm --preset tiny --set epochs=1 --set steps_per_epoch=5 --no-mlflow --out /tmp/train >>/tmp/log 2>&1 || { tail -20 /tmp/log; exit 1; }
         ls /tmp/train && echo "trained"' ;;
    serving)
      # the service starts, as in the cluster, and answers /livez on loopback; with an empty
      # registry (a sqlite store in the container) /readyz answers 503 with the reason
      name=corridos-serving-smoke-$$
      docker run -d --name "$name" --network host --read-only --tmpfs /tmp:exec --user 10001:10001 \
        -e MLFLOW_TRACKING_URI="${SMOKE_MLFLOW_TRACKING_URI:-sqlite:////tmp/mlflow.db}" \
        "$SERVING_IMAGE" bentoml serve serving.service:Corridos --host 127.0.0.1 --port "$port" >/dev/null
      trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
      ok=0
      for _ in $(seq 120); do
        if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/livez"; then ok=1; break; fi
        [ "$(docker inspect -f '{{.State.Running}}' "$name")" = true ] || break
        sleep 2
      done
      [ $ok = 1 ] || { docker logs --tail 30 "$name"; echo "the serving image did not answer /livez on 127.0.0.1:$port" >&2; exit 1; }
      echo "serving answered /livez; /readyz: $(curl -s -w ' (%{http_code})' "http://127.0.0.1:$port/readyz")" ;;
    *) echo "unknown image: $image" >&2; exit 2 ;;
  esac
  echo "   passed in $((SECONDS - start)) s"
done
