"""Names the code, the images (docker/) and the manifests (k8s/) agree on: the container images and
where they live, the ConfigMap and Secrets pipeline pods read, the GPU pool's node label, and the
registered model the pipeline promotes and the service loads.

Standard library and corridos.errors only: docker/common.sh reads the image names from here with the host's python3.
"""

import dataclasses
import re

from corridos.errors import ConfigError

# Where the images are pushed, and their tag: the defaults of `corridos pipeline compile|submit
# --image-registry/--image-tag` and of `make images IMAGE_REGISTRY=... IMAGE_TAG=...`, which also
# read these environment variables.
DEFAULT_IMAGE_REGISTRY = "ghcr.io/corridos"
DEFAULT_IMAGE_TAG = "0.1.0"
IMAGE_REGISTRY_ENV = "CORRIDOS_IMAGE_REGISTRY"
IMAGE_TAG_ENV = "CORRIDOS_IMAGE_TAG"
JOBS = ("audio", "light", "train", "serving")  # one image each

# Docker's reference grammar, simplified: a host (with an optional port) and lowercase path parts;
# a tag of up to 128 letters, digits, '_', '.' and '-' that does not start with '.' or '-'.
_REGISTRY = re.compile(r"[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclasses.dataclass(frozen=True)
class Images:
    """The images, one per job, in one registry under one tag."""

    registry: str = DEFAULT_IMAGE_REGISTRY
    tag: str = DEFAULT_IMAGE_TAG

    def __post_init__(self) -> None:
        if not _REGISTRY.fullmatch(self.registry):
            raise ConfigError(
                f"image registry {self.registry!r}: expected HOST[:PORT][/lowercase/path], e.g. ghcr.io/corridos"
            )
        if not _TAG.fullmatch(self.tag):
            raise ConfigError(f"image tag {self.tag!r}: expected letters, digits, '_', '.', '-' (at most 128)")

    def name(self, job: str) -> str:
        """The image of one of JOBS, e.g. ghcr.io/corridos/corridos-light:0.1.0."""
        if job not in JOBS:
            raise ConfigError(f"image job {job!r}: expected one of {', '.join(JOBS)}")
        return f"{self.registry}/corridos-{job}:{self.tag}"

    @property
    def audio(self) -> str:
        """Both environments (the audio one: TF 2.12, Spleeter, Basic Pitch): separation, transcription."""
        return self.name("audio")

    @property
    def light(self) -> str:
        """The pipeline extra on CPU: ingest, dataset, registry and promotion, tracking, the MLflow server."""
        return self.name("light")

    @property
    def train(self) -> str:
        """The train extra plus JAX's CUDA plugin: train and evaluate on GPU nodes."""
        return self.name("train")

    @property
    def serving(self) -> str:
        """The serving extra: the BentoML generation service."""
        return self.name("serving")


# What pipeline pods read their settings and credentials from in the cluster (k8s/ creates them).
CONFIG_MAP = "corridos-config"  # mlflow-tracking-uri, s3-endpoint-url
S3_SECRET = "corridos-s3"  # access-key-id, secret-access-key
MLFLOW_SECRET = "corridos-mlflow"  # username, password (MLflow basic auth)
GPU_NODE_LABEL = ("corridos.io/pool", "gpu")

# The model registry: every trained generator becomes a version of this model; serving loads the
# version the promotion gate put behind the champion alias.
REGISTERED_MODEL_NAME = "corridos-generator"
CHAMPION_ALIAS = "champion"
