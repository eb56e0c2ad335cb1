"""Separator presets: Spleeter's own training graph (corridos.audio.separation PRESETS) built and
stepped on random spectrograms; seconds per step (wall and CPU) and the steps an hour buys.

    .venv-audio/bin/python benchmarks/separator.py [--presets tiny,cpu,gpu] [--steps 5]

Runs in the AUDIO environment (TensorFlow 2.12). The data pipeline is left out (Spleeter caches
the spectrograms after the first pass over the mixtures), so this is the model's cost alone. On a
shared machine the wall time is inflated by the other processes: the CPU time and the load average
are printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from corridos import config as config_io
from corridos.audio.separation import PRESETS, SeparatorTrainingConfig, spleeter_params

HOUR = 3600.0
# TensorFlow's start-up notices (no CUDA driver, CPU instructions) say nothing about the figures.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(name: str, steps: int) -> dict:
    """Parameters and seconds per training step of preset `name` (one warm-up step first)."""
    import tensorflow as tf
    from spleeter.model import model_fn

    tf.get_logger().setLevel("ERROR")  # TF 1 graph-mode deprecation notices, one per layer
    config = config_io.from_preset(SeparatorTrainingConfig, PRESETS, name)
    with tempfile.TemporaryDirectory() as folder:
        params = spleeter_params(config, Path(folder), Path(folder), Path(folder))
    shape = (params["batch_size"], params["T"], params["F"], params["n_channels"])
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        tf.compat.v1.set_random_seed(0)
        inputs = {
            f"{stem}_spectrogram": tf.compat.v1.placeholder(tf.float32, shape)
            for stem in (params["mix_name"], *params["instrument_list"])
        }
        mix = f"{params['mix_name']}_spectrogram"
        labels = {key: value for key, value in inputs.items() if key != mix}
        spec = model_fn({mix: inputs[mix]}, labels, tf.estimator.ModeKeys.TRAIN, params)
        parameters = sum(int(np.prod(v.shape)) for v in tf.compat.v1.trainable_variables())
        feed = {placeholder: rng.uniform(0, 1, shape).astype(np.float32) for placeholder in inputs.values()}
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(spec.train_op, feed)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                loss, _ = session.run([spec.loss, spec.train_op], feed)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "preset": name,
        "parameters": parameters,
        "steps": config.steps,
        "wall_seconds_per_step": round(wall / steps, 3),
        "cpu_seconds_per_step": round(cpu / steps, 3),
        "finite_loss": bool(np.isfinite(loss)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS), help="Comma-separated preset names.")
    parser.add_argument("--steps", type=int, default=5, help="Timed steps per preset.")
    parser.add_argument("--json", action="store_true", help="One JSON line per preset instead of the table.")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    if not args.json:
        print(f"{cores} cores, load average {os.getloadavg()[0]:.1f} at the start")
        print("preset  parameters  steps   wall s/step  CPU s/step  steps/hour (wall)  preset hours (wall)")
    for name in args.presets.split(","):
        row = measure(name, args.steps)
        if args.json:
            print(json.dumps(row))
            continue
        per_hour = HOUR / row["wall_seconds_per_step"]
        print(
            f"{name:<7} {row['parameters']:>10,}  {row['steps']:>7,}  {row['wall_seconds_per_step']:>11.3f}  "
            f"{row['cpu_seconds_per_step']:>10.3f}  {per_hour:>17,.0f}  {row['steps'] / per_hour:>19.2f}"
        )


if __name__ == "__main__":
    main()
