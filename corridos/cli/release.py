"""`corridos release build|register`: the released generator (`make release-model`, `make demo`)."""

from __future__ import annotations

from pathlib import Path

import typer

from corridos.cli.common import CorridosTyper, overrides
from corridos.constants import CARD_SAMPLES

release_app = CorridosTyper(no_args_is_help=True, help="Train and write the released generator; register it.")


@release_app.command()
def build(
    dataset: Path = typer.Argument(..., help="A dataset folder split by artist (`dataset build --split-by artist`)."),
    preset: str = typer.Option("cpu", help="The TrainConfig preset trained."),
    set_: list[str] = typer.Option([], "--set", help="Override a TrainConfig field, e.g. seed=1."),
    work: Path = typer.Option(Path("runs/release"), help="Folder for training and evaluation; rerun to resume."),
    out: Path = typer.Option(Path("models/released"), help="The release folder (replaced)."),
    samples: int = typer.Option(CARD_SAMPLES, min=1, help="Samples drawn for the sample metrics."),
) -> None:
    """Train the preset (seeded), evaluate it on the validation split, write the model and its card."""
    from corridos.generation.train import preset as train_preset
    from corridos.mlops.release import MODEL_CARD, build_release

    release = build_release(dataset, work, out, train_preset(preset, "transformer", overrides(set_)), samples)
    metrics, training = release.figures["metrics"], release.figures["training"]
    typer.echo(
        f"released: {release.folder}  bits/note {metrics['eval_bits_per_note']:.3f}  "
        f"in-scale {metrics['eval_in_scale_ratio']:.3f}  mean OA {metrics['eval_mean_oa']:.3f}  "
        f"training {training['cpu_minutes']:.1f} CPU min ({training['wall_minutes']:.1f} min wall)  "
        f"card: {release.folder / MODEL_CARD}"
    )


@release_app.command()
def score(
    folder: Path = typer.Argument(Path("models/released"), help="The release folder."),
    dataset: Path = typer.Option(..., help="The dataset it was trained on (its validation split is scored)."),
    compare: list[str] = typer.Option([], help="NAME=PATH: a model scored beside the release, a row of its card."),
    work: Path = typer.Option(Path("runs/release"), help="Folder for the evaluation."),
    samples: int = typer.Option(CARD_SAMPLES, min=1, help="Samples drawn for the sample metrics."),
) -> None:
    """Evaluate the release again, beside other models, and rewrite its card; no training."""
    from corridos.cli.model import named_model
    from corridos.generation.evaluation import quality_table
    from corridos.mlops.release import MODEL_CARD, score_release

    release = score_release(folder, dataset, work, samples, dict(named_model(m) for m in compare))
    table = release.figures["quality"]
    for line in quality_table(table["rows"], table["absent"] or ""):
        typer.echo(line)
    typer.echo(f"card: {release.folder / MODEL_CARD}")


@release_app.command()
def register(
    folder: Path = typer.Argument(Path("models/released"), help="The release folder."),
    dataset: Path = typer.Option(..., help="The dataset whose validation songs the gate scores on."),
) -> None:
    """Register the release as the first champion of a store that has none (through the gate)."""
    from corridos.mlops.release import register_release

    _, message = register_release(folder, dataset)
    typer.echo(message)
