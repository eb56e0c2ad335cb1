"""Musical keys: their names, parsing, transposition, and music21's analysis of a line's key.

One key is a tonic pitch class and a mode, major or minor: 24 keys, written "A minor", "F# major",
"Bb major" (music21's spelling of the tonic, with b for flat). The dataset records each song's
analysed key, the vocabulary has one token per key, and evaluation checks generated pieces
against the key they were asked for.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from corridos.errors import BadInputError
from corridos.symbolic.sequences import NoteArrays

MODES = ("major", "minor")
PITCH_CLASSES = 12
KEY_COUNT = PITCH_CLASSES * len(MODES)
ACCEPTED_FORM = "'<tonic> major' or '<tonic> minor', the tonic a letter A-G with an optional # or b, e.g. 'A minor'"
_KEY_PATTERN = re.compile(r"\s*([A-Ga-g])([#b-]?)\s+(major|minor)\s*", re.IGNORECASE)
# Durations enter music21's analysis as quarter lengths: whole 10 ms steps keep them exact.
_WEIGHT_STEPS_PER_SECOND = 100


@dataclasses.dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor"

    @property
    def index(self) -> int:
        """0-23: the majors by tonic, then the minors."""
        return MODES.index(self.mode) * PITCH_CLASSES + self.tonic

    @property
    def name(self) -> str:
        from music21 import pitch

        return f"{pitch.Pitch(self.tonic).name.replace('-', 'b')} {self.mode}"

    def transposed(self, semitones: int) -> Key:
        """The key of the music moved by `semitones`: the tonic moves with it, the mode stays."""
        return Key((self.tonic + semitones) % PITCH_CLASSES, self.mode)

    @classmethod
    def from_index(cls, index: int) -> Key:
        mode, tonic = divmod(index, PITCH_CLASSES)
        return cls(tonic, MODES[mode])


KEYS = tuple(Key.from_index(i) for i in range(KEY_COUNT))


def parse_key(text: str) -> Key:
    """'A minor', 'f# major', 'Bb major' -> Key; anything else is a BadInputError naming the value."""
    from music21 import pitch

    match = _KEY_PATTERN.fullmatch(text)
    if not match:
        raise BadInputError("key", f"{text!r} is not a key; expected {ACCEPTED_FORM}")
    letter, accidental, mode = match.groups()
    tonic = pitch.Pitch(letter.upper() + accidental.replace("b", "-")).pitchClass
    return Key(tonic, mode.lower())


def set_key_signature(sequence, key: Key) -> None:
    """Write `key` as a NoteSequence's key signature at time 0 (MIDI files carry it)."""
    signature = sequence.key_signatures.add(time=0)
    # note_seq numbers keys by pitch class, and modes as MODES does (major 0, minor 1)
    signature.key, signature.mode = key.tonic, MODES.index(key.mode)


def key_signature(sequence) -> Key | None:
    """The key a NoteSequence's first key signature names, or None without one."""
    if not sequence.key_signatures:
        return None
    signature = sequence.key_signatures[0]
    return Key(signature.key, MODES[signature.mode])


def analyse_key(notes: NoteArrays) -> Key:
    """music21's key analysis (`Stream.analyze('key')`) of the notes.

    music21 weighs each pitch class by its notes' total duration and nothing else, so it is given
    one note per pitch class carrying that total: the same answer as the whole line, in a few
    milliseconds instead of seconds for a song of a thousand notes.
    """
    from music21 import note, stream

    if not len(notes):
        raise BadInputError("notes", "no notes: a key needs at least one")
    steps = np.maximum(np.round((notes.end - notes.start) * _WEIGHT_STEPS_PER_SECOND), 1)
    weights = np.bincount(notes.pitch.astype(np.int64) % PITCH_CLASSES, weights=steps, minlength=PITCH_CLASSES)
    summary: stream.Stream = stream.Stream()
    for pitch_class in np.flatnonzero(weights):
        summary.append(note.Note(int(pitch_class) + 60, quarterLength=int(weights[pitch_class])))
    analysed = summary.analyze("key")
    return Key(analysed.tonic.pitchClass, analysed.mode)


def heard_in(notes: NoteArrays, key: Key | None) -> bool:
    """Whether music21 hears the notes in `key` (no notes, or no key: not)."""
    return key is not None and len(notes) > 0 and analyse_key(notes) == key


def key_match_rate(pieces: list[NoteArrays], requested: list[Key]) -> float:
    """Share of pieces whose analysed key is the one requested for them (an empty piece misses)."""
    if len(pieces) != len(requested) or not pieces:
        raise ValueError(f"{len(pieces)} pieces for {len(requested)} requested keys: need as many, at least one")
    return float(np.mean([heard_in(p, key) for p, key in zip(pieces, requested)]))
