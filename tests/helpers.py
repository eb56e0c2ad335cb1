"""Test builders: tiny NoteSequences and MIDI files made in the test, never committed data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from corridos.constants import CORPUS_FRAME_SECONDS as FRAME
from corridos.symbolic.sequences import NoteArrays, from_arrays

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "corridos-midi"
# Real requinto recordings (MP3, no labels): fixtures for decoding and the label-free report.
RECORDINGS = Path(__file__).resolve().parents[2] / "shared" / "recordings" / "requinto-tutorials"


def notes(*rows: tuple[float, float, int, int]):
    """NoteSequence from (start, end, pitch, velocity) rows."""
    start, end, pitch, velocity = (np.array(c) for c in zip(*rows)) if rows else ([], [], [], [])
    return from_arrays(
        NoteArrays(
            np.asarray(start, float),
            np.asarray(end, float),
            np.asarray(pitch, np.int16),
            np.asarray(velocity, np.int16),
        ).sorted()
    )


def rows(sequence) -> list[tuple[float, float, int, int]]:
    return sorted((round(n.start_time, 6), round(n.end_time, 6), n.pitch, n.velocity) for n in sequence.notes)


def on_frames(frames) -> np.ndarray:
    """Times, in seconds, of frame counts: on the corpus's grid (and so on the tokens' step)."""
    return np.round(np.asarray(frames) * FRAME, 6)


def melody(seed: int, count: int = 200, step: int = 4, low: int = 60, high: int = 84):
    """A random monophonic line on the corpus's frame grid, a note every `step` frames or one later,
    each 3 frames long; distinct for each seed."""
    rng = np.random.default_rng(seed)
    pitches = np.clip(low + np.cumsum(rng.integers(-4, 5, count)) % (high - low), low, high)
    starts = np.arange(count) * step + rng.integers(0, 2, count)
    return notes(*[(s, e, int(p), 80) for s, e, p in zip(on_frames(starts), on_frames(starts + 3), pitches)])


def band(seed: int, count: int = 200):
    """A lead line with a bass note and a lower chord tone under each note, as the corpus looks."""
    lead = melody(seed, count)
    extra = []
    for n in lead.notes:
        extra.append((n.start_time, n.end_time, n.pitch - 9, 60))
        extra.append((round(n.start_time + FRAME, 6), n.end_time, 40 + n.pitch % 10, 70))
    return notes(*[(n.start_time, n.end_time, n.pitch, n.velocity) for n in lead.notes], *extra)


def line(pitches: list[int], step: float = 0.25, length: float = 0.2) -> NoteArrays:
    """Notes as arrays: the pitches one after another, every `step` seconds, each `length` long."""
    start = np.arange(len(pitches)) * step
    return NoteArrays(start, start + length, np.array(pitches, np.int16), np.full(len(pitches), 80, np.int16))


def motif_song(seed: int, repeats: int = 40):
    """A learnable song: one short motif, transposed a little each time, on the corpus's frame grid."""
    rng = np.random.default_rng(seed)
    motif = rng.integers(62, 80, 6)
    rows, frame = [], 0
    for _repeat in range(repeats):
        shift = int(rng.integers(-2, 3))
        for pitch in motif:
            start, end = on_frames([frame, frame + 3])
            rows.append((float(start), float(end), int(pitch) + shift, 80))
            frame += 4
        frame += 6
    return notes(*rows)


TINY_MODEL = {
    "model.embedding_dim": 32,
    "model.hidden_dim": 48,
    "model.layers": 2,
    "model.heads": 2,
    "model.context": 64,
    "sequence_length": 64,
    "batch_size": 8,
    "steps_per_epoch": 12,
    "warmup_steps": 4,
    "sample_seconds": 3.0,
}


# The serving tests' registered model and a short, cheap piece to ask for.
SERVED_MODEL_NAME = "corridos-generator-test"
SHORT_PIECE = {"seconds": 2.0, "top_k": 20}


def post_json(url: str, endpoint: str, body, timeout: float = 120):
    """POST `body` as JSON to the service at `url`; the requests.Response."""
    import requests

    return requests.post(f"{url}/{endpoint}", json=body, timeout=timeout)


def uniform_model(folder: Path) -> Path:
    """A saved one-layer LSTM generator with the default vocabulary and a zero output layer: every
    token equally likely, so it samples random notes; for tests of what is done with samples."""
    from corridos.generation.models import ModelConfig, build_model, save_model
    from corridos.symbolic.tokenizer import Vocabulary

    vocabulary = Vocabulary()
    model = build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=8, layers=1), vocabulary.size)
    output = model.layers[-1]
    output.set_weights([np.zeros_like(w) for w in output.get_weights()])
    save_model(model, folder)
    vocabulary.save(folder / "vocabulary.json")
    return folder


def registered_versions(name: str, count: int) -> list[str]:
    """`count` versions of the registered model `name` in the current MLflow store, holding no
    artifacts: for tests whose scorers never load them."""
    import mlflow

    client = mlflow.MlflowClient()
    client.create_registered_model(name)
    return [str(client.create_model_version(name, source="s3://nowhere/model").version) for _ in range(count)]


def strong_model(model_uri, songs, config):
    """A model scorer whose every figure wins (for tests of what happens around the gate)."""
    from corridos.mlops.registry import Scores

    sanity = {"repetition_ratio": 0.0, "min_notes_per_second": 5.0, "max_notes_per_second": 5.0}
    return Scores(bits_per_note=1.0, c2st_auc=0.5, in_scale_ratio=1.0, copy_rate=0.0, sanity=sanity)


def weak_baseline(songs, config):
    """A Markov-baseline scorer any model beats (AUC 1.0, nothing in scale): for tests of the real
    scorers' path through a store, where a tiny model on a few songs may or may not beat the real
    chain; the first-model rule itself is tested with scorers replaced (tests/mlops/test_registry.py)."""
    from corridos.mlops.registry import Scores

    sanity = {"repetition_ratio": 0.0, "min_notes_per_second": 1.0, "max_notes_per_second": 1.0}
    return Scores(bits_per_note=None, c2st_auc=1.0, in_scale_ratio=0.0, copy_rate=0.0, sanity=sanity)
