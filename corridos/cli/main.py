"""The `corridos` command line. Heavy libraries are imported inside commands, so --help is instant."""

from __future__ import annotations

from pathlib import Path

import typer

from corridos.cli.audio import audio_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="corridos: learn to write corridos tumbados.")
dataset_app = typer.Typer(no_args_is_help=True, help="Build tokenized datasets from MIDI.")
app.add_typer(dataset_app, name="dataset")
app.add_typer(audio_app, name="audio")
pipeline_app = typer.Typer(no_args_is_help=True, help="Run the pipeline locally, compile it, or submit it to KFP.")
app.add_typer(pipeline_app, name="pipeline")

PIPELINE_ARGUMENT_HELP = "Pipeline parameter NAME=VALUE (see `corridos pipeline compile` YAML), repeatable."


def _pipeline_arguments(pairs: list[str]) -> dict:
    from corridos.config import parse_override

    return dict(parse_override(p) for p in pairs)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _overrides(pairs: list[str]) -> dict:
    from corridos.config import parse_override

    return dict(parse_override(p) for p in pairs)


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
    from corridos.symbolic.dataset import DatasetConfig, DatasetError, build_dataset

    overrides = _overrides(set_)
    for key, value in (
        ("split.by", split_by),
        ("split.validation_fraction", validation_fraction),
        ("split.seed", seed),
    ):
        if value is not None:
            overrides[key] = value
    if test_list is not None:
        if not test_list.is_file():
            _fail(f"{test_list}: test list not found")
        overrides["split.test"] = [line.strip() for line in test_list.read_text().splitlines() if line.strip()]
    try:
        dataset_config = config_io.load(DatasetConfig, config, overrides)
        result = build_dataset(source, out, dataset_config, workers)
    except (DatasetError, config_io.ConfigError, ValueError) as error:
        _fail(str(error))
    print_dataset_summary(result.summary, result.path)


@app.command()
def train(
    dataset: Path = typer.Argument(..., help="A dataset folder made by `corridos dataset build`."),
    family: str = typer.Option("transformer", help="lstm, wavenet or transformer."),
    preset: str = typer.Option("tiny", help="tiny (CPU, minutes) or base (GPU)."),
    set_: list[str] = typer.Option([], "--set", help="Override a TrainConfig field, e.g. epochs=10."),
    out: Path | None = typer.Option(None, help="Output folder [default: runs/train/<family>]; rerun to resume."),
    mlflow: bool = typer.Option(True, help="Log the run and the model to MLflow."),
) -> None:
    """Train a generator on a dataset's train split, early-stopping on its validation split."""
    from corridos.config import ConfigError
    from corridos.generation import train as training

    try:
        config = training.preset(preset, family, _overrides(set_))
        result = training.train(dataset, out or Path("runs/train") / family, config, log_to_mlflow=mlflow)
    except (ConfigError, ValueError, FileNotFoundError) as error:
        _fail(str(error))
    typer.echo(
        f"model: {result.model_dir}  epochs: {result.epochs_run}  best val loss: {result.best_validation_loss:.4f}"
        + (f"  mlflow run: {result.run_id}" if result.run_id else "")
    )


@app.command()
def generate(
    model: str = typer.Argument(..., help="A model folder or MLflow URI, e.g. models:/corridos-generator@champion."),
    out: Path = typer.Option(Path("runs/generated"), help="Output folder."),
    seconds: float = typer.Option(30.0, min=0.1, help="Length of new music."),
    events: int | None = typer.Option(None, min=1, help="Length in events instead of seconds."),
    temperature: float = typer.Option(1.0, min=0.0),
    top_k: int = typer.Option(0, min=0, help="0: no top-k."),
    top_p: float = typer.Option(0.95, min=0.0, max=1.0),
    seed: int = typer.Option(0, help="Same seed, same music."),
    samples: int = typer.Option(1, min=1),
    primer: Path | None = typer.Option(None, help="A MIDI file to continue."),
    transpose: int = typer.Option(0, help="Semitones applied to the output."),
    audio: bool = typer.Option(True, help="Render a WAV with FluidSynth (nylon guitar)."),
) -> None:
    """Generate music: MIDI, a piano-roll PNG and a WAV per sample."""
    from corridos.generation.sampling import PrimerError, SampleConfig, Sampler
    from corridos.mlops import packaging

    config = SampleConfig(
        seconds=seconds,
        events=events,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        primer=str(primer) if primer else None,
        transpose=transpose,
    )
    try:
        pieces = Sampler(*packaging.load(model)).generate(config, samples)
    except (PrimerError, FileNotFoundError, ValueError) as error:
        _fail(str(error))
    for index, piece in enumerate(pieces):
        paths = packaging.write_sample(piece, out / f"piece-seed{seed}-{index}", audio=audio)
        typer.echo(f"{len(piece.notes)} notes, {piece.total_time:.1f} s: " + ", ".join(map(str, paths)))


