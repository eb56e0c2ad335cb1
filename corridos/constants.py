"""Numbers the whole platform agrees on. Each one is explained where it is not obvious."""

from pathlib import Path

# The requinto's range is its tuning and frets: corridos/tablature/instrument.py (REQUINTO).

# General MIDI program 24: acoustic guitar (nylon), the closest GM sound to a requinto.
NYLON_GUITAR_PROGRAM = 24

MIDI_SUFFIXES = (".mid", ".midi")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")

# The time grid of the training corpus: Onsets and Frames writes every onset and offset on its
# 32 ms frame (16 kHz audio, hop 512; shared/datasets/corridos-midi/SOURCE.md). Token time steps
# use it, so that the corpus's timing is encoded exactly: a finer step splits each frame count
# between two neighbouring steps by the frame's phase, noise a model pays for (docs/FACTS.md).
CORPUS_FRAME_SECONDS = 0.032

# Velocity written for decoded notes when the vocabulary carries no velocity.
DEFAULT_VELOCITY = 80

AUDIO_SAMPLE_RATE = 44100

# Pieces the released model's card draws per row for its sample metrics: a model's C2ST rises with
# the count (more windows to learn from; real-vs-real 0.59 on 16 pieces, 0.62 on 64, 0.65 on 128)
# and 16 pieces spread it by +-0.08, so the card draws 64, about the count at which issue 11's own
# table reads (docs/FACTS.md, "Choosing among candidates by key").
CARD_SAMPLES = 64

# Where local runs put everything they make (datasets, MLflow store, pipeline artifacts).
DEFAULT_RUNS_DIR = Path("runs")

DATASET_MANIFEST = "manifest.json"
DATASET_VOCABULARY = "vocabulary.json"
DATASET_SUMMARY = "summary.json"
SPLITS = ("train", "validation", "test")

# The audio environment (TensorFlow 2.12: Spleeter, Basic Pitch), relative to the repository.
AUDIO_ENV_DIR = ".venv-audio"
