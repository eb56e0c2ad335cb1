"""Numbers the whole platform agrees on. Each one is explained where it is not obvious."""

from pathlib import Path

# The requinto's useful range. The corpus cleaning keeps 52-93 (measured in FINDINGS: below 52 is
# bass and rhythm-guitar bleed); transcription of separated audio keeps 55-93.
REQUINTO_PITCH_MIN = 52
REQUINTO_PITCH_MAX = 93
TRANSCRIPTION_PITCH_MIN = 55

# General MIDI program 24: acoustic guitar (nylon), the closest GM sound to a requinto.
NYLON_GUITAR_PROGRAM = 24

# The corpus came from a piano model whose onsets and durations sit on a 32 ms frame grid.
CORPUS_FRAME_SECONDS = 0.032

MIDI_SUFFIXES = (".mid", ".midi")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")

# Velocity written for decoded notes when the vocabulary carries no velocity.
DEFAULT_VELOCITY = 80

SOUNDFONT_PATH = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
AUDIO_SAMPLE_RATE = 44100

# Where local runs put everything they make (datasets, MLflow store, pipeline artifacts).
DEFAULT_RUNS_DIR = Path("runs")
SHARED_CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "corridos-midi"

DATASET_MANIFEST = "manifest.json"
DATASET_VOCABULARY = "vocabulary.json"
DATASET_SUMMARY = "summary.json"
SPLITS = ("train", "validation", "test")

# The audio environment (TensorFlow 2.12: Spleeter, Basic Pitch), relative to the repository.
AUDIO_ENV_DIR = ".venv-audio"

# The model registry: every trained generator becomes a version of this model; serving loads the
# version the promotion gate put behind the champion alias.
REGISTERED_MODEL_NAME = "corridos-generator"
CHAMPION_ALIAS = "champion"

# Container images the pipeline's components run in (k8s/ and docker/ build them).
IMAGE_REGISTRY = "ghcr.io/corridos"
IMAGE_TAG = "0.1.0"
AUDIO_IMAGE = f"{IMAGE_REGISTRY}/corridos-audio:{IMAGE_TAG}"  # TF 2.12: Spleeter, Basic Pitch
TRAIN_IMAGE = f"{IMAGE_REGISTRY}/corridos-train:{IMAGE_TAG}"  # TF 2.21 + JAX with CUDA: train, evaluate
LIGHT_IMAGE = f"{IMAGE_REGISTRY}/corridos-light:{IMAGE_TAG}"  # main env on CPU: ingest, dataset, registry
SERVING_IMAGE = f"{IMAGE_REGISTRY}/corridos-serving:{IMAGE_TAG}"  # the BentoML service

# What pipeline pods read their settings and credentials from in the cluster (k8s/ creates them).
CONFIG_MAP = "corridos-config"  # mlflow-tracking-uri, s3-endpoint-url
S3_SECRET = "corridos-s3"  # access-key-id, secret-access-key
MLFLOW_SECRET = "corridos-mlflow"  # username, password (MLflow basic auth)
GPU_NODE_LABEL = ("corridos.io/pool", "gpu")
