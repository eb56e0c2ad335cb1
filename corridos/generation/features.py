"""How generated music compares with real songs, without the model: the objective metrics of Yang
& Lerch (2018), "On the evaluation of generative models in music", and two sample statistics.

Per-piece features, then for each feature the overlapped area (OA) and KL divergence between the
generated set's intra-set distances and the generated-vs-reference inter-set distances (OA near 1
and KLD near 0: the samples vary the way they differ from real songs, i.e. they sit inside the
reference distribution). The in-scale ratio and the repetition ratio catch off-key and stuck
samples.
"""

from __future__ import annotations

import numpy as np

from corridos.errors import ConfigError
from corridos.symbolic.sequences import NoteArrays

NOTE_LENGTH_BINS = np.array([0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, np.inf])
MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])
REPETITION_NGRAM = 8
DENSITY_GRID_POINTS = 512


def features(notes: NoteArrays) -> dict[str, np.ndarray]:
    """The per-piece features of Yang & Lerch, computed over the whole piece (there are no bars)."""
    pitch = notes.pitch.astype(np.int64)
    classes = pitch % 12
    histogram = np.bincount(classes, minlength=12) / max(len(pitch), 1)
    transitions = np.zeros((12, 12))
    np.add.at(transitions, (classes[:-1], classes[1:]), 1)
    transitions /= max(transitions.sum(), 1)
    onsets = np.unique(notes.start)
    lengths = np.histogram(notes.end - notes.start, NOTE_LENGTH_BINS)[0] / max(len(pitch), 1)
    return {
        "pitch_count": np.array(len(np.unique(pitch)), float),
        "pitch_class_histogram": histogram,
        "pitch_class_transition_matrix": transitions,
        "pitch_range": np.array(np.ptp(pitch) if len(pitch) else 0, float),
        "average_pitch_interval": np.array(np.abs(np.diff(pitch)).mean() if len(pitch) > 1 else 0, float),
        "note_count": np.array(len(pitch), float),
        "average_inter_onset_interval": np.array(np.diff(onsets).mean() if len(onsets) > 1 else 0, float),
        "note_length_histogram": lengths,
    }


def in_scale_ratio(notes: NoteArrays) -> float:
    """Share of notes inside the best-fitting major or minor scale."""
    counts = np.bincount(notes.pitch.astype(np.int64) % 12, minlength=12)
    best = max(counts[(scale + tonic) % 12].sum() for scale in (MAJOR_SCALE, MINOR_SCALE) for tonic in range(12))
    return float(best / max(counts.sum(), 1))


def repetition_ratio(notes: NoteArrays) -> float:
    """Share of (pitch, rhythm) n-grams that repeat an earlier one: near 1 for a stuck loop."""
    n = REPETITION_NGRAM
    if len(notes) <= n:
        return 0.0
    onsets_ms = np.round(np.diff(notes.start, append=notes.end[-1]) * 100).astype(np.int64)
    events = list(zip(notes.pitch.tolist(), onsets_ms.tolist()))
    grams = [tuple(events[i : i + n]) for i in range(len(events) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams)


def melody(notes: NoteArrays) -> np.ndarray:
    """The top voice: the highest pitch at each distinct onset, in time order (int64)."""
    # NoteArrays are sorted by onset, then from the top down: an onset's first note is its highest.
    _, first = np.unique(notes.start, return_index=True)
    return notes.pitch[first].astype(np.int64)


def ngram_keys(values: np.ndarray, n: int) -> np.ndarray:
    """Every run of `n` consecutive values, each as one opaque value that `np.unique` and `np.isin`
    compare as a whole (1-D; empty when there are fewer than `n` values)."""
    kind = np.dtype((np.void, 8 * n))
    if len(values) < n:
        return np.zeros(0, kind)
    grams = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(values.astype(np.int64), n))
    return grams.view(kind).ravel()


def excerpt(notes: NoteArrays, seconds: float) -> NoteArrays:
    """The middle `seconds` of a song, so features that grow with length compare like with like."""
    if not len(notes):
        return notes
    middle = (notes.start.min() + notes.end.max()) / 2
    inside = notes.take((notes.start >= middle - seconds / 2) & (notes.start < middle + seconds / 2))
    offset = inside.start.min() if len(inside) else 0.0
    return NoteArrays(inside.start - offset, inside.end - offset, inside.pitch, inside.velocity)


def compare_sets(generated: list[NoteArrays], reference: list[NoteArrays]) -> dict[str, dict[str, float]]:
    """For each feature: means of both sets, and OA and KLD of intra(generated) vs inter distances."""
    if len(generated) < 2 or len(reference) < 1:
        raise ConfigError("comparing sets needs at least 2 generated pieces and 1 reference piece")
    generated_features = [features(n) for n in generated]
    reference_features = [features(n) for n in reference]
    report = {}
    for name in generated_features[0]:
        ours = np.stack([f[name].ravel() for f in generated_features])
        theirs = np.stack([f[name].ravel() for f in reference_features])
        intra = _pairwise(ours, ours, same=True)
        inter = _pairwise(ours, theirs, same=False)
        report[name] = {
            # a mean says something for scalar features only (a histogram's mean is always 1/bins)
            **(
                {"generated_mean": float(ours.mean()), "reference_mean": float(theirs.mean())}
                if ours.shape[1] == 1
                else {}
            ),
            "overlapped_area": overlapped_area(intra, inter),
            "kl_divergence": kl_divergence(intra, inter),
        }
    return report


def _pairwise(first: np.ndarray, second: np.ndarray, same: bool) -> np.ndarray:
    distances = np.linalg.norm(first[:, None, :] - second[None, :, :], axis=-1)
    if same:
        return distances[np.triu_indices(len(first), k=1)]
    return distances.ravel()


def _densities(first: np.ndarray, second: np.ndarray):
    from scipy.stats import gaussian_kde

    low = min(first.min(), second.min())
    high = max(first.max(), second.max())
    spread = max(high - low, 1e-6)
    grid = np.linspace(low - 0.25 * spread, high + 0.25 * spread, DENSITY_GRID_POINTS)

    def density(values):
        # A set of identical distances has no spread: jitter it by a hair so a KDE exists.
        if np.ptp(values) < 1e-9 or len(values) < 2:
            values = np.concatenate([values, values + 1e-3 * spread])
        return gaussian_kde(values)(grid)

    return grid, density(first), density(second)


def overlapped_area(first: np.ndarray, second: np.ndarray) -> float:
    grid, p, q = _densities(first, second)
    return float(np.trapezoid(np.minimum(p, q), grid))


def kl_divergence(first: np.ndarray, second: np.ndarray) -> float:
    grid, p, q = _densities(first, second)
    p, q = p + 1e-12, q + 1e-12
    return float(np.trapezoid(p * np.log(p / q), grid))
