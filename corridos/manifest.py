"""What the stages record and return: the entry each stage's manifest keeps per input file, so a
batch never loses one silently, and the StageResult every stage returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path


@dataclasses.dataclass
class ManifestEntry:
    """What one input file became: used, or skipped with the reason."""

    name: str
    uri: str
    sha256: str = ""
    status: str = "used"  # or "skipped"
    reason: str = ""

    def skip(self, reason: str) -> None:
        self.status, self.reason = "skipped", reason


@dataclasses.dataclass
class StageResult:
    """What a stage made: the folder it wrote, the report it wrote there, and its inputs' fate."""

    out_dir: Path
    # The stage's record: a separation's or transcription's manifest, a separator's training
    # summary, an evaluation's or a dataset's summary.
    report: dict
    used: int = 0  # inputs that became outputs (stages that read files or songs)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)  # input name -> why not used

    @classmethod
    def of_entries(cls, out_dir: Path, report: dict, entries: Sequence[ManifestEntry]) -> StageResult:
        """The result of a stage that recorded one entry per input."""
        skipped = {e.name: e.reason for e in entries if e.status == "skipped"}
        return cls(out_dir, report, len(entries) - len(skipped), skipped)
