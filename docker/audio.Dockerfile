# The audio image: the audio stages. Both environments, from the committed uv.lock: the main one
# (the light image's pipeline extra, first on PATH) runs the KFP component executor and
# corridos.audio.stages; the audio one (TF 2.12: Spleeter, Basic Pitch on ONNX) in /opt/venv-audio
# runs separation and transcription across a process boundary, found through CORRIDOS_AUDIO_PYTHON
# (corridos.audio.bridge).
ARG LIGHT
FROM ${LIGHT}
ARG EXTRA_CA_PEM=""
USER 0
# ffmpeg decodes the recordings libsndfile cannot read (the audio libraries fall back to it).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN UV_PROJECT_ENVIRONMENT=/opt/venv-audio with-build-ca uv sync --frozen --no-dev --extra audio --no-install-project
RUN UV_PROJECT_ENVIRONMENT=/opt/venv-audio with-build-ca uv sync --frozen --no-dev --extra audio
ENV CORRIDOS_AUDIO_PYTHON=/opt/venv-audio/bin/python TF_CPP_MIN_LOG_LEVEL=2
USER 10001:10001
