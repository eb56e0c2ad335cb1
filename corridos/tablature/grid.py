"""The time grid every written tab shares: tempo, metre and the columns notes are written in.

The corpus has no real tempo: every file carries MIDI's default 120 bpm (docs/FACTS.md), and so do
the generated pieces. Tabs are written at that nominal 120 bpm in 4/4, on a grid of 32nd notes
(62.5 ms): coarser than the 40 ms chord window, so a chord is one column, and finer than the
~100 ms between the notes of the fastest real requinto runs, so a run keeps its notes apart.
"""

from __future__ import annotations

import dataclasses

from corridos.tablature.fingering import Tab, TabNote

TEMPO_BPM = 120
BEATS_PER_BAR = 4
STEPS_PER_QUARTER = 8  # 32nd notes
STEPS_PER_BAR = BEATS_PER_BAR * STEPS_PER_QUARTER
STEP_SECONDS = 60 / TEMPO_BPM / STEPS_PER_QUARTER


@dataclasses.dataclass(frozen=True)
class Column:
    """One event of a tab on the grid: the notes struck together and how long they are written."""

    step: int
    length: int  # steps until the next column, or until the notes end if that comes first
    notes: tuple[TabNote, ...]


def columns(tab: Tab) -> list[Column]:
    """The tab's events on the grid, each at least one step after the one before.

    Two events closer than a step would round to one column; the later one moves to the next
    step instead, so no note is lost and the order is kept. A note ringing past the next event
    is written up to it: a tab column has one length for all its notes.
    """
    steps: list[int] = []
    for event in tab.events:
        step = round(event[0].start / STEP_SECONDS)
        steps.append(max(step, steps[-1] + 1) if steps else max(step, 0))
    result = []
    for index, (step, event) in enumerate(zip(steps, tab.events)):
        end = max(1, round(max(note.end for note in event) / STEP_SECONDS) - step)
        length = min(end, steps[index + 1] - step) if index + 1 < len(steps) else end
        result.append(Column(step, length, event))
    return result


def bar_count(tab_columns: list[Column]) -> int:
    """Bars the columns fill (at least one)."""
    if not tab_columns:
        return 1
    last = tab_columns[-1]
    return max(1, -(-(last.step + last.length) // STEPS_PER_BAR))
