"""The whole pipeline, run locally with kfp.local against a real MLflow server (PostgreSQL, S3)."""

import json

import boto3
import mlflow
import pytest

from corridos import storage
from corridos.mlops import registry
from corridos.mlops.kfp_runner import run_local
from corridos.symbolic.sequences import write_midi
from pipelines.corridos_pipeline import corridos_pipeline
from tests.helpers import band

TINY = {
    "epochs": 1,
    "steps_per_epoch": 6,
    "model.hidden_dim": 32,
    "model.embedding_dim": 16,
    "model.layers": 1,
    "model.heads": 2,
    "model.context": 64,
    "sequence_length": 64,
    "sample_seconds": 2.0,
}


@pytest.mark.slow
def test_pipeline_runs_end_to_end_against_mlflow_server(mlflow_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    corpus = f"s3://{mlflow_server.bucket}/corpus"
    for seed in range(8):
        path = write_midi(band(seed, count=150), tmp_path / "corpus" / f"Artist {seed % 3} - Song {seed}.mid")
        storage.write_bytes(f"{corpus}/{path.name}", path.read_bytes())

    arguments = dict(
        corpus_uri=corpus,
        synthetic_songs=2,
        mixture_config=json.dumps({"seconds": 8.0}),
        separator_preset="tiny",
        separator_overrides=json.dumps({"steps": 2}),
        fan_out=1,
        model_family="wavenet",
        preset="tiny",
        train_overrides=json.dumps(TINY),
        evaluation_samples=2,
        model_name="pipeline-test-generator",
        dataset_config=json.dumps({"split": {"validation_fraction": 0.3}}),
    )
    decision = run_local(corridos_pipeline, arguments, tmp_path / "runs")

    # a WaveNet trained for 6 steps must not become the first champion: it loses to the Markov baseline
    assert decision["candidate_version"] == "1" and not decision["promoted"], decision
    assert decision["opponent"] == registry.MARKOV_BASELINE and decision["candidate"]["c2st_auc"] > 0.5
    assert any(reason.startswith(f"does not beat {registry.MARKOV_BASELINE}") for reason in decision["reasons"])
    assert registry.current_champion("pipeline-test-generator") is None

    parents = mlflow.search_runs(
        experiment_names=["corridos"], filter_string="tags.stage = 'pipeline'", output_format="list"
    )
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["kfp_run_id"]
    children = mlflow.search_runs(
        experiment_names=["corridos"],
        output_format="list",
        filter_string=f"tags.mlflow.parentRunId = '{parents[0].info.run_id}'",
    )
    assert {c.data.tags["stage"] for c in children} == {"dataset", "train", "evaluate", "promote"}

    # the dataset merged the corpus and the transcriptions of the separated synthetic mixtures
    dataset_run = next(c for c in children if c.data.tags["stage"] == "dataset")
    manifest = json.loads(
        open(mlflow.artifacts.download_artifacts(f"runs:/{dataset_run.info.run_id}/manifest.json")).read()
    )
    assert len(manifest["source"]) == 2 and manifest["source"][0] == corpus

    keys = [
        o["Key"]
        for page in boto3.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=mlflow_server.bucket, Prefix=f"{mlflow_server.prefix}/")
        for o in page.get("Contents", [])
    ]
    assert any(k.endswith("/MLmodel") for k in keys)  # the registered generator
    assert any(k.endswith("plots/loss_curve.png") for k in keys)
    assert any(k.endswith("report.json") for k in keys)
