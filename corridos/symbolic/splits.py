"""Deterministic train/validation/test splits that never separate a group of related songs."""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from corridos.errors import ConfigError
from corridos.symbolic.duplicates import connected


@dataclasses.dataclass
class SplitConfig:
    validation_fraction: float = 0.1
    by: Literal["song", "artist"] = "song"
    # File names (with or without .mid) held out as the test split; their groups come along.
    test: tuple[str, ...] = ()
    seed: int = 0


def artist_of(name: str) -> str:
    """The file name before ' - ' ('Junior H - El AK.mid' -> 'Junior H'); the whole stem if none."""
    stem = name.rsplit(".", 1)[0]
    return stem.split(" - ", 1)[0].strip() if " - " in stem else stem


def assign(names: list[str], groups: list[list[str]], config: SplitConfig, sizes: dict[str, int]) -> dict[str, str]:
    """Map every name to a split. `groups` are songs that must share a split; `sizes` (e.g. notes)
    weigh the validation share. The same names, groups and seed give the same answer."""
    if config.by not in ("song", "artist"):
        raise ConfigError(f"split by {config.by!r}: expected 'song' or 'artist'")
    if not 0 <= config.validation_fraction < 1:
        raise ConfigError(f"validation_fraction {config.validation_fraction} outside [0, 1)")
    links = [(g[0], other) for g in groups for other in g[1:]]
    if config.by == "artist":
        first_by_artist: dict[str, str] = {}
        for name in sorted(names):
            links.append((first_by_artist.setdefault(artist_of(name), name), name))
    components = connected(sorted(names), links)

    test_names = {_stem(t) for t in config.test}
    unknown = test_names - {_stem(n) for n in names}
    if unknown:
        raise ConfigError(f"test list names songs not in the dataset: {', '.join(sorted(unknown))}")
    split = {}
    rest = []
    for component in components:
        if any(_stem(n) in test_names for n in component):
            split.update(dict.fromkeys(component, "test"))
        else:
            rest.append(component)

    order = np.random.default_rng(config.seed).permutation(len(rest))
    total = sum(sizes[n] for c in rest for n in c)
    target, taken = config.validation_fraction * total, 0
    for index in order.tolist():
        component = rest[index]
        weight = sum(sizes[n] for n in component)
        chosen = "validation" if taken + weight / 2 < target else "train"
        taken += weight if chosen == "validation" else 0
        split.update(dict.fromkeys(component, chosen))
    return split


def _stem(name: str) -> str:
    name = name.rsplit("/", 1)[-1]
    return name[: -len(".mid")] if name.lower().endswith(".mid") else name.removesuffix(".midi")
