"""`corridos audio ...`: render synthetic mixtures, train the separator, separate, transcribe,
evaluate, report on real recordings. The stages themselves run in the audio env
(corridos.audio.bridge); heavy libraries are imported inside commands, so --help is instant."""

from __future__ import annotations

from pathlib import Path

import typer

from corridos.cli.common import CorridosTyper, overrides
from corridos.manifest import StageResult

audio_app = CorridosTyper(no_args_is_help=True, help="Recordings -> requinto stems -> requinto MIDI.")


def _config(cls, path: Path | None, pairs: list[str]):
    from corridos import config as config_io

    return config_io.load(cls, path, overrides(pairs))


def _print_files(stage: str, result: StageResult, out: Path, inputs: list[str]) -> None:
    """The stage's counts and skipped files; exit 1 (one error line) when no input was usable."""
    typer.echo(f"{stage}: {result.used} used, {len(result.skipped)} skipped -> {out}")
    for name, reason in result.skipped.items():
        typer.echo(f"  skipped {name}: {reason}")
    if not result.used:  # as `dataset build`: a stage that produced nothing failed
        from corridos.errors import BadInputError

        reasons = "; ".join(f"{name}: {reason}" for name, reason in result.skipped.items()) or "no files"
        raise BadInputError(
            " ".join(inputs), f"no usable audio among {len(result.skipped)} file(s); reasons: {reasons}"
        )


@audio_app.command("render")
def render(
    corpus: str = typer.Argument(..., help="Folder or s3:// prefix of MIDI songs."),
    out: Path = typer.Option(..., help="Output folder for the mixtures."),
    songs: int = typer.Option(
        8, help="How many songs: one mixture each, or --set excerpts_per_song=N of each the separator may hear."
    ),
    config: Path | None = typer.Option(None, help="YAML/JSON MixtureConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a MixtureConfig field, e.g. seconds=8."),
    held_out: bool = typer.Option(
        False, "--held-out", help="Draw the held-out font too: its mixtures are split 'test', for evaluation only."
    ),
) -> None:
    """Render synthetic band mixtures (requinto + accompaniment) from corpus songs with FluidSynth,
    SoundFonts and programs drawn per part (--set soundfonts=[timgm6mb] for a held-out set)."""
    import dataclasses

    from corridos.audio.soundfonts import held_out_font
    from corridos.audio.synthesis import HELD_OUT_SPLIT, MixtureConfig, corpus_songs, render_mixtures

    mixture_config = _config(MixtureConfig, config, set_)
    if held_out:
        fonts = (*mixture_config.soundfonts, held_out_font().name)
        mixture_config = dataclasses.replace(mixture_config, soundfonts=fonts)
    result = render_mixtures(
        corpus_songs(corpus, songs, mixture_config.cleaning, mixture_config.seed), out, mixture_config
    )
    splits = [m.split for m in result.mixtures]
    typer.echo(
        f"rendered {len(splits)} mixtures ({splits.count('train')} train, {splits.count('validation')} validation, "
        f"{splits.count(HELD_OUT_SPLIT)} {HELD_OUT_SPLIT} with the held-out font) -> {out}"
    )


@audio_app.command("train-separator")
def train_separator(
    data: Path = typer.Argument(..., help="Rendered mixtures folder (train.csv, validation.csv)."),
    model_dir: Path = typer.Option(..., help="New folder for the model."),
    preset: str = typer.Option("tiny", help="'tiny' (tests and demo), 'cpu' (2 cores, an hour) or 'gpu' (GPU node)."),
    set_: list[str] = typer.Option([], "--set", help="Override a SeparatorTrainingConfig field, e.g. steps=50."),
) -> None:
    """Train a requinto/accompaniment Spleeter model."""
    from corridos.audio import stages

    summary = stages.train_separator(data, model_dir, preset, overrides(set_)).report
    typer.echo(
        f"trained {summary['steps']} steps in {summary['seconds']} s, validation loss "
        f"{summary['validation_loss']:.4f} -> {model_dir}"
    )


@audio_app.command("separate")
def separate(
    inputs: list[str] = typer.Argument(..., help="Audio files, folders or s3:// prefixes."),
    model: str = typer.Option(..., help="Model folder, s3:// URI of one, or spleeter:NAME."),
    out: Path = typer.Option(..., help="Output folder: <song>/<stem>.wav and manifest.json."),
    config: Path | None = typer.Option(None, help="YAML/JSON SeparationConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a field, e.g. limits.max_seconds=600."),
) -> None:
    """Separate recordings into requinto and accompaniment stems (model loaded once)."""
    from corridos.audio import stages
    from corridos.audio.separation import SeparationConfig

    result = stages.separate(inputs, model, out, _config(SeparationConfig, config, set_))
    _print_files("separate", result, out, inputs)


@audio_app.command("transcribe")
def transcribe(
    inputs: list[str] = typer.Argument(..., help="Audio files, folders, s3:// prefixes or separation folders."),
    out: Path = typer.Option(..., help="Output folder: midi/<song>.mid and manifest.json."),
    stem: str = typer.Option("requinto", help="Which stem of a separation folder to transcribe."),
    config: Path | None = typer.Option(None, help="YAML/JSON TranscriptionConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a field, e.g. onset_threshold=0.7."),
) -> None:
    """Transcribe requinto audio to MIDI with Basic Pitch (ONNX); out/midi feeds `dataset build`."""
    from corridos.audio import stages
    from corridos.audio.transcription import TranscriptionConfig

    result = stages.transcribe(inputs, out, _config(TranscriptionConfig, config, set_), stem)
    _print_files("transcribe", result, out, inputs)


