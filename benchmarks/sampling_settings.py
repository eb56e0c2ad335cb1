"""Sampling settings chosen by the music they give: for each temperature and top_p, a model's
samples against the validation songs (in-scale ratio, repetition ratio, mean Yang & Lerch
overlapped area, notes per second), beside the same figures for the real songs.

    .venv/bin/python benchmarks/sampling_settings.py DATASET [--model models/released] [--samples 16]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from corridos.generation.evaluation import reference_songs
from corridos.generation.features import compare_sets, excerpt, in_scale_ratio, repetition_ratio
from corridos.generation.sampling import SampleConfig, Sampler
from corridos.mlops import packaging
from corridos.symbolic.sequences import to_arrays

SECONDS = 30.0


def row(name: str, pieces: list, reference: list) -> str:
    oa = np.mean([v["overlapped_area"] for v in compare_sets(pieces, reference).values()])
    return (
        f"{name:<22} in-scale {np.mean([in_scale_ratio(p) for p in pieces]):.3f}  "
        f"repetition {np.mean([repetition_ratio(p) for p in pieces]):.3f}  mean OA {oa:.3f}  "
        f"notes/s {np.mean([len(p) for p in pieces]) / SECONDS:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--model", default="models/released")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--temperatures", type=float, nargs="*", default=[0.9, 1.0])
    parser.add_argument("--top-p", type=float, nargs="*", default=[0.9, 0.95, 1.0])
    args = parser.parse_args()
    model, vocabulary = packaging.load(args.model)
    songs = reference_songs(args.dataset, vocabulary)
    reference = [excerpt(to_arrays(vocabulary.decode(t)), SECONDS) for t in songs.values()]
    print(row("validation songs", reference[: len(reference) // 2], reference[len(reference) // 2 :]))
    sampler = Sampler(model, vocabulary)
    for temperature, top_p in itertools.product(args.temperatures, args.top_p):
        config = SampleConfig(seconds=SECONDS, temperature=temperature, top_p=top_p, seed=0)
        pieces = [to_arrays(p) for p in sampler.generate(config, args.samples)]
        print(row(f"T {temperature:g}, top_p {top_p:g}", pieces, reference))


if __name__ == "__main__":
    main()
