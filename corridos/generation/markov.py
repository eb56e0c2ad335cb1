"""An order-k Markov chain over event tokens: the baseline row of every evaluation.

Counts which token follows each run of `order` tokens in the training songs and samples from those
counts. A context never seen (or seen only at the end of a song) backs off to the longest shorter
context that has a continuation, down to the tokens' overall frequencies. No library does this over
our token arrays in a few lines of NumPy, so it is written here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from corridos.errors import ConfigError
from corridos.symbolic.sequences import NoteArrays
from corridos.symbolic.tokenizer import BOS, SPECIAL_TOKENS, Vocabulary


@dataclasses.dataclass
class MarkovChain:
    """Next-token counts per context: `tables[k]` maps a context of k tokens (a tuple) to
    (next tokens, their probabilities); `tables[0]` holds the empty context."""

    order: int
    tables: list[dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]]

    @classmethod
    def fit(cls, songs: list[np.ndarray], order: int = 2) -> MarkovChain:
        """Count the continuations of every context of 0..order tokens; each song starts after
        `order` BOS tokens, so the chain learns how songs begin."""
        if order < 1:
            raise ConfigError(f"Markov order {order} must be >= 1")
        if not any(len(song) for song in songs):
            raise ConfigError("a Markov chain needs at least one song with tokens")
        if any(len(song) and song.min() < len(SPECIAL_TOKENS) for song in songs):
            raise ConfigError("songs for a Markov chain are note and time tokens, without special tokens")
        padded = [np.concatenate([np.full(order, BOS), song]).astype(np.int64) for song in songs if len(song)]
        tables = [_table([p[order:] for p in padded], [np.zeros((len(p) - order, 0), np.int64) for p in padded])]
        for k in range(1, order + 1):
            contexts = [np.lib.stride_tricks.sliding_window_view(p[:-1], k)[order - k :] for p in padded]
            tables.append(_table([p[order:] for p in padded], contexts))
        return cls(order, tables)

    def probabilities(self, context: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(next tokens, probabilities) after the last `order` tokens of `context`, backing off to
        shorter contexts while one has no continuation."""
        for k in range(min(self.order, len(context)), -1, -1):
            found = self.tables[k].get(tuple(context[len(context) - k :]))
            if found is not None:
                return found
        raise AssertionError("the empty context always has a continuation")  # fit refuses empty songs

    def generate(self, vocabulary: Vocabulary, seconds: float, count: int = 1, seed: int = 0) -> list[NoteArrays]:
        """`count` pieces of `seconds` each (until the time shifts add up to it), seeded per piece."""
        budget = int(round(seconds / vocabulary.config.step_seconds))
        return [self._piece(vocabulary, budget, np.random.default_rng([seed, index])) for index in range(count)]

    def _piece(self, vocabulary: Vocabulary, budget: int, rng: np.random.Generator) -> NoteArrays:
        tokens = [BOS] * self.order
        elapsed = 0
        while elapsed < budget:
            choices, weights = self.probabilities(tuple(tokens[-self.order :]))
            token = int(rng.choice(choices, p=weights))
            tokens.append(token)
            if vocabulary.is_shift(np.array(token)):
                elapsed += token - vocabulary.shift_offset + 1
        return vocabulary.decode_arrays(np.array(tokens[self.order :]))


def _table(
    following: list[np.ndarray], contexts: list[np.ndarray]
) -> dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]:
    """context tuple -> (distinct next tokens, their probabilities), from aligned arrays."""
    rows = np.concatenate([np.concatenate([c, f[:, None]], axis=1) for c, f in zip(contexts, following)])
    base = int(rows.max()) + 1
    if base ** rows.shape[1] >= 2**63:
        raise ConfigError(f"a Markov context of {rows.shape[1] - 1} tokens is too long to count")
    # each (context, next) row as one integer: a 1-D unique is far faster than a row-wise one
    keys = np.zeros(len(rows), np.int64)
    for column in rows.T:
        keys = keys * base + column
    distinct, counts = np.unique(keys, return_counts=True)  # sorted by context, then next token
    context_keys, following_tokens = np.divmod(distinct, base)
    breaks = np.flatnonzero(np.diff(context_keys)) + 1
    width = rows.shape[1] - 1
    table = {}
    for first, chunk, chunk_counts in zip(
        np.concatenate([[0], breaks]), np.split(following_tokens, breaks), np.split(counts, breaks)
    ):
        table[_digits(int(context_keys[first]), base, width)] = (chunk, chunk_counts / chunk_counts.sum())
    return table


def _digits(key: int, base: int, width: int) -> tuple[int, ...]:
    """The `width` base-`base` digits of `key`, most significant first: the context's tokens."""
    digits = []
    for _ in range(width):
        key, digit = divmod(key, base)
        digits.append(digit)
    return tuple(reversed(digits))
