"""`corridos train|generate|evaluate`: the generator's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from corridos.cli.common import CorridosTyper, overrides

# Light (NumPy only): the options' defaults and bounds are read when the CLI starts.
from corridos.generation.sampling import SETTINGS
from corridos.tablature.files import GENERATED_FORMATS

model_app = CorridosTyper()


def _sample_option(name: str) -> Any:
    """A `generate` option whose default, bounds and help are SampleConfig's field `name`'s (a
    strict bound such as top_p > 0 is left to SampleConfig, which refuses the value)."""
    setting = SETTINGS[name]
    low = setting.bounds.get("ge", setting.bounds.get("gt"))
    return typer.Option(setting.default, min=low, max=setting.bounds.get("le"), help=setting.description)


@model_app.command()
def train(
    dataset: Path = typer.Argument(..., help="A dataset folder made by `corridos dataset build`."),
    family: str = typer.Option("transformer", help="lstm, wavenet or transformer."),
    preset: str = typer.Option("tiny", help="tiny (CPU, minutes), cpu (the released model) or base (GPU, JAX)."),
    set_: list[str] = typer.Option([], "--set", help="Override a TrainConfig field, e.g. epochs=10."),
    out: Path | None = typer.Option(None, help="Output folder [default: runs/train/<family>]; rerun to resume."),
    mlflow: bool = typer.Option(True, help="Log the run and the model to MLflow."),
) -> None:
    """Train a generator on a dataset's train split, early-stopping on its validation split."""
    from corridos.generation import train as training

    config = training.preset(preset, family, overrides(set_))
    result = training.train(dataset, out or Path("runs/train") / family, config, log_to_mlflow=mlflow)
    typer.echo(
        f"model: {result.model_dir}  epochs: {result.epochs_run}  best val loss: {result.best_validation_loss:.4f}"
        + (f"  mlflow run: {result.run_id}" if result.run_id else "")
    )


@model_app.command()
def generate(
    model: str = typer.Argument(..., help="A model folder or MLflow URI, e.g. models:/corridos-generator@champion."),
    out: Path = typer.Option(Path("runs/generated"), help="Output folder."),
    seconds: float = _sample_option("seconds"),
    events: int | None = _sample_option("events"),
    temperature: float = _sample_option("temperature"),
    top_k: int = _sample_option("top_k"),
    top_p: float = _sample_option("top_p"),
    seed: int = _sample_option("seed"),
    samples: int = typer.Option(1, min=1),
    primer: Path | None = typer.Option(None, help=SETTINGS["primer"].description),
    transpose: int = _sample_option("transpose"),
    key: str | None = _sample_option("key"),
    key_guidance: float = _sample_option("key_guidance"),
    key_candidates: int | None = _sample_option("key_candidates"),
    audio: bool = typer.Option(True, help="Render a WAV with FluidSynth (nylon guitar)."),
    tab: list[str] = typer.Option(
        list(GENERATED_FORMATS),
        "--tab",
        help="Requinto tab formats written beside each MIDI (musicxml, gp5, ascii, png, svg; repeat); 'none': no tab.",
    ),
    capo: int = typer.Option(0, help="The tabs' capo fret (0-7): frets count from it."),
) -> None:
    """Generate music: MIDI, a piano-roll PNG, a WAV and requinto tabs per sample."""
    from corridos.generation.sampling import SampleConfig, Sampler
    from corridos.mlops import packaging
    from corridos.symbolic.keys import key_signature
    from corridos.tablature.files import format_names, write_tabs
    from corridos.tablature.instrument import REQUINTO

    tab_formats = [] if tab == ["none"] else format_names(tab)
    REQUINTO.check_capo(capo)  # before the model loads: a bad capo costs nothing

    config = SampleConfig(
        seconds=seconds,
        events=events,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        primer=str(primer) if primer else None,
        transpose=transpose,
        key=key,
        key_guidance=key_guidance,
        key_candidates=key_candidates,
    )
    pieces = Sampler(*packaging.load(model)).generate(config, samples)
    for index, piece in enumerate(pieces):
        stem = out / f"piece-seed{seed}-{index}"
        paths = packaging.write_sample(piece, stem, audio=audio) + write_tabs(piece, stem, tab_formats, capo=capo)[1]
        key_written = key_signature(piece)
        written_in = f" in {key_written.name}" if key_written else ""
        typer.echo(f"{len(piece.notes)} notes, {piece.total_time:.1f} s{written_in}: " + ", ".join(map(str, paths)))


@model_app.command()
def evaluate(
    data: str = typer.Argument(..., help="A dataset folder (its split is used) or any folder/s3:// prefix of MIDI."),
    model: list[str] = typer.Option(..., help="NAME=REF or REF (a model folder or MLflow URI); repeat to compare."),
    training: Path | None = typer.Option(
        None,
        help="The dataset whose train split gives the baseline, ceiling and copy-rate rows "
        "[default: DATA, when it is a dataset].",
    ),
    out: Path = typer.Option(
        Path("runs/evaluation"), help="Output folder for report.json, quality.json, plots, samples."
    ),
    set_: list[str] = typer.Option([], "--set", help="Override an EvaluationConfig field, e.g. samples=16."),
    mlflow: bool = typer.Option(True, help="Log one MLflow run per model."),
) -> None:
    """Likelihood on real songs; samples against them (Yang & Lerch, C2ST AUC, copy rate), between
    an order-2 Markov baseline and real songs as the ceiling."""
    import json

    from corridos import config as config_io
    from corridos.generation.evaluation import EvaluationConfig, quality_table
    from corridos.generation.evaluation import evaluate as run_evaluation

    named = dict(named_model(m) for m in model)
    config = config_io.load(EvaluationConfig, None, overrides(set_))
    run_evaluation(named, data, out, config, log_to_mlflow=mlflow, training=training)
    table = json.loads((out / "quality.json").read_text())
    for line in quality_table(table["rows"], table["absent"] or ""):
        typer.echo(line)
    typer.echo(f"report: {out / 'report.json'}, table: {out / 'quality.json'}, plot: {out / 'quality.png'}")


def named_model(option: str) -> tuple[str, str]:
    """'NAME=REF' -> (NAME, REF); a bare REF is named after its folder."""
    if "=" in option:
        name, reference = option.split("=", 1)
        return name, reference
    return Path(option).parent.name or option, option