@audio_app.command("evaluate")
def evaluate(
    mixtures: Path = typer.Argument(..., help="Rendered mixtures folder."),
    model: str = typer.Option(..., help="Separator model folder or s3:// URI."),
    out: Path = typer.Option(..., help="Output folder: stems, MIDI and evaluation.json."),
    split: str = typer.Option("validation", help="Which mixtures to score."),
    config: Path | None = typer.Option(None, help="YAML/JSON TranscriptionConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a TranscriptionConfig field."),
) -> None:
    """Separator SDR vs the mixture baseline, and transcription F1 solo and after separation."""
    from corridos.audio import stages
    from corridos.audio.transcription import TranscriptionConfig

    summary = stages.evaluate(mixtures, model, out, _config(TranscriptionConfig, config, set_), split).report
    typer.echo(f"{summary['mixtures']} {split} mixtures")
    typer.echo(
        f"separation SDR {summary['sdr_separated_db']:.2f} dB (unprocessed mixture {summary['sdr_mixture_db']:.2f} dB)"
    )
    typer.echo(f"transcription note F1: solo {summary['f1_solo']:.3f}, after separation {summary['f1_separated']:.3f}")
    typer.echo(
        f"real-time factors: separation {summary['separation_rtf']:.3f}, "
        f"transcription {summary['transcription_rtf']:.3f}"
    )


@audio_app.command("report")
def report(
    inputs: list[str] = typer.Argument(..., help="Recordings: audio files, folders or s3:// prefixes."),
    out: Path = typer.Option(Path("runs/audio/report"), help="Output folder for report.json."),
    config: Path | None = typer.Option(None, help="YAML/JSON TranscriptionConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a TranscriptionConfig field."),
) -> None:
    """Transcribe real recordings and print figures that need no labels (notes/s, pitch range,
    notes at the range's edges, in-scale ratio, polyphony, octave jumps), at the configured
    thresholds and at Basic Pitch's own, side by side; report.json holds them all."""
    from rich.console import Console

    from corridos.audio import stages
    from corridos.audio.transcription import TranscriptionConfig

    result = stages.report_recordings(inputs, out, _config(TranscriptionConfig, config, set_))
    Console().print(recordings_table(result.report["rows"]))
    _print_files("report", result, out, inputs)


def recordings_table(rows: list[dict]):
    """A rich Table of report_recordings' rows: one line per file and thresholds."""
    from rich.table import Table

    table = Table(title="transcription of real recordings (no labels: figures, not scores)")
    columns = ("file", "thresholds", "s", "notes/s", "range", "at edges", "in scale", "polyphony", "octave jumps")
    for column in columns:
        table.add_column(column, justify="left" if column in ("file", "thresholds") else "right")
    for row in rows:
        table.add_row(*recordings_row(row))
    return table


def recordings_row(row: dict) -> list[str]:
    """The table's cells of one row: its file (shortened), thresholds and figures."""
    from corridos.tablature.instrument import pitch_name

    defined = row["pitch_low"] is not None
    return [
        row["name"][:24],
        f"{row['thresholds']} {row['onset_threshold']:g}/{row['frame_threshold']:g}",
        f"{row['seconds']:.0f}",
        f"{row['notes_per_second']:.2f}",
        f"{pitch_name(row['pitch_low'])}-{pitch_name(row['pitch_high'])}" if defined else "-",
        f"{row['edge_share']:.1%}" if defined else "-",
        f"{row['in_scale']:.1%}" if defined else "-",
        f"{row['polyphony']:.2f}" if defined else "-",
        f"{row['octave_jumps']:.1%}" if defined else "-",
    ]


@audio_app.command("tune-transcription")
def tune_transcription(
    mixtures: Path = typer.Argument(..., help="Rendered mixtures folder."),
    onsets: str = typer.Option("0.5,0.6,0.7,0.75,0.8,0.9", help="Onset thresholds to try, comma-separated."),
    frames: str = typer.Option("0.3,0.4,0.5,0.6,0.7", help="Frame thresholds to try, comma-separated."),
    split: str = typer.Option("train", help="Which mixtures' solo renders to tune on."),
    top: int = typer.Option(5, help="How many of the best pairs to print."),
) -> None:
    """Note F1 of Basic Pitch on solo requinto renders over a grid of thresholds, best first."""
    from corridos.audio import stages

    onset_grid, frame_grid = _numbers("--onsets", onsets), _numbers("--frames", frames)
    results = stages.tune_transcription(mixtures, onset_grid, frame_grid, split=split)
    for row in results[:top]:
        typer.echo(f"onset {row['onset_threshold']:.2f}  frame {row['frame_threshold']:.2f}  F1 {row['f1']:.3f}")
    typer.echo("set them with `corridos audio transcribe --set onset_threshold=... --set frame_threshold=...`")


def _numbers(option: str, text: str) -> list[float]:
    from corridos.errors import ConfigError

    try:
        return [float(x) for x in text.split(",")]
    except ValueError as error:
        raise ConfigError(f"{option} {text!r}: expected comma-separated numbers") from error
