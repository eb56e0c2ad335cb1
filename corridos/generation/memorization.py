"""Memorisation: how much of the generated music is copied from the training songs.

The copy rate is the share of the generated pieces' melodic n-grams (n consecutive pitches of the
top voice, `features.melody`) that occur anywhere in the training songs. Pitches rather than
intervals: a copy is the same notes; interval n-grams would also count every transposed scale run,
which real songs share by the dozen without copying each other.
"""

from __future__ import annotations

import numpy as np

from corridos.errors import ConfigError
from corridos.generation.features import melody, ngram_keys
from corridos.symbolic.sequences import NoteArrays

COPY_NGRAM = 8


def copy_rate(generated: list[NoteArrays], training: list[NoteArrays], n: int = COPY_NGRAM) -> float:
    """Share of all the generated pieces' melodic pitch n-grams (counted with repeats) that occur in
    `training`. NaN when no generated piece has n melody notes: nothing to judge, which a gate
    must refuse."""
    if n < 1:
        raise ConfigError(f"copy-rate n-gram length {n} must be >= 1")
    ours = [ngram_keys(melody(piece), n) for piece in generated]
    if not sum(len(grams) for grams in ours):
        return float("nan")
    theirs = [ngram_keys(melody(song), n) for song in training]
    return float(np.isin(np.concatenate(ours), np.concatenate([*theirs, ours[0][:0]])).mean())
