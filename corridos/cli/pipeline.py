"""`corridos pipeline ...`: run the KFP pipeline locally, compile it, or submit it to a cluster."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from corridos.cli.common import (
    CorridosTyper,
    check_tracking_server,
    decision_line,
    overrides,
    quiet_child_environment,
    stage_line,
)
from corridos.mlops import cluster

pipeline_app = CorridosTyper(no_args_is_help=True, help="Run the pipeline locally, compile it, or submit it to KFP.")

PIPELINE_ARGUMENT_HELP = "Pipeline parameter NAME=VALUE (see `corridos pipeline compile` YAML), repeatable."
IMAGE_REGISTRY_OPTION = typer.Option(
    cluster.DEFAULT_IMAGE_REGISTRY,
    envvar=cluster.IMAGE_REGISTRY_ENV,
    help="Registry (and path) the steps' images are pulled from: REGISTRY/corridos-<job>:TAG.",
)
IMAGE_TAG_OPTION = typer.Option(
    cluster.DEFAULT_IMAGE_TAG, envvar=cluster.IMAGE_TAG_ENV, help="Tag of the steps' images."
)


def _pipeline_in(registry: str, tag: str):
    """The pipeline with its steps in the images REGISTRY/corridos-<job>:TAG."""
    from pipelines.corridos_pipeline import corridos_pipeline_for

    return corridos_pipeline_for(cluster.Images(registry, tag))


@pipeline_app.command("run")
def pipeline_run(
    corpus: str = typer.Option("../shared/datasets/corridos-midi", help="MIDI corpus folder or s3:// prefix."),
    arg: list[str] = typer.Option([], help=PIPELINE_ARGUMENT_HELP),
    runs: Path = typer.Option(Path("runs"), help="Where the local run, its MLflow store and artifacts go."),
) -> None:
    """Run the whole pipeline locally with kfp.local (MLflow: $MLFLOW_TRACKING_URI or runs/mlflow.db).

    One line per task; what the tasks print goes to the run folder's logs/<task>.log. A tracking
    server that does not answer is reported in seconds, before any task starts."""
    check_tracking_server(os.environ.get("MLFLOW_TRACKING_URI", ""))
    from corridos.mlops.kfp_runner import TaskEnd, run_local
    from pipelines.corridos_pipeline import corridos_pipeline

    def report(end: TaskEnd) -> None:
        stage_line(f"pipeline {end.task}", end.seconds, end.succeeded)

    os.environ.update({**quiet_child_environment(), **os.environ})  # the tasks inherit it
    decision = run_local(corridos_pipeline, _arguments(corpus, arg), runs, on_task_end=report)
    typer.echo(decision_line(decision))
    typer.echo(f"artifacts: {runs / 'pipeline'}")


@pipeline_app.command("compile")
def pipeline_compile(
    out: Path = typer.Option(Path("runs/corridos-pipeline.yaml"), help="IR YAML to write."),
    image_registry: str = IMAGE_REGISTRY_OPTION,
    image_tag: str = IMAGE_TAG_OPTION,
) -> None:
    """Write the pipeline's IR YAML, to upload in the KFP UI or submit."""
    from corridos.mlops.kfp_runner import compile_pipeline

    typer.echo(f"wrote {compile_pipeline(_pipeline_in(image_registry, image_tag), out)}")


@pipeline_app.command("submit")
def pipeline_submit(
    host: str = typer.Option(..., help="KFP API server URL, e.g. http://127.0.0.1:8888."),
    corpus: str = typer.Option(..., help="MIDI corpus s3:// prefix, as the cluster sees it."),
    arg: list[str] = typer.Option([], help=PIPELINE_ARGUMENT_HELP),
    experiment: str = typer.Option("corridos"),
    run_name: str | None = typer.Option(None),
    image_registry: str = IMAGE_REGISTRY_OPTION,
    image_tag: str = IMAGE_TAG_OPTION,
) -> None:
    """Compile, upload and start a run on a Kubeflow Pipelines cluster."""
    from corridos.errors import CorridosError
    from corridos.mlops.kfp_runner import submit

    pipeline = _pipeline_in(image_registry, image_tag)
    try:
        run_id = submit(pipeline, host, _arguments(corpus, arg), experiment=experiment, run_name=run_name)
    except Exception as error:  # the KFP client raises many kinds for an unreachable or refusing host
        raise CorridosError(f"{host}: {type(error).__name__}: {error}") from error
    typer.echo(f"run {run_id} started on {host}")


def _arguments(corpus: str, pairs: list[str]) -> dict:
    """The pipeline's arguments: the corpus and the `--arg KEY=VALUE` pairs. The pipeline takes its
    configs (dataset_config, train_config...) as JSON text, so a mapping or list given on the
    command line is passed as that text."""
    import json

    parsed = overrides(pairs)
    return {"corpus_uri": corpus, **{k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in parsed.items()}}
