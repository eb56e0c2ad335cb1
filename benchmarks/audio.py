"""Audio stages benchmark, per SoundFont (the held-out one marked): note F1 solo and after
separation at the chosen thresholds and at Basic Pitch's, SDR of the separated requinto against the
unprocessed mixture; threshold tuning on the training fonts; real-time factors (model loaded once
vs per file, and on full-length songs); the label-free table of the real recordings.

    .venv/bin/python benchmarks/audio.py --corpus ../shared/datasets/corridos-midi

The songs are split once: the separator trains (and the thresholds are tuned) on mixtures of the
first `--train-songs` with the training fonts; every font then plays the other `--eval-songs`.
The separator is whatever `--steps` buys (60: the demo's). Timings re-run this file in the audio
env (`--measure`), which needs the models in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

TIMING_FILES = 8
TUNING_ONSETS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9]
TUNING_FRAMES = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


def measure(work: Path) -> dict:
    """Audio env side: seconds per audio second for both stages, models in-process; excerpts for
    loaded-once vs per-file, then whole songs."""
    from corridos.audio import io as audio_io
    from corridos.audio.separation import RequintoSeparator, SeparationConfig, resolve_model
    from corridos.audio.transcription import RequintoTranscriber, TranscriptionConfig, decode_notes

    params, model_dir = resolve_model(str(work / "separator"), Path(SeparationConfig().cache_dir))
    rate = params["sample_rate"]
    mixes = [audio_io.load_wav(p)[0] for p in sorted((work / "mixtures" / "mix").glob("*.wav"))[:TIMING_FILES]]
    songs = [audio_io.load_wav(p)[0] for p in sorted((work / "full").glob("*/mix/*.wav"))]

    separator = RequintoSeparator(params, model_dir)
    loaded_once = _seconds(lambda: [separator.separate(mix) for mix in mixes])
    full_separation = _seconds(lambda: [separator.separate(song) for song in songs])
    separator.close()

    def per_file() -> None:
        for mix in mixes:
            one = RequintoSeparator(params, model_dir)
            one.separate(mix)
            one.close()

    loaded_per_file = _seconds(per_file)
    transcriber = RequintoTranscriber()

    def transcribe(waveforms: list) -> float:
        mono = [audio_io.resample(w, rate, transcriber.sample_rate).mean(axis=1) for w in waveforms]
        return _seconds(lambda: [decode_notes(transcriber.activations(m), TranscriptionConfig()) for m in mono])

    excerpt_seconds = sum(len(m) for m in mixes) / rate
    song_seconds = sum(len(s) for s in songs) / rate
    return {
        "files": len(mixes),
        "audio_seconds": round(excerpt_seconds, 1),
        "separation_rtf_loaded_once": round(loaded_once / excerpt_seconds, 4),
        "separation_rtf_loaded_per_file": round(loaded_per_file / excerpt_seconds, 4),
        "separation_speedup": round(loaded_per_file / loaded_once, 2),
        "transcription_rtf": round(transcribe(mixes) / excerpt_seconds, 4),
        "full_songs": len(songs),
        "full_song_seconds": [round(len(s) / rate, 1) for s in songs],
        "full_separation_rtf": round(full_separation / song_seconds, 4),
        "full_transcription_rtf": round(transcribe(songs) / song_seconds, 4),
    }


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def prepare(args: argparse.Namespace, work: Path) -> list:
    """Main env side, made once and reused under `work`: training mixtures (training fonts), the
    separator, whole-song mixtures for timing; returns the evaluation songs."""
    from corridos.audio import stages
    from corridos.audio.synthesis import MixtureConfig, corpus_songs, render_mixtures

    songs = corpus_songs(args.corpus, args.train_songs + args.eval_songs + args.full_songs)
    training, evaluation = songs[: args.train_songs], songs[args.train_songs : args.train_songs + args.eval_songs]
    if not (work / "mixtures" / "mixtures.json").is_file():
        render_mixtures(training, work / "mixtures", MixtureConfig())
    if not (work / "separator" / "training.json").is_file():
        stages.train_separator(work / "mixtures", work / "separator", overrides={"steps": args.steps})
    for index, song in enumerate(songs[args.train_songs + args.eval_songs :]):
        folder = work / "full" / f"{index:02d}"
        if not (folder / "mixtures.json").is_file():
            # The whole song: an excerpt as long as its lead line, played at its own tempo.
            whole = MixtureConfig(seconds=float(song.lead.end.max()), tempo_factor_range=(1.0, 1.0), seed=index)
            render_mixtures([song], folder, whole, progress=False)
    return evaluation


def font_rows(work: Path, evaluation: list) -> list[dict]:
    """Per font, the held-out one first: the evaluation songs played by that font alone, separated
    and transcribed; a line as each is done."""
    from corridos.audio import soundfonts, stages
    from corridos.audio.synthesis import HELD_OUT_SPLIT, MixtureConfig, render_mixtures

    rows = []
    for font in sorted(soundfonts.SOUNDFONTS, key=lambda f: not f.held_out):
        mixtures, out = work / "fonts" / font.name, work / "evaluation" / font.name
        split = HELD_OUT_SPLIT if font.held_out else "validation"
        if not (mixtures / "mixtures.json").is_file():
            config = MixtureConfig(soundfonts=(font.name,), validation_fraction=1.0, seed=1)
            render_mixtures(evaluation, mixtures, config, progress=False)
        summary = stages.evaluate(mixtures, work / "separator", out, split=split, progress=False).report
        scores = stages.threshold_scores(mixtures, out, split, progress=False)
        rows.append({"font": font.name, "held_out": font.held_out, **summary, "f1": scores})
        print(f"  {font.name}{' (held out)' if font.held_out else ''}: {json.dumps(rows[-1])}", flush=True)
    return rows


def print_tuning(tuning: list[dict]) -> None:
    from corridos.audio.transcription import TranscriptionConfig

    config, best = TranscriptionConfig(), tuning[0]
    print(
        f"threshold tuning on the training fonts' solo renders ({len(TUNING_ONSETS) * len(TUNING_FRAMES)} pairs): "
        f"best onset {best['onset_threshold']} / frame {best['frame_threshold']} (F1 {best['f1']:.3f}); "
        f"the config holds {config.onset_threshold} / {config.frame_threshold}",
        flush=True,
    )
    for row in tuning[:5]:
        print(f"  onset {row['onset_threshold']:.2f}  frame {row['frame_threshold']:.2f}  F1 {row['f1']:.3f}")


def print_fonts(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    from corridos.audio.stages import threshold_pairs
    from corridos.audio.transcription import TranscriptionConfig

    pairs = threshold_pairs(TranscriptionConfig())
    console = Console(width=160)
    table = Table(title=f"per SoundFont, {rows[0]['mixtures']} mixtures each (songs the separator never heard)")
    table.add_column("font")
    for label, (onset, frame) in pairs.items():
        table.add_column(f"F1 solo\n{label} {onset:g}/{frame:g}", justify="right")
        table.add_column(f"F1 separated\n{label} {onset:g}/{frame:g}", justify="right")
    for column in ("SDR separated", "SDR mixture", "gain dB", "RTF sep.", "RTF transc."):
        table.add_column(column, justify="right")
    for row in rows:
        cells = [f"{row['font']} (HELD OUT)" if row["held_out"] else row["font"]]
        for label in pairs:
            cells += [f"{row['f1'][label]['f1_solo']:.3f}", f"{row['f1'][label]['f1_separated']:.3f}"]
        cells += [
            f"{row['sdr_separated_db']:.2f}",
            f"{row['sdr_mixture_db']:.2f}",
            f"{row['sdr_separated_db'] - row['sdr_mixture_db']:+.2f}",
            f"{row['separation_rtf']:.3f}",
            f"{row['transcription_rtf']:.3f}",
        ]
        table.add_row(*cells)
    console.print(table)


def print_timing(timing: dict) -> None:
    print(f"separation over {timing['files']} excerpts ({timing['audio_seconds']} s of audio), 2 cores:")
    print(f"  real-time factor, model loaded once:   {timing['separation_rtf_loaded_once']:.3f}")
    print(f"  real-time factor, model loaded per file: {timing['separation_rtf_loaded_per_file']:.3f}")
    print(f"  loading once is {timing['separation_speedup']:.1f}x faster (target >= 3x)")
    print(f"transcription real-time factor: {timing['transcription_rtf']:.4f} (target <= 0.05)")
    print(
        f"full-length songs ({timing['full_songs']}: {', '.join(f'{s:.0f} s' for s in timing['full_song_seconds'])}):"
        f" separation RTF {timing['full_separation_rtf']:.3f}, transcription RTF {timing['full_transcription_rtf']:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="../shared/datasets/corridos-midi")
    parser.add_argument("--recordings", default="../shared/recordings/requinto-tutorials")
    parser.add_argument("--work", type=Path, default=Path("runs/bench/audio"))
    parser.add_argument("--train-songs", type=int, default=12)
    parser.add_argument("--eval-songs", type=int, default=4)
    parser.add_argument("--full-songs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.work.resolve()
    if args.measure:
        print(json.dumps(measure(work)))
        return

    from rich.console import Console

    from corridos.audio import stages
    from corridos.audio.bridge import audio_python
    from corridos.cli.audio import recordings_table

    evaluation = prepare(args, work)
    tuning = stages.tune_transcription(work / "mixtures", TUNING_ONSETS, TUNING_FRAMES, progress=False)
    print_tuning(tuning)
    rows = font_rows(work, evaluation)
    done = subprocess.run(
        [str(audio_python()), __file__, "--measure", "--work", str(work)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode != 0:
        raise SystemExit(f"timing run failed:\n{done.stderr[-2000:]}")
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    recordings = stages.report_recordings([args.recordings], work / "recordings", progress=False)
    (work / "benchmark.json").write_text(
        json.dumps({"fonts": rows, "tuning": tuning, "timing": timing, "recordings": recordings.report}, indent=1)
    )
    print_fonts(rows)
    print_timing(timing)
    Console(width=160).print(recordings_table(recordings.report["rows"]))
    for name, reason in recordings.skipped.items():
        print(f"  skipped {name}: {reason}")
    print(f"all figures: {work / 'benchmark.json'}")


if __name__ == "__main__":
    main()
