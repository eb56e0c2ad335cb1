# Sourced by build.sh and smoke.sh (from the repository root): the images' names and sizes.

# AUDIO_IMAGE, LIGHT_IMAGE, TRAIN_IMAGE, SERVING_IMAGE and IMAGE_TAG: REGISTRY/corridos-<job>:TAG
# from corridos/mlops/cluster.py's defaults, or $CORRIDOS_IMAGE_REGISTRY and $CORRIDOS_IMAGE_TAG
# (what `corridos pipeline compile|submit` reads too). Needs only the host's python3.
image_names() {
  PYTHONPATH=. python3 - <<'PY'
import os
import sys

from corridos.mlops import cluster

try:
    images = cluster.Images(
        os.environ.get(cluster.IMAGE_REGISTRY_ENV, cluster.DEFAULT_IMAGE_REGISTRY),
        os.environ.get(cluster.IMAGE_TAG_ENV, cluster.DEFAULT_IMAGE_TAG),
    )
except cluster.ConfigError as error:
    sys.exit(f"error: {error}")
for job in cluster.JOBS:
    print(f"{job.upper()}_IMAGE={images.name(job)}")
print(f"IMAGE_TAG={images.tag}")
PY
}
names=$(image_names)
eval "$names"

# The size of a built image (every layer, its base's included), e.g. "1.42 GB".
image_size() {
  docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.2f GB", $1/1e9}'
}
