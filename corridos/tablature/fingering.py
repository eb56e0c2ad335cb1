"""Fingering: the string and fret of every note of a NoteSequence on a fretted instrument.

Written by hand because no library does it (music21 and PyGuitarPro write tabs, they do not choose
them). The steps:

1. Notes the instrument cannot reach are moved by octaves into its range, and reported.
2. Notes starting within the chord window form one event; a pitch twice in an event is merged.
3. An event's candidates put each note on its own string with every fretted note inside the hand
   span. An event that no span holds keeps its top note (the melody, as in the cleaning) and the
   notes under it that still fit; the others are dropped and reported.
4. A state is a candidate with a hand position (the fret under the index finger). A Viterbi search
   finds the cheapest path of states: static costs per state (fretted notes, height, stretch) and
   transition costs between events (moving the hand, crossing strings).

The naive baseline plays each event at its lowest frets; its cost comes from the same search
restricted to that one candidate per event, so both fingerings are scored by one cost function.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from corridos.symbolic.cleaning import CleaningConfig
from corridos.symbolic.sequences import to_arrays
from corridos.tablature.instrument import REQUINTO, Instrument, pitch_name

# Four fingers cover four frets without stretching.
BOX_FRETS = 4
# Float times that should sit exactly on the chord window's edge.
_EPSILON = 1e-6

Method = Literal["viterbi", "lowest"]


@dataclasses.dataclass(frozen=True)
class FingeringCosts:
    """Weights of the cost function shared by the Viterbi search and the baseline."""

    shift: float = 2.0  # lifting the hand to a new position
    shift_per_fret: float = 0.5  # and the distance it travels
    stretch_per_fret: float = 2.0  # each fret a chord spans beyond the four-fret box
    string_change: float = 0.3  # each string crossed between consecutive events
    height_per_fret: float = 0.05  # each fret above the capo: frets narrow and get harder up the neck
    fretted_note: float = 0.5  # each fretted note: open strings are the easy ones


@dataclasses.dataclass(frozen=True)
class FingeringConfig:
    # The cleaning's window for "one chord" (the corpus's onsets sit on a 32 ms grid).
    chord_window_seconds: float = CleaningConfig.top_voice_window_seconds
    # Frets the hand covers at its widest, index finger to stretched little finger.
    hand_span_frets: int = 5
    costs: FingeringCosts = FingeringCosts()


@dataclasses.dataclass(frozen=True)
class TabNote:
    start: float
    end: float
    pitch: int  # the pitch played: the input's, or the octave it was moved to
    string: int  # 1 = the highest string
    fret: int  # counted from the capo


@dataclasses.dataclass(frozen=True)
class Adjustment:
    """A note not played as written: moved by octaves, merged with its twin, or dropped."""

    kind: Literal["octave", "merged", "dropped"]
    start: float
    pitch: int  # as written (or as an earlier octave adjustment moved it)
    played_pitch: int | None  # after an octave move; None when the note is not played
    reason: str

    def __str__(self) -> str:
        return f"{self.start:.3f} s {pitch_name(self.pitch)} ({self.kind}): {self.reason}"


@dataclasses.dataclass
class Tab:
    instrument: Instrument
    capo: int
    events: list[tuple[TabNote, ...]]  # the notes struck together, in time order, highest string first
    positions: list[int]  # hand position per event: the fret (from the capo) under the index finger
    adjustments: list[Adjustment]
    cost: float
    shortened: int  # notes cut short because the next note on their string started

    @property
    def notes(self) -> list[TabNote]:
        return [note for event in self.events for note in event]

    @property
    def shifts(self) -> int:
        """How often the hand changes position."""
        return sum(a != b for a, b in zip(self.positions, self.positions[1:]))


@dataclasses.dataclass
class _Event:
    starts: list[float]
    ends: list[float]
    pitches: tuple[int, ...]  # highest first


@dataclasses.dataclass
class _States:
    """The (candidate, hand position) states of one event, as arrays for the search."""

    candidate: np.ndarray
    position: np.ndarray
    cost: np.ndarray  # static: fretted notes, height, stretch
    string_center: np.ndarray  # mean string index of the candidate's notes

    def only(self, candidate: int) -> _States:
        keep = self.candidate == candidate
        return _States(self.candidate[keep], self.position[keep], self.cost[keep], self.string_center[keep])


@dataclasses.dataclass
class _Candidates:
    """Every playable way to finger one event's pitches."""

    pitches: tuple[int, ...]  # the pitches kept, highest first
    dropped: tuple[int, ...]  # pitches no hand span could add
    strings: np.ndarray  # (candidates, notes): string index, 0 = lowest
    frets: np.ndarray  # (candidates, notes)
    states: _States
    lowest: _States  # the baseline: only the candidate with the lowest frets


