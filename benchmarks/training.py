"""Training speed and what it buys, on this machine.

Without --dataset: throughput (tokens/s) of each family's preset on random tokens.
With --dataset: trains the preset on the dataset (as `corridos train` does, without MLflow) and
prints seconds per step, epochs run, minutes, the best validation loss and the validation split's
bits per note. This is how the GPU preset is timed on a GPU node (KERAS_BACKEND=jax).

    .venv/bin/python benchmarks/training.py [--steps 20] [--preset tiny]
    KERAS_BACKEND=jax python benchmarks/training.py --dataset runs/release/dataset --preset base \\
        --set time_limit_minutes=6 --out runs/base
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import keras
import numpy as np

from corridos.config import parse_override
from corridos.generation.models import build_model
from corridos.generation.train import preset, train
from corridos.symbolic.tokenizer import Vocabulary


def throughput(preset_name: str, steps: int) -> None:
    vocabulary = Vocabulary()
    for family in ("lstm", "wavenet", "transformer"):
        config = preset(preset_name, family)
        model = build_model(config.model, vocabulary.size)
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        rng = np.random.default_rng(0)
        shape = (config.batch_size * steps, config.sequence_length)
        inputs = rng.integers(3, vocabulary.size, shape).astype(np.int32)
        model.fit(
            inputs[: config.batch_size * 2], inputs[: config.batch_size * 2], batch_size=config.batch_size, verbose=0
        )  # trace and compile
        began = time.perf_counter()
        model.fit(inputs, inputs, batch_size=config.batch_size, verbose=0)
        elapsed = time.perf_counter() - began
        print(
            f"{family:12s} {model.count_params():>9,} params: {inputs.size / elapsed:,.0f} tokens/s "
            f"({elapsed / steps * 1000:.0f} ms/step, batch {config.batch_size} x {config.sequence_length})"
        )


def trained(dataset: Path, preset_name: str, family: str, settings: list[str], out: Path) -> None:
    from corridos.generation.likelihood import likelihood
    from corridos.generation.models import load_model
    from corridos.symbolic.dataset import load_dataset

    config = preset(preset_name, family, dict(parse_override(s) for s in settings))
    began = time.perf_counter()
    result = train(dataset, out, config, log_to_mlflow=False, progress=False)
    minutes = (time.perf_counter() - began) / 60
    steps = result.epochs_run * config.steps_per_epoch
    loaded = load_dataset(dataset)
    scores = likelihood(load_model(result.model_dir), loaded.vocabulary, loaded.songs("validation"))
    print(
        f"{preset_name} {family}: {steps} steps in {minutes:.1f} min ({minutes * 60 / steps:.3f} s/step, "
        f"epochs {result.epochs_run}), best val loss {result.best_validation_loss:.4f}, "
        f"validation bits/note {scores['bits_per_note']:.3f}; model: {result.model_dir}"
    )
    print("validation loss by epoch: " + " ".join(f"{loss:.3f}" for loss in result.history["val_loss"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="Throughput mode: steps timed per family.")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--dataset", type=Path, help="Train on this dataset instead of timing random tokens.")
    parser.add_argument("--family", default="transformer", help="With --dataset: the family trained.")
    parser.add_argument("--set", dest="settings", action="append", default=[], help="With --dataset: FIELD=VALUE.")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/training"), help="With --dataset: output.")
    args = parser.parse_args()
    print(f"backend: {keras.backend.backend()}")
    if args.dataset:
        trained(args.dataset, args.preset, args.family, args.settings, args.out)
    else:
        throughput(args.preset, args.steps)


if __name__ == "__main__":
    main()
