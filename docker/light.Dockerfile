# LIGHT_IMAGE: the main environment on CPU (TF 2.21, Keras 3, kfp, mlflow, bentoml), from the
# committed uv.lock. Runs ingest, dataset, registry stages, the MLflow server and the bucket job.
ARG BASE
FROM ${BASE}
ARG EXTRA_CA_PEM=""
# FluidSynth and the GM soundfont render MIDI to audio (generate, the audio render stage, the
# serving's WAV answers); ffmpeg makes MP3.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fluidsynth fluid-soundfont-gm ffmpeg \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml uv.lock README.md ./
# Dependencies first, the project after: editing corridos/ does not re-download 2 GB of wheels.
RUN with-build-ca uv sync --frozen --no-dev --extra main --no-install-project
COPY corridos ./corridos
# Editable, as in a checkout: the package stays in /app, which audio_env.py relies on (it starts
# the audio env in the package's parent folder, which must not be the main env's site-packages).
RUN with-build-ca uv sync --frozen --no-dev --extra main
# Any non-root uid works; 10001 is what the manifests' securityContext sets.
USER 10001:10001
