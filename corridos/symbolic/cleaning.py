"""Turn a piano model's whole-band transcription into a requinto line.

Rules run in a fixed order (the order they were measured in, docs/FACTS.md); each reports how many notes it
removed, and the removed notes are kept too: the audio stage renders them as accompaniment.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from corridos.symbolic.sequences import NoteArrays, from_arrays, to_arrays
from corridos.tablature.instrument import REQUINTO

# A hair of slack for float times that should sit exactly on a threshold.
_EPSILON = 1e-6

RULES = ("velocity", "duration", "pitch_range", "reonset", "top_voice")


@dataclasses.dataclass
class CleaningConfig:
    min_velocity: int = 40
    min_duration_seconds: float = 0.050
    # What a requinto can sound (open low string to the top fret, no capo); outside it is bleed
    # from the bass and rhythm guitar, or a transcriber's overtone (docs/FACTS.md).
    pitch_min: int = REQUINTO.lowest_pitch(capo=0)
    pitch_max: int = REQUINTO.highest_pitch()
    # A same-pitch onset this soon after the previous one is the same note struck twice by the
    # transcriber (0 turns the rule off).
    reonset_seconds: float = 0.064
    # Onsets within this window of a group's first onset form one chord; only its top note stays.
    # 40 ms, not 30: the corpus onsets sit on a 32 ms grid (0 turns the rule off).
    top_voice_window_seconds: float = 0.040
    cut_at_next_onset: bool = True
    # Quality filter: a file is rejected when too little of it is a requinto line.
    min_notes: int = 50
    min_in_range_share: float = 0.5


@dataclasses.dataclass
class CleanResult:
    kept_notes: NoteArrays
    removed_notes: NoteArrays  # everything the rules took out
    notes_in: int
    removed_by_rule: dict[str, int]
    shortened: int
    rejected: str | None  # why the quality filter refused the file, or None
    name: str = ""

    @property
    def notes_out(self) -> int:
        return len(self.kept_notes)

    @property
    def kept(self):
        """The requinto line as a NoteSequence."""
        return from_arrays(self.kept_notes, self.name)


def clean(sequence, config: CleaningConfig = CleaningConfig()) -> CleanResult:
    notes = to_arrays(sequence)
    kept, removed, counts = notes, [], {}
    for rule in RULES:
        mask = _RULES[rule](kept, config)
        counts[rule] = int((~mask).sum())
        removed.append(kept.take(~mask))
        kept = kept.take(mask)
    shortened = 0
    if config.cut_at_next_onset:
        kept, shortened = cut_at_next_onset(kept)
    return CleanResult(
        kept_notes=kept,
        removed_notes=NoteArrays.concatenate(removed),
        notes_in=len(notes),
        removed_by_rule=counts,
        shortened=shortened,
        rejected=_quality_problem(notes, len(kept), config),
        name=sequence.filename,
    )


def _velocity(notes: NoteArrays, config: CleaningConfig) -> np.ndarray:
    return notes.velocity >= config.min_velocity


def _duration(notes: NoteArrays, config: CleaningConfig) -> np.ndarray:
    return notes.end - notes.start >= config.min_duration_seconds - _EPSILON


def _pitch_range(notes: NoteArrays, config: CleaningConfig) -> np.ndarray:
    return (notes.pitch >= config.pitch_min) & (notes.pitch <= config.pitch_max)


def _reonset(notes: NoteArrays, config: CleaningConfig) -> np.ndarray:
    """Drop a note whose onset follows the last kept same-pitch onset within the window.

    The kept note is extended to cover the dropped one, so the sounding time is not lost.
    """
    keep = np.ones(len(notes), dtype=bool)
    if config.reonset_seconds <= 0:
        return keep
    last_kept: dict[int, int] = {}
    for i, (start, pitch) in enumerate(zip(notes.start, notes.pitch)):
        previous = last_kept.get(int(pitch))
        if previous is not None and start - notes.start[previous] <= config.reonset_seconds + _EPSILON:
            keep[i] = False
            notes.end[previous] = max(notes.end[previous], notes.end[i])
        else:
            last_kept[int(pitch)] = i
    return keep


def _top_voice(notes: NoteArrays, config: CleaningConfig) -> np.ndarray:
    """Keep the highest note of each onset group (notes are sorted by onset, then pitch down)."""
    keep = np.zeros(len(notes), dtype=bool)
    if config.top_voice_window_seconds <= 0:
        return ~keep
    group_start, group_best = -np.inf, -1
    for i, (start, pitch) in enumerate(zip(notes.start, notes.pitch)):
        if start - group_start > config.top_voice_window_seconds + _EPSILON:
            group_start, group_best = start, i
            keep[i] = True
        elif pitch > notes.pitch[group_best]:
            keep[group_best], keep[i], group_best = False, True, i
    return keep


_RULES = {
    "velocity": _velocity,
    "duration": _duration,
    "pitch_range": _pitch_range,
    "reonset": _reonset,
    "top_voice": _top_voice,
}


def cut_at_next_onset(notes: NoteArrays) -> tuple[NoteArrays, int]:
    """End every note no later than the next onset, so the line is monophonic."""
    if len(notes) < 2:
        return notes, 0
    next_start = np.append(notes.start[1:], np.inf)
    # Notes sharing an onset (possible only with top_voice off) keep their own ends.
    limit = np.where(next_start > notes.start, next_start, notes.end)
    end = np.minimum(notes.end, limit)
    shortened = int((end < notes.end - _EPSILON).sum())
    return NoteArrays(notes.start, end, notes.pitch, notes.velocity), shortened


def _quality_problem(notes: NoteArrays, notes_left: int, config: CleaningConfig) -> str | None:
    in_range = float(_pitch_range(notes, config).mean()) if len(notes) else 0.0
    if in_range < config.min_in_range_share:
        return f"mostly out of range: {in_range:.0%} of notes in {config.pitch_min}-{config.pitch_max}"
    if notes_left < config.min_notes:
        return f"too few notes left after cleaning: {notes_left} < {config.min_notes}"
    return None
