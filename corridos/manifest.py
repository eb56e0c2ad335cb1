"""The entry every stage's manifest keeps per input file, so a batch never loses one silently."""

from __future__ import annotations

import dataclasses


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
