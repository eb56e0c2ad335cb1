"""Tablature: fingering time per 30 s piece, and the Viterbi fingering against the naive baseline
(each note at its lowest fret) on the validation songs of the corpus.

The validation songs are the dataset build's own split (cleaned songs, near copies kept together):
pass a built dataset, or the corpus is built into a temporary folder first. Each song, cleaned as
the dataset was, is cut into 30 s pieces and each piece is fingered once after a warm-up. Prints
the median wall and CPU time per piece (target <= 50 ms on 2 cores; CPU time is the steadier
figure on a shared machine), and per method the cost per note and the share of position shifts.

    .venv/bin/python benchmarks/tablature.py [--corpus ../shared/datasets/corridos-midi]
        [--dataset runs/datasets/<version>] [--capo 0] [--instrument requinto]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from corridos import config as config_io
from corridos.constants import SHARED_CORPUS_DIR
from corridos.symbolic.dataset import DatasetConfig, build_dataset, load_dataset
from corridos.symbolic.sequences import from_arrays, to_arrays
from corridos.tablature.evaluation import Comparison
from corridos.tablature.files import read_piece
from corridos.tablature.fingering import FingeringConfig, finger
from corridos.tablature.instrument import instrument_named

PIECE_SECONDS = 30.0


def validation_songs(dataset: Path) -> list:
    """The cleaned NoteSequence of every validation song of a built dataset."""
    manifest = load_dataset(dataset).manifest
    cleaning = config_io.from_dict(DatasetConfig, manifest["config"]).cleaning
    files = [f for f in manifest["files"] if f["split"] == "validation"]
    return [read_piece(Path(f["uri"]), cleaning) for f in files]


def pieces_of(song) -> list:
    """`song` cut into 30 s pieces (by onset), empty ones left out."""
    notes = to_arrays(song)
    windows = np.floor(notes.start / PIECE_SECONDS)
    return [from_arrays(notes.take(np.flatnonzero(windows == w))) for w in np.unique(windows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS_DIR)
    parser.add_argument("--dataset", type=Path, help="a dataset built by `corridos dataset build`")
    parser.add_argument("--capo", type=int, default=0)
    parser.add_argument("--instrument", default="requinto")
    args = parser.parse_args()
    instrument, config = instrument_named(args.instrument), FingeringConfig()
    with tempfile.TemporaryDirectory() as scratch:
        dataset = args.dataset
        if dataset is None:
            print(f"building the dataset from {args.corpus} for its validation split ...")
            built = build_dataset(
                args.corpus, Path(scratch) / "dataset", DatasetConfig(piano_roll_songs=0), progress=False
            )
            dataset = built.path
        songs = validation_songs(dataset)
    pieces = [piece for song in songs for piece in pieces_of(song)]
    finger(pieces[0], instrument, args.capo, config)  # warm-up: imports, first allocations
    wall, cpu = [], []
    for piece in pieces:
        began, began_cpu = time.perf_counter(), time.process_time()
        finger(piece, instrument, args.capo, config)
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    notes = [len(p.notes) for p in pieces]
    print(f"{len(songs)} validation songs, {len(pieces)} pieces of <= {PIECE_SECONDS:.0f} s")
    print(f"notes per piece: median {np.median(notes):.0f}, max {max(notes)}")
    print(
        f"fingering time per piece: median {np.median(wall) * 1000:.1f} ms wall, {np.median(cpu) * 1000:.1f} ms CPU"
        f" (p90 {np.percentile(wall, 90) * 1000:.1f} ms wall; target <= 50 ms); load average {os.getloadavg()[0]:.1f}"
    )
    comparison = Comparison()
    for song in songs:
        comparison.add(song, instrument, args.capo, config)
    for name, score in (("viterbi", comparison.viterbi), ("lowest fret", comparison.baseline)):
        print(f"{name:>12}: cost per note {score.cost_per_note:.3f}, position shifts {score.shift_share:.1%}")
    print(f"cost ratio viterbi / lowest fret: {comparison.cost_ratio:.3f} over {comparison.viterbi.notes:,} notes")
    adjusted = ", ".join(f"{kind} {count}" for kind, count in sorted(comparison.viterbi.adjustments.items()))
    print(f"notes not played as written: {adjusted or 'none'}")


if __name__ == "__main__":
    main()