def finger(
    sequence,
    instrument: Instrument = REQUINTO,
    capo: int = 0,
    config: FingeringConfig = FingeringConfig(),
    method: Method = "viterbi",
) -> Tab:
    """The tab of `sequence`: the Viterbi fingering, or with method="lowest" the naive baseline."""
    instrument.check_capo(capo)
    adjustments: list[Adjustment] = []
    events = _events(sequence, instrument, capo, config, adjustments)
    if not events:
        return Tab(instrument, capo, [], [], [], 0.0, 0)
    # One table per distinct chord: a melody repeats its pitches, so most events reuse one.
    tables: dict[tuple[int, ...], _Candidates] = {}
    candidates = [_cached(tables, event.pitches, instrument, capo, config) for event in events]
    for event, options in zip(events, candidates):
        adjustments.extend(_dropped(event, options, instrument))
    states = [c.states if method == "viterbi" else c.lowest for c in candidates]
    path, cost = _viterbi(states, config.costs)
    chosen = [int(s.candidate[i]) for s, i in zip(states, path)]
    positions = [int(s.position[i]) for s, i in zip(states, path)]
    notes, shortened = _tab_notes(events, candidates, chosen, instrument)
    adjustments.sort(key=lambda a: a.start)
    return Tab(instrument, capo, notes, positions, adjustments, cost, shortened)


def _events(
    sequence, instrument: Instrument, capo: int, config: FingeringConfig, adjustments: list[Adjustment]
) -> list[_Event]:
    """Move notes into range, group them by onset and merge repeated pitches (recording each change)."""
    notes = to_arrays(sequence)
    pitches = [_into_range(int(p), float(s), instrument, capo, adjustments) for s, p in zip(notes.start, notes.pitch)]
    events: list[_Event] = []
    group_start = -np.inf
    for start, end, pitch in zip(notes.start.tolist(), notes.end.tolist(), pitches):
        if start - group_start > config.chord_window_seconds + _EPSILON:
            group_start = start
            events.append(_Event([], [], ()))
        _add_note(events[-1], start, end, pitch, adjustments)
    for event in (e for e in events if len(e.pitches) > 1):
        order = sorted(range(len(event.pitches)), key=lambda k: -event.pitches[k])
        event.starts = [event.starts[k] for k in order]
        event.ends = [event.ends[k] for k in order]
        event.pitches = tuple(event.pitches[k] for k in order)
    return events


