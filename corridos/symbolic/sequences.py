"""NoteSequence in and out: MIDI bytes, files, and the flat note arrays the cleaning works on.

NoteSequence is the platform's one symbolic type; `NoteArrays` is only a vectorised view of its
notes, for rules that would be slow as per-note Python loops over protobuf messages.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from corridos.constants import NYLON_GUITAR_PROGRAM
from corridos.errors import BadInputError


def import_note_seq():
    # note_seq imports pydub, which warns about ffmpeg at import time; neither is needed here.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        import note_seq
    return note_seq


def from_midi_bytes(data: bytes, name: str):
    """Parse MIDI bytes into a NoteSequence (drums dropped), or raise BadInputError saying why."""
    if not data:
        raise BadInputError(name, "empty file")
    if not data.startswith(b"MThd"):
        raise BadInputError(name, "not a MIDI file (no MThd header)")
    note_seq = import_note_seq()
    try:
        sequence = note_seq.midi_to_note_sequence(data)
    except Exception as error:  # pretty_midi/mido raise many types for corrupt data
        raise BadInputError(name, f"corrupt MIDI: {type(error).__name__}: {error}") from error
    pitched = [note for note in sequence.notes if not note.is_drum]
    if not pitched:
        raise BadInputError(name, "no pitched notes")
    sequence.filename = name
    return sequence


def read_midi(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise BadInputError(str(path), "file not found")
    return from_midi_bytes(path.read_bytes(), str(path))


def write_midi(sequence, path: str | Path, program: int | None = NYLON_GUITAR_PROGRAM) -> Path:
    """Write a NoteSequence as a MIDI file, every note on `program` (nylon guitar by default;
    None keeps each note's own program)."""
    note_seq = import_note_seq()
    if program is not None:
        sequence = _copy(sequence)
        for note in sequence.notes:
            note.program = program
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    note_seq.sequence_proto_to_midi_file(sequence, str(path))
    return path


def _copy(sequence):
    copy = type(sequence)()
    copy.CopyFrom(sequence)
    return copy


@dataclasses.dataclass
class NoteArrays:
    """Notes as parallel arrays, sorted by onset, then by pitch from the top down."""

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def take(self, index: np.ndarray) -> NoteArrays:
        return NoteArrays(self.start[index], self.end[index], self.pitch[index], self.velocity[index])

    @classmethod
    def concatenate(cls, parts: list[NoteArrays]) -> NoteArrays:
        arrays = [np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls)]
        return cls(*arrays).sorted()

    def sorted(self) -> NoteArrays:
        return self.take(np.lexsort((-self.pitch, self.start)))


def to_arrays(sequence) -> NoteArrays:
    notes = [note for note in sequence.notes if not note.is_drum]
    return NoteArrays(
        start=np.array([n.start_time for n in notes], dtype=np.float64),
        end=np.array([n.end_time for n in notes], dtype=np.float64),
        pitch=np.array([n.pitch for n in notes], dtype=np.int16),
        velocity=np.array([n.velocity for n in notes], dtype=np.int16),
    ).sorted()


def from_arrays(notes: NoteArrays, name: str = "", program: int = NYLON_GUITAR_PROGRAM):
    """A NoteSequence holding `notes` on one instrument."""
    return from_parts([(notes, program)], name)


def from_parts(parts: list[tuple[NoteArrays, int]], name: str = ""):
    """A NoteSequence with one instrument per (notes, GM program) part: the one place that builds
    a NoteSequence from notes."""
    sequence = import_note_seq().NoteSequence()
    sequence.ticks_per_quarter = 220
    sequence.tempos.add(qpm=120.0)
    sequence.filename = name
    for instrument, (notes, program) in enumerate(parts):
        for start, end, pitch, velocity in zip(notes.start, notes.end, notes.pitch, notes.velocity):
            sequence.notes.add(
                start_time=float(start),
                end_time=float(end),
                pitch=int(pitch),
                velocity=int(velocity),
                instrument=instrument,
                program=program,
            )
    sequence.total_time = max((float(notes.end.max()) for notes, _ in parts if len(notes)), default=0.0)
    return sequence
