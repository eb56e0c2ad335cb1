"""Where runs are recorded: MLflow at MLFLOW_TRACKING_URI, or a local sqlite store by default."""

from __future__ import annotations

import os
from pathlib import Path

from corridos.constants import DEFAULT_RUNS_DIR

EXPERIMENT = "corridos"


def local_tracking_uri(runs_dir: Path = DEFAULT_RUNS_DIR) -> str:
    return f"sqlite:///{(Path(runs_dir) / 'mlflow.db').resolve()}"


def tracking_uri(runs_dir: Path = DEFAULT_RUNS_DIR) -> str:
    """The environment's server, or the local store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or local_tracking_uri(runs_dir)


def configure(experiment: str = EXPERIMENT, runs_dir: Path = DEFAULT_RUNS_DIR) -> str:
    """Point MLflow at the environment's server or the local store; returns the tracking URI."""
    import mlflow

    uri = tracking_uri(runs_dir)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=_local_artifact_root(uri))
    mlflow.set_experiment(experiment)
    return uri


def _local_artifact_root(uri: str) -> str | None:
    """Beside a local sqlite store, artifacts go in mlartifacts/ next to the database (MLflow's own
    default is ./mlruns in whatever directory the process started in); a server decides for itself."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()


def flatten(values: dict, prefix: str = "") -> dict[str, object]:
    """{'model': {'layers': 2}} -> {'model.layers': 2}, for MLflow params."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def start_stage_run(stage: str, name: str | None = None, parent_run_id: str | None = None):
    """An MLflow run for one stage: a child of `parent_run_id` (the pipeline run's), else of the
    active run if there is one, else top-level. Use as a context manager."""
    import mlflow

    configure()
    run = mlflow.start_run(
        run_name=name or stage,
        parent_run_id=parent_run_id,
        nested=parent_run_id is None and mlflow.active_run() is not None,
    )
    mlflow.set_tag("stage", stage)
    return run