def _into_range(pitch: int, start: float, instrument: Instrument, capo: int, adjustments: list[Adjustment]) -> int:
    low, high = instrument.lowest_pitch(capo), instrument.highest_pitch()
    if low <= pitch <= high:
        return pitch
    octaves = -(-(low - pitch) // 12) if pitch < low else -(-(pitch - high) // 12)
    played = pitch + 12 * octaves if pitch < low else pitch - 12 * octaves
    where = f"below the lowest note {pitch_name(low)}" if pitch < low else f"above the highest {pitch_name(high)}"
    reason = f"moved {'up' if pitch < low else 'down'} {octaves} octave(s) to {pitch_name(played)}: {where}"
    adjustments.append(Adjustment("octave", start, pitch, played, f"{reason} (capo {capo})"))
    return played


def _add_note(event: _Event, start: float, end: float, pitch: int, adjustments: list[Adjustment]) -> None:
    if pitch in event.pitches:
        twin = event.pitches.index(pitch)
        event.ends[twin] = max(event.ends[twin], end)
        reason = "the same pitch starts in the same chord (one string plays it)"
        adjustments.append(Adjustment("merged", start, pitch, pitch, reason))
        return
    event.starts.append(start)
    event.ends.append(end)
    event.pitches = (*event.pitches, pitch)


def _cached(
    tables: dict[tuple[int, ...], _Candidates],
    pitches: tuple[int, ...],
    instrument: Instrument,
    capo: int,
    config: FingeringConfig,
) -> _Candidates:
    if pitches not in tables:
        tables[pitches] = _candidates(pitches, instrument, capo, config)
    return tables[pitches]


def _candidates(pitches: tuple[int, ...], instrument: Instrument, capo: int, config: FingeringConfig) -> _Candidates:
    """All fingerings of `pitches` (highest first); notes that no span can add are dropped."""
    kept: tuple[int, ...] = ()
    dropped: tuple[int, ...] = ()
    found: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for pitch in pitches:  # the top note always fits: _into_range put it on the neck
        attempt = _assignments((*kept, pitch), instrument, capo, config.hand_span_frets)
        if attempt:
            kept, found = (*kept, pitch), attempt
        else:
            dropped = (*dropped, pitch)
    strings = np.array([s for s, _ in found], dtype=np.int64)
    frets = np.array([f for _, f in found], dtype=np.int64)
    states = _states_of(strings, frets, instrument.frets_above_capo(capo), config.costs)
    lowest = int(np.argmin(frets.sum(axis=1)))
    return _Candidates(kept, dropped, strings, frets, states, states.only(lowest))


def _assignments(pitches: tuple[int, ...], instrument: Instrument, capo: int, span: int) -> list:
    """(strings, frets) of every way to play `pitches` one per string, fretted notes within `span`."""
    top_fret = instrument.frets_above_capo(capo)
    options = [
        [(s, pitch - open_pitch - capo) for s, open_pitch in enumerate(instrument.open_pitches)] for pitch in pitches
    ]
    options = [[(s, f) for s, f in row if 0 <= f <= top_fret] for row in options]
    found: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def extend(strings: tuple[int, ...], frets: tuple[int, ...]) -> None:
        if len(strings) == len(pitches):
            found.append((strings, frets))
            return
        for string, fret in options[len(strings)]:
            fretted = [f for f in (*frets, fret) if f > 0]
            if string not in strings and (not fretted or max(fretted) - min(fretted) < span):
                extend((*strings, string), (*frets, fret))

    extend((), ())
    return found


def _states_of(strings: np.ndarray, frets: np.ndarray, top_fret: int, costs: FingeringCosts) -> _States:
    """Each candidate with every hand position it can be played from, and its static cost."""
    candidate, position, cost, center = [], [], [], []
    for index, (row_strings, row_frets) in enumerate(zip(strings, frets)):
        fretted = row_frets[row_frets > 0]
        if fretted.size == 0:  # open strings only: the hand may be anywhere
            positions = range(1, top_fret + 1)
            stretch = 0
        else:
            low, high = int(fretted.min()), int(fretted.max())
            positions = range(max(1, high - BOX_FRETS + 1), low + 1) if high - low < BOX_FRETS else range(low, low + 1)
            stretch = max(0, high - low - (BOX_FRETS - 1))
        static = (
            costs.fretted_note * fretted.size
            + costs.height_per_fret * float(fretted.sum())
            + costs.stretch_per_fret * stretch
        )
        for p in positions:
            candidate.append(index)
            position.append(p)
            cost.append(static)
            center.append(sum(row_strings.tolist()) / len(row_strings))
    return _States(np.array(candidate), np.array(position), np.array(cost), np.array(center))


def _viterbi(states: list[_States], costs: FingeringCosts) -> tuple[list[int], float]:
    """Index of the chosen state per event, and the path's total cost."""
    total = states[0].cost.copy()
    back = []
    # Consecutive events repeat the same pairs of chords (states are shared per chord).
    transitions: dict[tuple[int, int], np.ndarray] = {}
    for previous, current in zip(states, states[1:]):
        key = (id(previous), id(current))
        if key not in transitions:
            transitions[key] = _transition(previous, current, costs)
        step = total[:, None] + transitions[key]
        best = step.argmin(axis=0)
        total = step[best, np.arange(len(best))] + current.cost
        back.append(best)
    path = [int(total.argmin())]
    for best in reversed(back):
        path.append(int(best[path[-1]]))
    return path[::-1], float(total.min())


def _transition(previous: _States, current: _States, costs: FingeringCosts) -> np.ndarray:
    moved = np.abs(previous.position[:, None] - current.position[None, :])
    crossed = np.abs(previous.string_center[:, None] - current.string_center[None, :])
    return costs.shift * (moved > 0) + costs.shift_per_fret * moved + costs.string_change * crossed


def _dropped(event: _Event, options: _Candidates, instrument: Instrument) -> list[Adjustment]:
    if not options.dropped:
        return []
    reason = (
        f"a chord of {len(event.pitches)} notes that no hand span holds on the {instrument.name}: "
        f"kept {' '.join(pitch_name(p) for p in options.pitches)}"
    )
    return [Adjustment("dropped", event.starts[event.pitches.index(p)], p, None, reason) for p in options.dropped]


def _tab_notes(
    events: list[_Event], candidates: list[_Candidates], chosen: list[int], instrument: Instrument
) -> tuple[list[tuple[TabNote, ...]], int]:
    """TabNotes per event, highest string first; a note still ringing when its string is struck
    again is cut there, as the string itself cuts it."""
    rows: list[list[TabNote]] = []
    ringing: dict[int, tuple[int, int]] = {}  # string -> (row, index in row) of its latest note
    shortened = 0
    for event, options, candidate in zip(events, candidates, chosen):
        row: list[TabNote] = []
        for k, pitch in enumerate(options.pitches):
            index = event.pitches.index(pitch)
            string = instrument.string_number(int(options.strings[candidate, k]))
            note = TabNote(event.starts[index], event.ends[index], pitch, string, int(options.frets[candidate, k]))
            if string in ringing:
                earlier_row, earlier_index = ringing[string]
                earlier = rows[earlier_row][earlier_index]
                if earlier.end > note.start:
                    rows[earlier_row][earlier_index] = dataclasses.replace(earlier, end=note.start)
                    shortened += 1
            ringing[string] = (len(rows), len(row))
            row.append(note)
        rows.append(row)
    return [tuple(sorted(row, key=lambda n: n.string)) for row in rows], shortened
