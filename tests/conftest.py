"""Shared test helpers: tiny NoteSequences and MIDI files made in the test, never committed data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corridos.sequences import NoteArrays, from_arrays, write_midi

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "corridos-midi"


def notes(*rows: tuple[float, float, int, int]):
    """NoteSequence from (start, end, pitch, velocity) rows."""
    start, end, pitch, velocity = (np.array(c) for c in zip(*rows)) if rows else ([], [], [], [])
    return from_arrays(
        NoteArrays(np.asarray(start, float), np.asarray(end, float), np.asarray(pitch, np.int16), np.asarray(velocity, np.int16)).sorted()
    )


def rows(sequence) -> list[tuple[float, float, int, int]]:
    return sorted((round(n.start_time, 6), round(n.end_time, 6), n.pitch, n.velocity) for n in sequence.notes)


def melody(seed: int, count: int = 200, step: float = 0.12, low: int = 60, high: int = 84):
    """A random monophonic line on a 10 ms grid, distinct for each seed."""
    rng = np.random.default_rng(seed)
    pitches = np.clip(low + np.cumsum(rng.integers(-4, 5, count)) % (high - low), low, high)
    starts = np.round(np.arange(count) * step + rng.integers(0, 3, count) * 0.01, 2)
    return notes(*[(s, s + 0.1, int(p), 80) for s, p in zip(starts, pitches)])


def band(seed: int, count: int = 200):
    """A lead line with a bass note and a lower chord tone under each note, as the corpus looks."""
    lead = melody(seed, count)
    extra = []
    for n in lead.notes:
        extra.append((n.start_time, n.end_time, n.pitch - 9, 60))
        extra.append((n.start_time + 0.02, n.end_time, 40 + n.pitch % 10, 70))
    return notes(*[(n.start_time, n.end_time, n.pitch, n.velocity) for n in lead.notes], *extra)


@pytest.fixture
def write(tmp_path):
    def _write(sequence, name: str) -> Path:
        return write_midi(sequence, tmp_path / "midi" / name)

    return _write


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 server (Ceph radosgw on loopback) started once per session, with one bucket.

    boto3 and corridos.storage reach it through the usual environment variables, set here and
    restored at the end. Missing Ceph binaries fail the test: a skip would hide the S3 path.
    """
    import s3server
    from corridos import storage

    missing = s3server.missing_binaries()
    if missing:
        pytest.fail(f"the S3 tests need Ceph: {', '.join(missing)} not found; run `make setup`", pytrace=False)
    with s3server.running(tmp_path_factory.mktemp("s3server")) as endpoint, pytest.MonkeyPatch.context() as env:
        for name, value in endpoint.environment().items():
            env.setenv(name, value)
        storage.s3_client.cache_clear()  # a client made before would keep its old endpoint
        yield endpoint
    storage.s3_client.cache_clear()


def motif_song(seed: int, repeats: int = 40):
    """A learnable song: one short motif, transposed a little each time, on a 10 ms grid."""
    rng = np.random.default_rng(seed)
    motif = rng.integers(62, 80, 6)
    rows, time = [], 0.0
    for repeat in range(repeats):
        shift = int(rng.integers(-2, 3))
        for pitch in motif:
            rows.append((round(time, 2), round(time + 0.11, 2), int(pitch) + shift, 80))
            time += 0.12
        time += 0.2
    return notes(*rows)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A built dataset of 12 motif songs, shared by the model tests."""
    from corridos.dataset import DatasetConfig, build_dataset
    from corridos.sequences import write_midi
    from corridos.splits import SplitConfig

    folder = tmp_path_factory.mktemp("motifs")
    for seed in range(12):
        write_midi(motif_song(seed), folder / "midi" / f"Band {seed % 4} - Motif {seed}.mid")
    config = DatasetConfig(split=SplitConfig(validation_fraction=0.25), piano_roll_songs=0)
    return build_dataset(folder / "midi", folder / "dataset", config, workers=1, progress=False).path


TINY_MODEL = {"model.embedding_dim": 32, "model.hidden_dim": 48, "model.layers": 2, "model.heads": 2,
              "model.context": 64, "sequence_length": 64, "batch_size": 8, "steps_per_epoch": 12,
              "warmup_steps": 4, "sample_seconds": 3.0}


@pytest.fixture(scope="session")
def mlflow_server(s3_server, tmp_path_factory):
    """A real MLflow tracking server started once per session: runs and the registry in a throwaway
    PostgreSQL, artifacts in the S3 server's bucket under mlflow/, proxied by the server.

    Yields an mlflowserver.MLflowServer: .url (the tracking URI), .bucket, .prefix ("mlflow"),
    .s3 (the S3 endpoint), .database_url. Tests point MLFLOW_TRACKING_URI at .url themselves.
    Missing PostgreSQL binaries fail the test, as missing Ceph does for s3_server.
    """
    import mlflowserver
    import pgserver

    missing = pgserver.missing_binaries()
    if missing:
        pytest.fail(f"the MLflow server tests need PostgreSQL: {', '.join(missing)} not found; run `make setup`",
                    pytrace=False)
    with pgserver.running() as database:
        with mlflowserver.running(tmp_path_factory.mktemp("mlflow-server"), database, s3_server) as server:
            yield server
