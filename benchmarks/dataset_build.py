"""Build the whole corpus and print wall time, files/s and notes/s (target: <= 60 s on 2 cores).

.venv/bin/python benchmarks/dataset_build.py [--corpus DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from corridos.symbolic.dataset import build_dataset

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "corridos-midi"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, os.cpu_count() or 1])
    args = parser.parse_args()
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            result = build_dataset(args.corpus, Path(out) / "ds", workers=workers, progress=False)
            wall = time.perf_counter() - began
        files = result.report["files"]["total"]
        notes = result.report["notes_in"]
        print(
            f"workers={workers} cores={os.cpu_count()}: {files} files, {notes:,} notes in {wall:.1f} s wall "
            f"-> {files / wall:.1f} files/s, {notes / wall:,.0f} notes/s (target <= 60 s)"
        )


if __name__ == "__main__":
    main()
