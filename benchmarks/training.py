"""Training throughput (tokens/s) of each family's tiny preset on this machine.

.venv/bin/python benchmarks/training.py [--steps 20]
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

from corridos.generation.models import build_model
from corridos.generation.train import preset
from corridos.symbolic.tokenizer import Vocabulary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--preset", default="tiny")
    args = parser.parse_args()
    vocabulary = Vocabulary()
    print(f"backend: {keras.backend.backend()}")
    for family in ("lstm", "wavenet", "transformer"):
        config = preset(args.preset, family)
        model = build_model(config.model, vocabulary.size)
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        rng = np.random.default_rng(0)
        shape = (config.batch_size * args.steps, config.sequence_length)
        inputs = rng.integers(3, vocabulary.size, shape).astype(np.int32)
        model.fit(
            inputs[: config.batch_size * 2], inputs[: config.batch_size * 2], batch_size=config.batch_size, verbose=0
        )  # trace and compile
        began = time.perf_counter()
        model.fit(inputs, inputs, batch_size=config.batch_size, verbose=0)
        elapsed = time.perf_counter() - began
        print(
            f"{family:12s} {model.count_params():>9,} params: {inputs.size / elapsed:,.0f} tokens/s "
            f"({elapsed / args.steps * 1000:.0f} ms/step, batch {config.batch_size} x {config.sequence_length})"
        )


if __name__ == "__main__":
    main()
