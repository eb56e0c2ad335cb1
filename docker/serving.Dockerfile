# The serving image: the BentoML generation service, loading the champion model from MLflow at
# start. The serving extra only (Keras on JAX, the MLflow client, the tab writers; no TensorFlow,
# no KFP), installed from the committed uv.lock in a build stage, so uv itself stays out of the
# image. Not `bentoml build`, which re-locks packages against the package registry.
ARG UV_IMAGE
ARG BASE
FROM ${UV_IMAGE} AS build
ARG EXTRA_CA_PEM=""
COPY pyproject.toml uv.lock README.md ./
RUN with-build-ca uv sync --frozen --no-dev --extra serving --no-install-project
COPY corridos ./corridos
COPY serving ./serving
RUN with-build-ca uv sync --frozen --no-dev --extra serving
# What the service never reads (music21's scores, the packages' test suites) keeps the image under
# its 1.5 GB budget.
COPY slim-venv.sh ./
RUN sh slim-venv.sh /opt/venv && rm slim-venv.sh

FROM ${BASE}
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# bentoml writes its home (models, logs) at start, matplotlib (the tab picture) its font cache:
# keep both under /tmp, an emptyDir in the cluster (the root file system is read-only).
ENV KERAS_BACKEND=jax BENTOML_HOME=/tmp/bentoml BENTOML_DO_NOT_TRACK=true MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
EXPOSE 3000
CMD ["bentoml", "serve", "serving.service:Corridos", "--host", "0.0.0.0", "--port", "3000"]
