"""A classifier two-sample test (C2ST): can a classifier tell generated 30 s windows from real ones?

Each window becomes about a hundred features (key-normalised pitch classes and their transitions,
intervals, contour runs, inter-onset and duration histograms, rhythmic regularity, n-gram
diversity, polyphony, register). Gradient-boosted trees (scikit-learn) learn to separate the two
sets under grouped cross-validation (the windows of one song or piece never on both sides of a
fold), repeated over seeds; the ROC AUC of the out-of-fold predictions is the score: 0.5 means
indistinguishable, 1.0 trivially told apart (Lopez-Paz & Oquab 2017, "Revisiting classifier
two-sample tests"). Unlike the Yang & Lerch overlapped areas, it still separates a good model from
real music.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from corridos.errors import ConfigError
from corridos.generation.features import MAJOR_SCALE, MINOR_SCALE, NOTE_LENGTH_BINS, melody, ngram_keys
from corridos.symbolic.sequences import NoteArrays

WINDOW_SECONDS = 30.0
# Krumhansl & Kessler's key profiles (1982), C major and C minor.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
LARGEST_INTERVAL = 12  # intervals beyond an octave share one bin
CONTOUR_RUN_BINS = 5  # runs of 1, 2, 3, 4 and 5+ steps in one direction
INTER_ONSET_BINS = np.array([0, 0.05, 0.08, 0.11, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, np.inf])
DENSITY_BIN_SECONDS = 2.0
DIVERSITY_PITCH_NGRAMS = (2, 3, 4, 8)
DIVERSITY_INTERVAL_NGRAMS = (3, 5)
MAX_FOLDS = 5
# How many features each part of a window's vector holds, in order.
FEATURE_PARTS = {
    "pitch classes from the tonic": 12,
    "mode and key clarity": 2,
    "degree transitions": 16,
    "intervals": 2 * LARGEST_INTERVAL + 2,
    "contour runs": 2 * CONTOUR_RUN_BINS,
    "inter-onset intervals": len(INTER_ONSET_BINS) - 1,
    "durations": len(NOTE_LENGTH_BINS) - 1,
    "rhythm": 5,
    "n-gram diversity": len(DIVERSITY_PITCH_NGRAMS) + len(DIVERSITY_INTERVAL_NGRAMS),
    "polyphony": 3,
    "register": 5,
}
FEATURE_COUNT = sum(FEATURE_PARTS.values())


@dataclasses.dataclass(frozen=True)
class C2STResult:
    """ROC AUC (mean over seeds), its standard deviation over seeds, and the windows on each side
    (generated, reference)."""

    auc: float
    spread: float
    windows: tuple[int, int]


def windows(notes: NoteArrays, seconds: float = WINDOW_SECONDS) -> list[NoteArrays]:
    """Consecutive `seconds`-long windows from the first onset, each re-timed to start at 0. A tail
    shorter than a window is dropped, unless the piece is shorter than one window: then the whole
    piece is its one window."""
    if not len(notes):
        return [notes]
    begin = float(notes.start.min())
    count = max(int((float(notes.end.max()) - begin) // seconds), 1)
    found = []
    for index in range(count):
        low = begin + index * seconds
        inside = notes.take((notes.start >= low) & (notes.start < low + seconds))
        found.append(NoteArrays(inside.start - low, inside.end - low, inside.pitch, inside.velocity))
    return found


def _profiles() -> np.ndarray:
    """(24, 12) key profiles, z-scored: the 12 major keys by tonic, then the 12 minor keys."""
    rows = np.stack([np.roll(p, tonic) for p in (MAJOR_PROFILE, MINOR_PROFILE) for tonic in range(12)])
    return (rows - rows.mean(axis=1, keepdims=True)) / rows.std(axis=1, keepdims=True)


KEY_PROFILES = _profiles()


def key_of(notes: NoteArrays) -> tuple[int, bool, float]:
    """(tonic pitch class, minor?, correlation) of the best Krumhansl-Schmuckler key on the
    duration-weighted pitch-class histogram.

    Hand-written rather than music21's `analyze('key')` (the same algorithm): music21 needs a Stream
    built note by note for every window, which costs far more than these 24 correlations.
    """
    weights = np.bincount(notes.pitch.astype(np.int64) % 12, weights=notes.end - notes.start, minlength=12)
    if weights.std() == 0:  # no notes, or all twelve equally: no key stands out
        return 0, False, 0.0
    correlations = KEY_PROFILES @ ((weights - weights.mean()) / weights.std()) / 12
    best = int(np.argmax(correlations))
    return best % 12, best >= 12, float(correlations[best])


def window_features(notes: NoteArrays, seconds: float = WINDOW_SECONDS) -> np.ndarray:
    """The feature vector of one window lasting `seconds` (rates are per second of it)."""
    if not len(notes):
        return np.zeros(FEATURE_COUNT)
    tonic, minor, clarity = key_of(notes)
    top = melody(notes)
    degrees = (top - tonic) % 12
    intervals = np.diff(top)
    onsets = np.unique(notes.start)
    gaps = np.diff(onsets)
    parts = [
        _share(np.bincount((notes.pitch.astype(np.int64) - tonic) % 12, minlength=12)),
        [float(minor), clarity],
        _degree_transitions(degrees, MINOR_SCALE if minor else MAJOR_SCALE),
        _interval_histogram(intervals),
        _contour_runs(intervals),
        _share(np.histogram(gaps, INTER_ONSET_BINS)[0]),
        _share(np.histogram(notes.end - notes.start, NOTE_LENGTH_BINS)[0]),
        _rhythm(onsets, gaps, seconds, len(notes)),
        _diversity(top, intervals),
        _polyphony(notes, onsets),
        _register(notes.pitch.astype(np.float64), top),
    ]
    return np.concatenate([np.asarray(p, np.float64) for p in parts])


def _share(counts: np.ndarray) -> np.ndarray:
    return counts / max(counts.sum(), 1)


def _degree_transitions(degrees: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """4x4 transitions of the melody between tonic, fifth, other scale degrees and chromatic notes:
    the key-normalised pitch-class transitions, folded so that short windows still fill them."""
    kind = np.full(12, 3)
    kind[scale] = 2
    kind[0], kind[7] = 0, 1
    counts = np.zeros((4, 4))
    np.add.at(counts, (kind[degrees[:-1]], kind[degrees[1:]]), 1)
    return _share(counts).ravel()


def _interval_histogram(intervals: np.ndarray) -> np.ndarray:
    """Melodic intervals -12..12 semitones, then one bin for leaps beyond an octave."""
    bins = np.where(np.abs(intervals) > LARGEST_INTERVAL, 2 * LARGEST_INTERVAL + 1, intervals + LARGEST_INTERVAL)
    return _share(np.bincount(bins, minlength=2 * LARGEST_INTERVAL + 2))


def _contour_runs(intervals: np.ndarray) -> np.ndarray:
    """How long the melody keeps going up, and down: run lengths 1..5+ per direction."""
    signs = np.sign(intervals)
    starts = np.flatnonzero(np.diff(signs, prepend=np.inf))  # where each run of one sign begins
    lengths = np.minimum(np.diff(starts, append=len(signs)), CONTOUR_RUN_BINS)
    direction = signs[starts]
    counts = np.zeros((2, CONTOUR_RUN_BINS))
    moving = direction != 0  # runs of repeated notes are the interval histogram's 0 bin
    np.add.at(counts, ((direction[moving] < 0).astype(int), lengths[moving] - 1), 1)
    return _share(counts).ravel()


def _rhythm(onsets: np.ndarray, gaps: np.ndarray, seconds: float, notes: int) -> list[float]:
    """Notes and onsets per second; inter-onset spread (coefficient of variation), share of gaps
    within 15% of the median gap, and how unevenly onsets fill 2 s stretches."""
    density = np.histogram(onsets, np.arange(0, seconds + DENSITY_BIN_SECONDS, DENSITY_BIN_SECONDS))[0]
    regular = float(np.mean(np.abs(gaps - np.median(gaps)) <= 0.15 * np.median(gaps))) if len(gaps) else 0.0
    return [
        notes / seconds,
        len(onsets) / seconds,
        float(gaps.std() / gaps.mean()) if len(gaps) and gaps.mean() > 0 else 0.0,
        regular,
        float(density.std() / density.mean()) if density.mean() > 0 else 0.0,
    ]


def _distinct_share(values: np.ndarray, n: int) -> float:
    """Distinct n-grams over all n-grams of `values` (1: nothing repeats; 0 when too short)."""
    grams = ngram_keys(values, n)
    return len(np.unique(grams)) / len(grams) if len(grams) else 0.0


def _diversity(top: np.ndarray, intervals: np.ndarray) -> list[float]:
    return [_distinct_share(top, n) for n in DIVERSITY_PITCH_NGRAMS] + [
        _distinct_share(intervals, n) for n in DIVERSITY_INTERVAL_NGRAMS
    ]


def _polyphony(notes: NoteArrays, onsets: np.ndarray) -> list[float]:
    """Notes per onset, share of onsets with a chord, notes sounding at each onset."""
    per_onset = np.unique(notes.start, return_counts=True)[1]
    ends = np.sort(notes.end)
    starts = np.sort(notes.start)
    sounding = np.searchsorted(starts, onsets, side="right") - np.searchsorted(ends, onsets, side="right")
    return [float(per_onset.mean()), float(np.mean(per_onset > 1)), float(sounding.mean())]


def _register(pitch: np.ndarray, top: np.ndarray) -> list[float]:
    return [float(pitch.mean()), float(pitch.std()), float(pitch.min()), float(pitch.max()), float(top.mean())]


def feature_table(pieces: list[NoteArrays], seconds: float = WINDOW_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """(windows, features) matrix of every window of every piece, and each window's piece index."""
    rows, groups = [], []
    for index, piece in enumerate(pieces):
        for window in windows(piece, seconds):
            span = min(seconds, float(window.end.max()) if len(window) else seconds)
            rows.append(window_features(window, max(span, 1e-3)))
            groups.append(index)
    return np.array(rows).reshape(-1, FEATURE_COUNT), np.array(groups)


