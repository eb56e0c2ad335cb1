"""A picture of the tab (PNG or SVG, by the file's suffix), drawn with matplotlib.

The same layout as the ASCII tab: string lines (the highest on top), bar lines, fret numbers at
their grid step. LilyPond and MuseScore engrave tabs too and Debian has both, but they are large
system packages (MuseScore also needs a display) for what is a preview; matplotlib is already
a dependency.
"""

from __future__ import annotations

from pathlib import Path

from corridos.tablature.fingering import Tab
from corridos.tablature.grid import STEPS_PER_BAR, bar_count, columns
from corridos.tablature.instrument import pitch_name

BARS_PER_ROW = 2
_STEP_INCHES = 0.2
_ROW_INCHES = 1.4


def write_picture(tab: Tab, path: str | Path, dpi: int = 100) -> Path:
    """Draw `tab` into `path` (.png or .svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    tab_columns = columns(tab)
    rows = -(-bar_count(tab_columns) // BARS_PER_ROW)
    row_steps = BARS_PER_ROW * STEPS_PER_BAR
    figure, axis = plt.subplots(figsize=(row_steps * _STEP_INCHES + 1, rows * _ROW_INCHES + 0.6))
    strings = tab.instrument.strings
    gap = strings + 2  # rows apart, in string spacings
    for row in range(rows):
        top = -row * gap
        for s in range(1, strings + 1):
            axis.plot([0, row_steps], [top - s + 1] * 2, color="0.55", linewidth=0.8)
            label = pitch_name(tab.instrument.open_pitch(s))
            axis.text(-1, top - s + 1, label, ha="right", va="center", fontsize=8)
        for bar in range(BARS_PER_ROW + 1):
            axis.plot([bar * STEPS_PER_BAR] * 2, [top, top - strings + 1], color="black", linewidth=1)
    for column in tab_columns:
        row, x = divmod(column.step, row_steps)
        for note in column.notes:
            y = -row * gap - note.string + 1
            axis.text(x + 0.5, y, str(note.fret), ha="center", va="center", fontsize=9, bbox=_LABEL_BOX)
    axis.set_xlim(-4, row_steps + 1)
    axis.set_ylim(-(rows - 1) * gap - strings, 1.5)
    capo = f"capo {tab.capo} (frets count from the capo)" if tab.capo else "no capo"
    axis.set_title(f"{tab.instrument.name.capitalize()} tab, {capo}", fontsize=11)
    axis.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return path


_LABEL_BOX = {"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"}
