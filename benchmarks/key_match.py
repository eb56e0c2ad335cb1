"""Key conditioning: one piece asked for in each of the 24 keys, analysed by music21 afterwards.

Prints, per key, the key asked for and the key music21 hears, then the key-match rate (overall,
majors, minors) and how often the tonic alone is right. Chance is 1/24.

    .venv/bin/python benchmarks/key_match.py MODEL [--seconds 30] [--key-guidance G] [--key-candidates N]
"""

from __future__ import annotations

import argparse
import time

from corridos.generation.sampling import SampleConfig, Sampler
from corridos.mlops import packaging
from corridos.symbolic.keys import KEYS, analyse_key, key_match_rate
from corridos.symbolic.sequences import to_arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model folder or MLflow model URI")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--key-guidance", type=float, default=1.0)
    parser.add_argument("--key-candidates", type=int, default=None, help="default: the model's own")
    args = parser.parse_args()
    sampler = Sampler(*packaging.load(args.model))
    began = time.perf_counter()
    configs = [
        SampleConfig(
            seconds=args.seconds,
            seed=i,
            key=key.name,
            key_guidance=args.key_guidance,
            key_candidates=args.key_candidates,
        )
        for i, key in enumerate(KEYS)
    ]
    pieces = [to_arrays(piece) for piece in sampler.generate_each(configs)]
    candidates = sampler.key_candidates(configs[0])
    seconds = time.perf_counter() - began
    print(
        f"sampled {len(pieces)} x {args.seconds:g} s, key guidance {args.key_guidance:g}, "
        f"best of {candidates} by key, in {seconds:.1f} s"
    )
    heard = [analyse_key(piece) if len(piece) else None for piece in pieces]
    for key, analysed, piece in zip(KEYS, heard, pieces):
        print(f"asked {key.name:9s} heard {analysed.name if analysed else '-':9s} ({len(piece)} notes)")
    for mode in (None, "major", "minor"):
        chosen = [i for i, key in enumerate(KEYS) if mode in (None, key.mode)]
        rate = key_match_rate([pieces[i] for i in chosen], [KEYS[i] for i in chosen])
        print(f"key-match rate ({mode or 'all'}): {rate:.3f}")
    tonic = sum(a is not None and a.tonic == k.tonic for a, k in zip(heard, KEYS)) / len(KEYS)
    print(f"tonic right, mode ignored: {tonic:.3f}")


if __name__ == "__main__":
    main()
