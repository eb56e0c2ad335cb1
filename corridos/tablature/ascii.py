"""Plain-text tab: one line per string, the highest string on top, one cell per grid step.

Cells are wide enough for the widest fret, a bar is STEPS_PER_BAR cells between `|`, and rows hold
as many whole bars as fit the width. Notes not played as written are listed under the tab.
"""

from __future__ import annotations

from pathlib import Path

from corridos.tablature.fingering import Tab
from corridos.tablature.grid import STEPS_PER_BAR, TEMPO_BPM, bar_count, columns
from corridos.tablature.instrument import pitch_name


def ascii_tab(tab: Tab, width: int = 120) -> str:
    """The tab as text: a header, rows of bars, then the adjustments."""
    tab_columns = columns(tab)
    cell = 1 + max((len(str(note.fret)) for note in tab.notes), default=1)
    strings = range(1, tab.instrument.strings + 1)
    labels = {s: pitch_name(tab.instrument.open_pitch(s)) for s in strings}
    label_width = max(map(len, labels.values()))
    bars_per_row = max(1, (width - label_width - 1) // (STEPS_PER_BAR * cell + 1))
    bars = bar_count(tab_columns)
    lines = {s: ["-" * cell] * (bars * STEPS_PER_BAR) for s in strings}
    for column in tab_columns:
        for note in column.notes:
            lines[note.string][column.step] = str(note.fret).ljust(cell, "-")
    text = [_header(tab), ""]
    for first in range(0, bars, bars_per_row):
        cells = slice(first * STEPS_PER_BAR, min(bars, first + bars_per_row) * STEPS_PER_BAR)
        for s in strings:
            row = lines[s][cells]
            bar_texts = ["".join(row[i : i + STEPS_PER_BAR]) for i in range(0, len(row), STEPS_PER_BAR)]
            text.append(f"{labels[s].ljust(label_width)}|{'|'.join(bar_texts)}|")
        text.append("")
    if tab.adjustments:
        text.append(f"{len(tab.adjustments)} note(s) not played as written:")
        text.extend(f"  {adjustment}" for adjustment in tab.adjustments)
    return "\n".join(text).rstrip("\n") + "\n"


def write_ascii(tab: Tab, path: str | Path, width: int = 120) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ascii_tab(tab, width), encoding="utf-8")
    return path


def _header(tab: Tab) -> str:
    capo = f"capo {tab.capo} (frets count from the capo)" if tab.capo else "no capo"
    return (
        f"{tab.instrument.name.capitalize()} tab, strings labelled by their tuning, {capo}; "
        f"{TEMPO_BPM} bpm, 4/4, one cell per 32nd note"
    )
