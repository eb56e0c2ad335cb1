"""Audio stages benchmark: separation real-time factor with the model loaded once vs per file,
transcription real-time factor, note F1 solo and after separation, separator SDR vs the mixture.

    .venv/bin/python benchmarks/audio.py --corpus ../shared/datasets/corridos-midi

Renders mixtures from corpus songs and trains the tiny separator (main env driving the audio
env), then re-runs this file in the audio env for the timings (`--measure`), which need the
models in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

TIMING_FILES = 8


def measure(mixtures_dir: Path, model_dir: Path) -> dict:
    """Audio env side: seconds per audio second for both stages, models in-process."""
    from corridos.audio import io as audio_io
    from corridos.audio.separation import RequintoSeparator, SeparationConfig, resolve_model
    from corridos.audio.transcription import RequintoTranscriber, TranscriptionConfig, decode_notes

    params, model_dir = resolve_model(str(model_dir), Path(SeparationConfig().cache_dir))
    mixes = [audio_io.load_wav(p)[0] for p in sorted((mixtures_dir / "mix").glob("*.wav"))[:TIMING_FILES]]
    audio_seconds = sum(len(m) for m in mixes) / params["sample_rate"]

    started = time.perf_counter()
    separator = RequintoSeparator(params, model_dir)
    for mix in mixes:
        separator.separate(mix)
    separator.close()
    loaded_once = time.perf_counter() - started

    started = time.perf_counter()
    for mix in mixes:
        separator = RequintoSeparator(params, model_dir)
        separator.separate(mix)
        separator.close()
    loaded_per_file = time.perf_counter() - started

    transcriber = RequintoTranscriber()
    solos = [audio_io.load_wav(p) for p in sorted((mixtures_dir / "requinto").glob("*.wav"))[:TIMING_FILES]]
    solos = [audio_io.resample(w, rate, transcriber.sample_rate).mean(axis=1) for w, rate in solos]
    started = time.perf_counter()
    for solo in solos:
        decode_notes(transcriber.activations(solo), TranscriptionConfig())
    transcription = time.perf_counter() - started
    return {
        "files": len(mixes),
        "audio_seconds": round(audio_seconds, 1),
        "separation_rtf_loaded_once": round(loaded_once / audio_seconds, 4),
        "separation_rtf_loaded_per_file": round(loaded_per_file / audio_seconds, 4),
        "separation_speedup": round(loaded_per_file / loaded_once, 2),
        "transcription_rtf": round(transcription / audio_seconds, 4),
    }


def prepare(corpus: str, work: Path, songs: int, steps: int) -> tuple[Path, Path]:
    """Main env side: mixtures and a tiny separator under `work`, made once and reused."""
    from corridos.audio import stages
    from corridos.audio.synthesis import MixtureConfig, corpus_songs, render_mixtures

    mixtures, model = work / "mixtures", work / "separator"
    if not (mixtures / "mixtures.json").is_file():
        render_mixtures(corpus_songs(corpus, songs), mixtures, MixtureConfig())
    if not (model / "training.json").is_file():
        stages.train_separator(mixtures, model, overrides={"steps": steps})
    return mixtures, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="../shared/datasets/corridos-midi")
    parser.add_argument("--work", type=Path, default=Path("runs/bench/audio"))
    parser.add_argument("--songs", type=int, default=12)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    mixtures, model = args.work.resolve() / "mixtures", args.work.resolve() / "separator"
    if args.measure:
        print(json.dumps(measure(mixtures, model)))
        return

    from corridos.audio import stages
    from corridos.audio.bridge import audio_python

    prepare(args.corpus, args.work.resolve(), args.songs, args.steps)
    done = subprocess.run(
        [str(audio_python()), __file__, "--measure", "--work", str(args.work.resolve())],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode != 0:
        raise SystemExit(f"timing run failed:\n{done.stderr[-2000:]}")
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    quality = stages.evaluate(mixtures, model, args.work.resolve() / "evaluation", progress=False).report
    print(f"separation over {timing['files']} files ({timing['audio_seconds']} s of audio), 2 cores:")
    print(f"  real-time factor, model loaded once:   {timing['separation_rtf_loaded_once']:.3f}")
    print(f"  real-time factor, model loaded per file: {timing['separation_rtf_loaded_per_file']:.3f}")
    print(f"  loading once is {timing['separation_speedup']:.1f}x faster (target >= 3x)")
    print(f"transcription real-time factor: {timing['transcription_rtf']:.4f} (target <= 0.05)")
    print(f"held-out mixtures: {quality['mixtures']}")
    print(
        f"  transcription note F1: solo {quality['f1_solo']:.3f} (target >= 0.90), "
        f"after separation {quality['f1_separated']:.3f}"
    )
    print(
        f"  separator SDR {quality['sdr_separated_db']:.2f} dB "
        f"vs unprocessed mixture {quality['sdr_mixture_db']:.2f} dB"
    )


if __name__ == "__main__":
    main()
