"""Find the same song under two names: exact copies and near copies, by content.

A near copy (transposed, shifted in time, played faster, lightly edited) keeps its melodic
contour, so songs are compared by the n-grams of their pitch intervals: what share of the shorter
song's n-grams the other one holds. On the corpus, copies score 1.0 and the most similar pair of
different songs 0.05 (8-grams).

Different recordings of one song (studio vs live) are another matter: after a piano model's
transcription their interval n-grams agree no more than unrelated songs do (measured on the
corpus' studio/live pairs), so they are grouped by their normalised title as well, which only
ever adds caution: a group keeps songs together in one split.
"""

from __future__ import annotations

import collections
import dataclasses
import re

import numpy as np

from corridos.storage import sha256_hex
from corridos.symbolic.sequences import NoteArrays


@dataclasses.dataclass
class DuplicateConfig:
    ngram: int = 8
    near_threshold: float = 0.3
    # n-grams found in more than this share of songs are idioms of the style, not evidence.
    common_ngram_share: float = 0.2
    group_same_title: bool = True


@dataclasses.dataclass
class DuplicateGroup:
    members: list[str]
    kind: str  # "exact", "near" or "title"
    score: float


def exact_key(notes: NoteArrays) -> str:
    """Equal for the same notes whatever the file, name or time offset."""
    onsets_ms = np.round((notes.start - notes.start.min()) * 1000).astype(np.int64) if len(notes) else notes.start
    durations_ms = np.round((notes.end - notes.start) * 1000).astype(np.int64)
    payload = np.stack([onsets_ms, durations_ms, notes.pitch.astype(np.int64)]).tobytes()
    return sha256_hex(payload)


def fingerprint(notes: NoteArrays, ngram: int) -> np.ndarray:
    """Sorted unique hashes of the interval n-grams: blind to transposition, time offset and tempo."""
    intervals = np.clip(np.diff(notes.pitch.astype(np.int64)), -24, 24) + 24
    if len(intervals) < ngram:
        return np.zeros(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(intervals, ngram)
    hashes = windows @ (49 ** np.arange(ngram, dtype=np.int64))
    return np.unique(hashes)


def title_key(name: str) -> str:
    """'Artist - Bladi420 (En vivo).mid' -> 'bladi420': the title without artist, tags and spacing."""
    stem = re.sub(r"\.midi?$", "", name, flags=re.IGNORECASE)
    title = stem.split(" - ", 1)[-1]
    title = re.sub(r"\([^)]*\)", "", title).lower().strip()
    title = re.sub(r"^(el|la|los|las)\s+", "", title)  # 'El Amigo Del Amigo' live is 'Amigo Del Amigo'
    return re.sub(r"[^0-9a-z]", "", title)


def near_pairs(fingerprints: dict[str, np.ndarray], config: DuplicateConfig) -> dict[tuple[str, str], float]:
    """Pairs of songs sharing at least `near_threshold` of the shorter one's n-grams, with that share.

    An inverted index over n-grams keeps this close to linear in corpus size.
    """
    index: dict[int, list[str]] = collections.defaultdict(list)
    for name, hashes in fingerprints.items():
        for value in hashes.tolist():
            index[value].append(name)
    too_common = max(2, int(config.common_ngram_share * len(fingerprints)))
    shared: collections.Counter = collections.Counter()
    for names in index.values():
        if 2 <= len(names) <= too_common:
            for i, first in enumerate(names):
                for second in names[i + 1 :]:
                    shared[(first, second) if first < second else (second, first)] += 1
    pairs = {}
    for (first, second), count in shared.items():
        score = count / min(len(fingerprints[first]), len(fingerprints[second]))
        if score >= config.near_threshold:
            pairs[(first, second)] = round(score, 4)
    return pairs


def find_groups(
    fingerprints: dict[str, np.ndarray], exact_copies: dict[str, str], config: DuplicateConfig
) -> list[DuplicateGroup]:
    """Groups of two or more songs. `exact_copies` maps a dropped copy to the song it repeats."""
    groups = [
        DuplicateGroup(sorted([original, *[c for c, o in exact_copies.items() if o == original]]), "exact", 1.0)
        for original in sorted(set(exact_copies.values()))
    ]
    pairs = near_pairs(fingerprints, config)
    for members in connected(sorted(fingerprints), list(pairs)):
        if len(members) > 1:
            score = min(s for (a, _), s in pairs.items() if a in members)
            groups.append(DuplicateGroup(members, "near", score))
    if config.group_same_title:
        by_title = collections.defaultdict(list)
        for name in sorted(fingerprints):
            by_title[title_key(name)].append(name)
        groups += [DuplicateGroup(m, "title", 0.0) for key, m in sorted(by_title.items()) if key and len(m) > 1]
    return groups


def connected(items: list[str], links: list[tuple[str, str]]) -> list[list[str]]:
    """Connected components (union-find), each sorted, in order of their first member."""
    parent = {item: item for item in items}

    def root(item: str) -> str:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for first, second in links:
        parent[root(first)] = root(second)
    components = collections.defaultdict(list)
    for item in items:
        components[root(item)].append(item)
    return sorted((sorted(c) for c in components.values()), key=lambda c: c[0])
