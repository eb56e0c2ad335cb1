# AUDIO_IMAGE: the audio stages' image. Both environments, from the committed uv.lock: the main
# one (LIGHT_IMAGE, first on PATH) runs the KFP component executor and corridos.audio.stages;
# the audio one (TF 2.12: Spleeter, Basic Pitch on ONNX) in /opt/venv-audio runs separation and
# transcription across a process boundary, found through CORRIDOS_AUDIO_PYTHON (audio_env.py).
ARG LIGHT
FROM ${LIGHT}
ARG EXTRA_CA_PEM=""
USER 0
RUN UV_PROJECT_ENVIRONMENT=/opt/venv-audio with-build-ca uv sync --frozen --no-dev --extra audio --no-install-project
RUN UV_PROJECT_ENVIRONMENT=/opt/venv-audio with-build-ca uv sync --frozen --no-dev --extra audio
ENV CORRIDOS_AUDIO_PYTHON=/opt/venv-audio/bin/python TF_CPP_MIN_LOG_LEVEL=2
USER 10001:10001
