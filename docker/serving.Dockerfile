# SERVING_IMAGE: the BentoML generation service on the main environment (LIGHT_IMAGE), loading
# the champion model from MLflow at start. Built from the same lock rather than `bentoml build`,
# which re-locks packages against the registry (FINDINGS).
ARG LIGHT
FROM ${LIGHT}
COPY serving ./serving
# bentoml writes its home (models, logs) at start: keep it under /tmp, an emptyDir in the cluster.
ENV BENTOML_HOME=/tmp/bentoml BENTOML_DO_NOT_TRACK=true
EXPOSE 3000
CMD ["bentoml", "serve", "serving.service:Corridos", "--host", "0.0.0.0", "--port", "3000"]
