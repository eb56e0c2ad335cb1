"""Which code made an artifact: the package version and, inside a git checkout, the commit."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from corridos import __version__


@functools.cache
def code_version() -> str:
    """'0.1.0+g1a2b3c4' (a '.dirty' suffix when the checkout has changes), or just the version."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = _git(root, "rev-parse", "--short=10", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return __version__
    return f"{__version__}+g{commit}{'.dirty' if dirty else ''}"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()
