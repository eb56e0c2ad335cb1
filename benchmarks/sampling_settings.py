"""Sampling settings chosen by the music they give: for each temperature, top-k, top-p and key
guidance, a model's
samples scored as `corridos evaluate` scores them (C2ST AUC against the validation songs, mean
Yang & Lerch overlapped area, in-scale ratio, 8-gram copy rate against the training songs, key
match), beside the real-vs-real row. Every setting samples the same seeds and keys.

    .venv/bin/python benchmarks/sampling_settings.py DATASET [--model models/released] [--samples 32]
        [--seed 0] [--temperatures 0.9 1.0] [--top-k 0] [--top-p 1.0] [--key-guidance 1 2] [--key-candidates 1 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="a dataset built with --split-by artist (its validation artists are unheard)")
    parser.add_argument("--model", default="models/released")
    parser.add_argument("--samples", type=int, default=32, help="pieces per setting (more: a steadier C2ST)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--seed", type=int, default=0, help="piece i is drawn with seed + i: another seed, other pieces"
    )
    parser.add_argument("--temperatures", type=float, nargs="*", default=[0.9, 0.95, 1.0])
    parser.add_argument("--top-k", type=int, nargs="*", default=[0])
    parser.add_argument("--top-p", type=float, nargs="*", default=[1.0])
    parser.add_argument("--key-guidance", type=float, nargs="*", default=[1.0])
    parser.add_argument("--key-candidates", type=int, nargs="*", default=[None], help="default: the model's own")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # quiet: the figures are the output
    from corridos.generation.evaluation import (
        EvaluationConfig,
        real_songs,
        reference_rows,
        reference_songs,
        sample_pieces,
        score_samples,
    )
    from corridos.generation.sampling import SampleConfig, Sampler
    from corridos.mlops import packaging
    from corridos.symbolic.sequences import to_arrays

    model, vocabulary = packaging.load(args.model)
    sampler = Sampler(model, vocabulary)
    base = EvaluationConfig(samples=args.samples, sampling=SampleConfig(seconds=args.seconds))
    songs = reference_songs(args.dataset, vocabulary, base.split)
    real = real_songs(args.dataset, None, vocabulary, base)
    print(f"{args.model} on {args.dataset} ({len(songs)} validation songs), {args.samples} x {args.seconds:g} s")
    print(f"{'setting':<50} {'C2ST AUC':>13} {'mean OA':>8} {'in-scale':>8} {'copy':>6} {'key':>6} {'notes/s':>7}")
    ceiling = reference_rows(real, base)["real-vs-real"]
    print(row("real-vs-real", ceiling))
    settings = itertools.product(args.temperatures, args.top_k, args.top_p, args.key_guidance, args.key_candidates)
    for temperature, top_k, top_p, guidance, candidates in settings:
        sampling = SampleConfig(
            seconds=args.seconds,
            seed=args.seed,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            key_guidance=guidance,
            key_candidates=candidates,
        )
        config = EvaluationConfig(samples=args.samples, sampling=sampling)
        began = time.perf_counter()
        pieces, key_report = sample_pieces(sampler, songs, config)
        scores = score_samples([to_arrays(p) for p in pieces], real, config)
        scores["samples"].update(key_report)
        name = (
            f"T {temperature:g}, top_k {top_k}, top_p {top_p:g}, guidance {guidance:g}, "
            f"best of {sampler.key_candidates(sampling)}"
        )
        print(row(name, scores) + f"  ({time.perf_counter() - began:.0f} s)")


def row(name: str, scores: dict) -> str:
    """One line of the table from a score_samples / reference_rows result."""
    from corridos.generation.evaluation import mean_oa

    samples, c2st = scores["samples"], scores["c2st"]
    copy = scores.get("copy_rate")
    key = samples.get("key_match_rate")
    return (
        f"{name:<50} {c2st['auc']:.3f} ± {c2st['spread']:.3f} {mean_oa(scores):>8.3f} "
        f"{samples['in_scale_ratio']:>8.3f} {'-' if copy is None else f'{copy:.3f}':>6} "
        f"{'-' if key is None else f'{key:.3f}':>6} {samples['notes_per_second']:>7.2f}"
    )


if __name__ == "__main__":
    main()
