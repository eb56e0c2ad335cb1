"""How playable the Viterbi fingerings are next to the naive baseline (each note at its lowest
fret): mean cost per note and share of position shifts, on the same notes, by the same cost."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from corridos.errors import BadInputError
from corridos.symbolic.cleaning import CleaningConfig
from corridos.tablature.files import midi_files, read_piece
from corridos.tablature.fingering import FingeringConfig, Method, Tab, finger
from corridos.tablature.instrument import REQUINTO, Instrument


@dataclasses.dataclass
class FingeringScore:
    """One fingering method's totals over the pieces scored."""

    notes: int = 0
    cost: float = 0.0
    shifts: int = 0
    transitions: int = 0  # pairs of consecutive events
    adjustments: Counter[str] = dataclasses.field(default_factory=Counter)  # kind -> notes not played as written

    def add(self, tab: Tab) -> None:
        self.adjustments.update(a.kind for a in tab.adjustments)
        self.notes += len(tab.notes)
        self.cost += tab.cost
        self.shifts += tab.shifts
        self.transitions += max(0, len(tab.events) - 1)

    @property
    def cost_per_note(self) -> float:
        return self.cost / self.notes if self.notes else 0.0

    @property
    def shift_share(self) -> float:
        """Share of moves from one event to the next in which the hand changes position."""
        return self.shifts / self.transitions if self.transitions else 0.0


@dataclasses.dataclass
class Comparison:
    viterbi: FingeringScore = dataclasses.field(default_factory=FingeringScore)
    baseline: FingeringScore = dataclasses.field(default_factory=FingeringScore)
    pieces: int = 0
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)  # file -> why

    def add(self, sequence, instrument: Instrument, capo: int, config: FingeringConfig) -> None:
        methods: dict[Method, FingeringScore] = {"viterbi": self.viterbi, "lowest": self.baseline}
        for method, score in methods.items():
            score.add(finger(sequence, instrument, capo, config, method))
        self.pieces += 1

    @property
    def cost_ratio(self) -> float:
        """Viterbi cost over baseline cost (below 1: the search found easier fingerings)."""
        return self.viterbi.cost / self.baseline.cost if self.baseline.cost else 1.0

    def summary(self) -> dict:
        return {
            "pieces": self.pieces,
            "notes": self.viterbi.notes,
            "cost_per_note": {"viterbi": self.viterbi.cost_per_note, "baseline": self.baseline.cost_per_note},
            "shift_share": {"viterbi": self.viterbi.shift_share, "baseline": self.baseline.shift_share},
            "cost_ratio": self.cost_ratio,
            "adjustments": dict(self.viterbi.adjustments),
            "skipped": self.skipped,
        }


def compare_folder(
    folder: str | Path,
    instrument: Instrument = REQUINTO,
    capo: int = 0,
    config: FingeringConfig = FingeringConfig(),
    cleaning: CleaningConfig | None = None,
) -> Comparison:
    """Viterbi against the baseline on every MIDI file under `folder` (cleaned first when
    `cleaning` is given); a bad file is skipped and its reason kept."""
    instrument.check_capo(capo)
    comparison = Comparison()
    for name, path in midi_files(Path(folder)).items():
        try:
            sequence = read_piece(path, cleaning)
        except BadInputError as error:
            comparison.skipped[name] = error.reason
            continue
        comparison.add(sequence, instrument, capo, config)
    return comparison
