"""`corridos dataset ...`: build tokenized datasets from MIDI."""

from __future__ import annotations

from pathlib import Path

import typer

from corridos.cli.common import CorridosTyper, overrides

dataset_app = CorridosTyper(no_args_is_help=True, help="Build tokenized datasets from MIDI.")


@dataset_app.command("build")
def dataset_build(
    source: str = typer.Argument(..., help="Folder or s3://bucket/prefix of MIDI files."),
    out: Path | None = typer.Option(None, help="Output folder [default: runs/datasets/<version>]."),
    config: Path | None = typer.Option(None, help="YAML/JSON DatasetConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a config field, e.g. cleaning.min_velocity=30."),
    split_by: str | None = typer.Option(None, help="'song' (default) or 'artist'."),
    validation_fraction: float | None = typer.Option(None, help="Share of notes for validation."),
    test_list: Path | None = typer.Option(None, help="Text file naming the songs held out as test, one a line."),
    seed: int | None = typer.Option(None, help="Split seed."),
    workers: int | None = typer.Option(None, help="Parallel worker processes [default: all cores]."),
) -> None:
    """Parse, clean, de-duplicate, split and tokenize MIDI files into a versioned dataset."""
    from corridos import config as config_io
    from corridos.errors import BadInputError
    from corridos.symbolic.dataset import DatasetConfig, build_dataset

    settings = overrides(set_)
    for key, value in (
        ("split.by", split_by),
        ("split.validation_fraction", validation_fraction),
        ("split.seed", seed),
    ):
        if value is not None:
            settings[key] = value
    if test_list is not None:
        if not test_list.is_file():
            raise BadInputError(str(test_list), "test list not found")
        settings["split.test"] = [line.strip() for line in test_list.read_text().splitlines() if line.strip()]
    dataset_config = config_io.load(DatasetConfig, config, settings)
    result = build_dataset(source, out, dataset_config, workers)
    print_dataset_summary(result.report, result.out_dir)


def print_dataset_summary(summary: dict, path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    files = summary["files"]
    console.print(f"[bold]dataset {summary['version']}[/] at {path}")
    console.print(f"files: {files['total']} found, {files['used']} used, {files['skipped']} skipped")
    for name, reason in summary["skipped"].items():
        console.print(f"  skipped {name}: {reason}")
    groups = summary["duplicate_groups"]
    console.print(f"duplicate groups: {groups['exact']} exact, {groups['near']} near, {groups['title']} same title")
    console.print("keys (music21): " + ", ".join(f"{key} {count}" for key, count in summary["keys"].items()))
    rules = Table(title=f"cleaning ({summary['notes_in']:,} notes in)")
    rules.add_column("after rule")
    rules.add_column("notes left", justify="right")
    rules.add_column("share", justify="right")
    for rule, left in summary["cleaning"].items():
        rules.add_row(rule, f"{left['notes_left']:,}", f"{left['share_left']:.1%}")
    console.print(rules)
    splits = Table(title="splits")
    for column in ("split", "songs", "notes", "tokens", "hours"):
        splits.add_column(column, justify="left" if column == "split" else "right")
    for split, row in summary["splits"].items():
        splits.add_row(split, str(row["songs"]), f"{row['notes']:,}", f"{row['tokens']:,}", f"{row['hours']:.2f}")
    console.print(splits)
