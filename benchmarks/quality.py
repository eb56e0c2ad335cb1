"""Music quality on held-out artists: the order-2 Markov baseline, the real-vs-real ceiling and each
model given, as `corridos evaluate` measures them (bits/note, mean Yang & Lerch overlapped area,
in-scale and repetition ratios, 8-gram copy rate against the training songs, C2ST AUC ± its
spread over seeds; 0.5 = indistinguishable from the held-out songs).

The dataset should be split by artist, so the validation songs are artists no model has heard:

    .venv/bin/corridos dataset build ../shared/datasets/corridos-midi --split-by artist --out runs/ds-artist
    .venv/bin/python benchmarks/quality.py --dataset runs/ds-artist --model tiny=runs/train/transformer/model
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True, help="A dataset built with --split-by artist.")
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH (a model folder or MLflow URI).")
    parser.add_argument("--samples", type=int, default=16, help="Pieces (and real excerpts) per row.")
    parser.add_argument("--seconds", type=float, default=30.0, help="Length of each piece and window.")
    parser.add_argument("--split", default="validation", help="The dataset's split the rows are measured on.")
    parser.add_argument("--out", type=Path, help="Keep report.json, quality.json, plots and samples here.")
    args = parser.parse_args()
    # Quiet: the figures are the output. Set before TensorFlow or Keras is first imported.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.filterwarnings("ignore")
    from corridos.cli.model import named_model
    from corridos.generation.evaluation import EvaluationConfig, evaluate, quality_table
    from corridos.generation.sampling import SampleConfig
    from corridos.symbolic.dataset import load_dataset

    split_by = load_dataset(args.dataset).manifest["config"]["split"]["by"]
    config = EvaluationConfig(split=args.split, samples=args.samples, sampling=SampleConfig(seconds=args.seconds))
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        evaluate(dict(named_model(m) for m in args.model), args.dataset, out, config, log_to_mlflow=False)
        table = json.loads((out / "quality.json").read_text())
    print(f"{args.dataset} ({args.split} split, split by {split_by}), {args.samples} x {args.seconds:g} s per row")
    if split_by != "artist":
        print("note: this dataset is not split by artist; the validation songs' artists are also in training")
    for line in quality_table(table["rows"], table["absent"] or ""):
        print(line)
    print(f"({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
