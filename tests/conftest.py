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
