"""Guitar Pro 5 (.gp5) tabs with PyGuitarPro: one track with the instrument's strings, capo and frets.

Guitar Pro numbers strings like the tab (1 = highest) and counts frets from the capo (the track's
`offset`). A beat has one written duration, so a column is cut at bar lines and into note values
Guitar Pro can write (plain or dotted), the later pieces tied to the first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from corridos.constants import NYLON_GUITAR_PROGRAM
from corridos.tablature.fingering import Tab, TabNote
from corridos.tablature.grid import STEPS_PER_BAR, TEMPO_BPM, columns

# Note values in grid steps (32nd notes), longest first: whole, dotted half, half, ... 32nd.
_NOTE_VALUES = (32, 24, 16, 12, 8, 6, 4, 3, 2, 1)


@dataclasses.dataclass(frozen=True)
class _Piece:
    """A stretch of one bar: notes (tied to the piece before when `tied`), or a rest when none."""

    bar: int
    length: int
    notes: tuple[TabNote, ...]
    tied: bool


def write_gp5(tab: Tab, path: str | Path, title: str = "") -> Path:
    """Write `tab` as a Guitar Pro 5 file."""
    import guitarpro

    song = guitarpro.Song(title=title or f"{tab.instrument.name.capitalize()} tab", tempo=TEMPO_BPM)
    track = song.tracks[0]
    track.name = tab.instrument.name.capitalize()
    track.strings = [
        guitarpro.GuitarString(number, tab.instrument.open_pitch(number))
        for number in range(1, tab.instrument.strings + 1)
    ]
    track.offset = tab.capo
    track.fretCount = tab.instrument.frets
    track.channel.instrument = NYLON_GUITAR_PROGRAM
    pieces = _pieces(tab)
    while len(track.measures) <= pieces[-1].bar:
        song.newMeasure()
    for piece in pieces:
        voice = track.measures[piece.bar].voices[0]
        for index, steps in enumerate(note_values(piece.length)):
            voice.beats.append(_beat(guitarpro, voice, steps, piece.notes, piece.tied or index > 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    guitarpro.write(song, str(path), version=(5, 1, 0))
    return path


def note_values(steps: int) -> list[int]:
    """`steps` as written note values (in steps), longest first: 7 -> [6, 1] (a dotted 16th, a 32nd)."""
    values = []
    while steps > 0:
        value = next(v for v in _NOTE_VALUES if v <= steps)
        values.append(value)
        steps -= value
    return values


def _pieces(tab: Tab) -> list[_Piece]:
    """The whole tab as notes and rests, cut at bar lines, up to the end of the last bar."""
    pieces: list[_Piece] = []
    cursor = 0
    for column in columns(tab):
        if column.step > cursor:
            pieces.extend(_cut(cursor, column.step - cursor, ()))
        pieces.extend(_cut(column.step, column.length, column.notes))
        cursor = column.step + column.length
    if cursor % STEPS_PER_BAR or cursor == 0:
        pieces.extend(_cut(cursor, STEPS_PER_BAR - cursor % STEPS_PER_BAR, ()))
    return pieces


def _cut(step: int, length: int, notes: tuple[TabNote, ...]) -> list[_Piece]:
    pieces: list[_Piece] = []
    while length > 0:
        bar, offset = divmod(step, STEPS_PER_BAR)
        part = min(length, STEPS_PER_BAR - offset)
        pieces.append(_Piece(bar, part, notes, tied=bool(pieces)))
        step, length = step + part, length - part
    return pieces


def _beat(guitarpro, voice, steps: int, notes: tuple[TabNote, ...], tied: bool):
    dotted = steps not in (32, 16, 8, 4, 2, 1)
    plain = steps * 2 // 3 if dotted else steps
    duration = guitarpro.Duration(value=STEPS_PER_BAR // plain, isDotted=dotted)
    status = guitarpro.BeatStatus.normal if notes else guitarpro.BeatStatus.rest
    beat = guitarpro.Beat(voice, duration=duration, status=status)
    kind = guitarpro.NoteType.tie if tied else guitarpro.NoteType.normal
    beat.notes = [guitarpro.Note(beat, value=n.fret, string=n.string, type=kind) for n in notes]
    return beat
