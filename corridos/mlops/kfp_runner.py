"""Running a KFP pipeline: locally with kfp.local (the default), or compiled and sent to a cluster.

The pipeline itself (pipelines/) is passed in: the library does not depend on its definition.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from corridos.constants import DEFAULT_RUNS_DIR


def run_local(pipeline, arguments: dict, runs_dir: Path = DEFAULT_RUNS_DIR) -> dict:
    """Run the whole pipeline in this machine's processes; returns the promotion decision.

    Steps run in subprocesses of this environment (the audio steps still cross into the audio
    env); they inherit MLFLOW_TRACKING_URI, set to the local sqlite store unless already set.
    """
    from kfp import local

    from corridos.mlops import tracking

    os.environ.setdefault("MLFLOW_TRACKING_URI", tracking.local_tracking_uri(runs_dir))
    tracking.configure(runs_dir=runs_dir)
    root = (Path(runs_dir) / "pipeline").resolve()
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    pipeline(**arguments)
    return _decision(root)


def _decision(root: Path) -> dict:
    """The newest run's promotion decision, read from its executor output."""
    outputs = sorted(root.glob("corridos-*/register-and-promote/executor_output.json"), key=lambda p: p.stat().st_mtime)
    if not outputs:
        raise RuntimeError(f"{root}: the pipeline run left no promotion decision")
    return json.loads(json.loads(outputs[-1].read_text())["parameterValues"]["Output"])


def compile_pipeline(pipeline, path: Path) -> Path:
    from kfp import compiler

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline, str(path))
    return path


def submit(
    pipeline,
    host: str,
    arguments: dict,
    package: Path | None = None,
    experiment: str = "corridos",
    run_name: str | None = None,
) -> str:
    """Upload the compiled pipeline to a KFP API server and start a run; returns the run id."""
    import tempfile

    import kfp

    client = kfp.Client(host=host)
    with tempfile.TemporaryDirectory() as folder:
        package = package or compile_pipeline(pipeline, Path(folder) / "corridos.yaml")
        run = client.create_run_from_pipeline_package(
            str(package), arguments=arguments, run_name=run_name, experiment_name=experiment
        )
    return run.run_id