@app.command()
def evaluate(
    data: str = typer.Argument(..., help="A dataset folder (its split is used) or any folder/s3:// prefix of MIDI."),
    model: list[str] = typer.Option(..., help="NAME=REF or REF (a model folder or MLflow URI); repeat to compare."),
    out: Path = typer.Option(Path("runs/evaluation"), help="Output folder for report.json, plots and samples."),
    set_: list[str] = typer.Option([], "--set", help="Override an EvaluationConfig field, e.g. samples=16."),
    mlflow: bool = typer.Option(True, help="Log one MLflow run per model."),
) -> None:
    """NLL, bits per note and perplexity on real songs; Yang & Lerch metrics of samples against them."""
    from corridos import config as config_io
    from corridos.generation.evaluation import EvaluationConfig
    from corridos.generation.evaluation import evaluate as run_evaluation

    named = dict(m.split("=", 1) if "=" in m else (Path(m).parent.name or m, m) for m in model)
    try:
        config = config_io.load(EvaluationConfig, None, _overrides(set_))
        results = run_evaluation(named, data, out, config, log_to_mlflow=mlflow)
    except (config_io.ConfigError, FileNotFoundError, ValueError) as error:
        _fail(str(error))
    for name, result in results.items():
        likelihood, samples = result["likelihood"], result["samples"]
        oa = sum(v["overlapped_area"] for v in result["features"].values()) / len(result["features"])
        typer.echo(
            f"{name}: nll/event {likelihood['nll_per_event']:.3f}  bits/note {likelihood['bits_per_note']:.2f}  "
            f"perplexity {likelihood['perplexity']:.2f}  mean OA {oa:.3f}  "
            f"in-scale {samples['in_scale_ratio']:.2f}  repetition {samples['repetition_ratio']:.2f}"
        )
    typer.echo(f"report: {out / 'report.json'}")


@pipeline_app.command("run")
def pipeline_run(
    corpus: str = typer.Option("../shared/datasets/corridos-midi", help="MIDI corpus folder or s3:// prefix."),
    arg: list[str] = typer.Option([], help=PIPELINE_ARGUMENT_HELP),
    runs: Path = typer.Option(Path("runs"), help="Where the local run, its MLflow store and artifacts go."),
) -> None:
    """Run the whole pipeline locally with kfp.local (MLflow: $MLFLOW_TRACKING_URI or runs/mlflow.db)."""
    from corridos.mlops.kfp_runner import run_local

    decision = run_local({"corpus_uri": corpus, **_pipeline_arguments(arg)}, runs)
    verdict = "promoted to champion" if decision["promoted"] else "not promoted"
    typer.echo(f"model version {decision['candidate_version']}: {verdict} ({'; '.join(decision['reasons'])})")
    typer.echo(f"artifacts: {runs / 'pipeline'}")


@pipeline_app.command("compile")
def pipeline_compile(out: Path = typer.Option(Path("runs/corridos-pipeline.yaml"), help="IR YAML to write.")) -> None:
    """Write the pipeline's IR YAML, to upload in the KFP UI or submit."""
    from corridos.mlops.kfp_runner import compile_pipeline

    typer.echo(f"wrote {compile_pipeline(out)}")


@pipeline_app.command("submit")
def pipeline_submit(
    host: str = typer.Option(..., help="KFP API server URL, e.g. http://127.0.0.1:8888."),
    corpus: str = typer.Option(..., help="MIDI corpus s3:// prefix, as the cluster sees it."),
    arg: list[str] = typer.Option([], help=PIPELINE_ARGUMENT_HELP),
    experiment: str = typer.Option("corridos"),
    run_name: str | None = typer.Option(None),
) -> None:
    """Compile, upload and start a run on a Kubeflow Pipelines cluster."""
    from corridos.mlops.kfp_runner import submit

    try:
        run_id = submit(
            host, {"corpus_uri": corpus, **_pipeline_arguments(arg)}, experiment=experiment, run_name=run_name
        )
    except Exception as error:  # the KFP client raises many kinds for an unreachable or refusing host
        _fail(f"{host}: {type(error).__name__}: {error}")
    typer.echo(f"run {run_id} started on {host}")


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
