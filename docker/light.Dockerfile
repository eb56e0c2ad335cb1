# The light image: the pipeline extra on CPU (kfp, the MLflow server and client, the dataset code,
# Keras on JAX for the promotion gate's scores), from the committed uv.lock. Runs ingest, dataset,
# registry stages, the MLflow server and the bucket job; the audio and train images grow from it.
ARG UV_IMAGE
FROM ${UV_IMAGE}
ARG EXTRA_CA_PEM=""
# The SoundFonts that render the separator's mixtures (ingest), beside the base image's GM font;
# the audio and train images inherit them, the serving image (FROM base) does not need them.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      musescore-general-soundfont-lossless timgm6mb-soundfont opl3-soundfont \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml uv.lock README.md ./
# Dependencies first, the project after: editing corridos/ does not re-download 1 GB of wheels.
RUN with-build-ca uv sync --frozen --no-dev --extra pipeline --no-install-project
COPY corridos ./corridos
# Editable, as in a checkout: the package stays in /app, which corridos.audio.bridge relies on (it
# starts the audio env in the package's parent folder, which must not be the main env's site-packages).
RUN with-build-ca uv sync --frozen --no-dev --extra pipeline
COPY slim-venv.sh ./
RUN sh slim-venv.sh /opt/venv && rm slim-venv.sh
# No TensorFlow here: Keras runs on JAX.
ENV KERAS_BACKEND=jax
# Any non-root uid works; 10001 is what the manifests' securityContext sets.
USER 10001:10001
