"""Piano-roll pictures of NoteSequences, for people: dataset before/after, generated samples."""

from __future__ import annotations

from pathlib import Path

from corridos.symbolic.sequences import to_arrays


def save(panels: list[tuple[str, object]], path: Path, seconds: float | None = None) -> Path:
    """One row per (title, NoteSequence), sharing the time axis; only the first `seconds` if set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        len(panels), 1, figsize=(12, 2.6 * len(panels)), sharex=True, sharey=True, squeeze=False
    )
    for axis, (title, sequence) in zip(axes[:, 0], panels):
        notes = to_arrays(sequence)
        if seconds is not None:
            notes = notes.take(notes.start < seconds)
        for pitch in sorted(set(notes.pitch.tolist())):
            row = notes.take(notes.pitch == pitch)
            bars = list(zip(row.start.tolist(), (row.end - row.start).tolist()))
            axis.broken_barh(bars, (pitch - 0.4, 0.8), color="#b5472f")
        axis.set_title(f"{title} ({len(notes)} notes)", fontsize=10, loc="left")
        axis.set_ylabel("MIDI pitch")
        axis.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xlabel("seconds")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