def c2st_auc(
    generated: list[NoteArrays],
    reference: list[NoteArrays],
    seeds: int = 3,
    seconds: float = WINDOW_SECONDS,
) -> C2STResult:
    """How well gradient-boosted trees tell `generated` windows from `reference` windows: the ROC
    AUC of grouped out-of-fold predictions, mean and standard deviation over `seeds` fold draws.
    Each piece or song is one group (its windows are never split between training and testing);
    each side needs at least 2 pieces."""
    ours, our_groups = feature_table(generated, seconds)
    theirs, their_groups = feature_table(reference, seconds)
    folds = min(MAX_FOLDS, len(generated), len(reference))
    if folds < 2:
        raise ConfigError(f"C2ST needs at least 2 pieces on each side (got {len(generated)} and {len(reference)})")
    features = np.concatenate([ours, theirs])
    labels = np.concatenate([np.ones(len(ours), int), np.zeros(len(theirs), int)])
    groups = np.concatenate([our_groups, their_groups + len(generated)])
    # sklearn first: a limit set before its OpenMP runtime is loaded does not reach it
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    # One thread: the trees' OpenMP threads stall on a busy machine (a fit on 150 windows took 15 s
    # with them and 0.7 s without, on 2 loaded cores), and these fits are small.
    with threadpool_limits(1):
        aucs = [_cross_validated_auc(features, labels, groups, folds, seed) for seed in range(seeds)]
    return C2STResult(float(np.mean(aucs)), float(np.std(aucs)), (len(ours), len(theirs)))


def _cross_validated_auc(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    scores = np.zeros(len(labels))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(features, labels, groups):
        # Small leaves and class weights: the sets are small (tens of windows) and unbalanced
        # (a few generated pieces against every window of the reference songs).
        classifier = HistGradientBoostingClassifier(
            max_iter=30, learning_rate=0.2, max_depth=3, min_samples_leaf=3, class_weight="balanced", random_state=seed
        )
        classifier.fit(features[train], labels[train])
        scores[test] = classifier.predict_proba(features[test])[:, 1]
    return float(roc_auc_score(labels, scores))
