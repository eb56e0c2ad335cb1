"""Sampling speed: the cached, compiled sampler against the original's naive loop, per family.

Three arms, each timed the same way (REPEATS runs after a warm-up, the best: on shared cores the
least disturbed run):
- naive: what the original project did, `model.predict` on the whole window for every new token;
- compiled, no cache: the whole (fixed-length) window through one compiled call per token, so
  compilation alone is measured;
- cached: the Sampler's compiled step with its cache, one token in per step.
naive / compiled is compilation's share, compiled / cached the cache's own share. All produce the
same number of tokens from the same (untrained, tiny-preset) model.
Prints the speed-up (target >= 30x) and seconds of music per second of compute, and the time to
generate 30 s and 180 s of music with the released model (targets <= 1 s and <= 6 s on 2 cores),
with the in-scale and repetition ratios of the 180 s pieces' first and last minute (past the
model's context the music must hold).

    .venv/bin/python benchmarks/sampling.py [--tokens 200] [--families lstm wavenet transformer]
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

import numpy as np

from corridos.generation.models import build_model
from corridos.generation.sampling import SampleConfig, Sampler
from corridos.generation.train import preset
from corridos.mlops import packaging
from corridos.symbolic.tokenizer import BOS, Vocabulary


def naive_tokens(model, count: int, seed: int = 0) -> float:
    """Seconds to sample `count` tokens the original way; returns the elapsed time."""
    window = model.config.context
    rng = np.random.default_rng(seed)
    tokens = [BOS]
    began = time.perf_counter()
    for _ in range(count):
        context = np.array(tokens[-window:], dtype=np.int32)[None]
        logits = model.predict(context, verbose=0)[0, -1]
        probabilities = np.exp(logits - logits.max())
        tokens.append(int(rng.choice(len(logits), p=probabilities / probabilities.sum())))
    return time.perf_counter() - began


REPEATS = 3


def compiled_window_step(model):
    """The model on a whole PAD-padded window of fixed length, compiled once (TensorFlow: XLA;
    JAX: jit): the logits at every position."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(lambda x: model(x, training=False))
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), jit_compile=True, reduce_retracing=True)


def compiled_tokens(step, window: int, count: int, seed: int = 0) -> float:
    """Seconds to sample `count` tokens by the compiled full-window call, without a cache. The
    models are causal, so the padding after the last real token does not change its logits."""
    from corridos.symbolic.tokenizer import PAD

    rng = np.random.default_rng(seed)
    tokens = [BOS]
    began = time.perf_counter()
    for _ in range(count):
        context = tokens[-window:]
        batch = np.full((1, window), PAD, np.int32)
        batch[0, : len(context)] = context
        logits = np.asarray(step(batch))[0, len(context) - 1].astype(np.float64)
        probabilities = np.exp(logits - logits.max())
        tokens.append(int(rng.choice(len(logits), p=probabilities / probabilities.sum())))
    return time.perf_counter() - began


def best_time(run) -> float:
    return min(run() for _ in range(REPEATS))


def cached_tokens(sampler: Sampler, count: int) -> float:
    began = time.perf_counter()
    sampler.sample_tokens(np.zeros(0, np.int32), SampleConfig(events=count, seed=1))
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--families", nargs="*", default=["lstm", "wavenet", "transformer"])
    parser.add_argument(
        "--model",
        default="models/released",
        help="a trained model for the 30 s and 180 s figures (an untrained one emits few notes)",
    )
    args = parser.parse_args()
    vocabulary = Vocabulary()
    tokens_per_second = 18.6  # of music, measured on the corpus (725k tokens in 10.8 h)
    for family in args.families:
        model = build_model(preset("tiny", family).model, vocabulary.size)
        sampler = Sampler(model, vocabulary)
        step = compiled_window_step(model)
        window = model.config.context
        cached_tokens(sampler, 8)  # warm-ups: compilation is not timed
        naive_tokens(model, 2)
        compiled_tokens(step, window, 2)
        cached = best_time(functools.partial(cached_tokens, sampler, args.tokens))
        compiled = best_time(functools.partial(compiled_tokens, step, window, args.tokens, 0))
        naive = best_time(functools.partial(naive_tokens, model, args.tokens, 0))
        music = args.tokens / tokens_per_second
        print(
            f"{family:12s} {args.tokens} tokens, best of {REPEATS}: naive {naive:.2f} s, compiled no cache "
            f"{compiled:.3f} s, cached {cached:.3f} s -> {naive / cached:.0f}x faster (target >= 30x), "
            f"of which the cache {compiled / cached:.1f}x; {music / cached:.0f} s of music per s"
        )
        if family == "transformer":
            whole_pieces(args.model, sampler)


def whole_pieces(model: str, sampler: Sampler) -> None:
    """Seconds to generate 30 s and 180 s of music (median of 3 seeds), and the 180 s pieces' first
    and last minute compared."""
    from corridos.generation.evaluation import minutes_compared

    if Path(model).is_dir():
        sampler = Sampler(*packaging.load(model))
        sampler.generate(SampleConfig(seconds=2))
    name = model if Path(model).is_dir() else "an untrained model"
    for seconds, target in ((30, 1), (180, 6)):
        times = []
        for seed in range(3):
            began = time.perf_counter()
            sampler.generate(SampleConfig(seconds=seconds, seed=seed))
            times.append(time.perf_counter() - began)
        print(f"{'':12s} {seconds} s of music from {name}: {np.median(times):.2f} s median of 3 (target <= {target} s)")
    for label, scores in minutes_compared(sampler.model, sampler.vocabulary).items():
        print(
            f"{'':12s} minutes {label} of 4 pieces of 180 s: in-scale {scores['in_scale_ratio']:.3f}, "
            f"repetition {scores['repetition_ratio']:.3f}, {scores['notes_per_minute']:.0f} notes"
        )


if __name__ == "__main__":
    main()
