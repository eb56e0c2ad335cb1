from kfp.dsl import Dataset, Input, Metrics, Model, Output


def train(
    dataset: Input[Dataset], family: str, preset: str, overrides: str, parent_run_id: str, model: Output[Model]
) -> str:
    """Train a generator; returns its MLflow run id (the run holds the logged model)."""
    from corridos import config as config_io
    from corridos.generation import train as training

    config = training.preset(preset, family, config_io.json_object(overrides, "train_overrides"))
    result = training.train(dataset.path, model.path, config, progress=False, parent_run_id=parent_run_id)
    return result.run_id


def evaluate(
    dataset: Input[Dataset],
    model: Input[Model],
    family: str,
    samples: int,
    parent_run_id: str,
    report: Output[Dataset],
    metrics: Output[Metrics],
):
    """Likelihood on the validation split and Yang & Lerch metrics of samples against it."""
    from pathlib import Path

    from corridos.generation import evaluation

    config = evaluation.EvaluationConfig(samples=samples)
    results = evaluation.evaluate(
        {family: str(Path(model.path) / "model")}, dataset.path, report.path, config, parent_run_id=parent_run_id
    )
    for name, value in evaluation.summary_metrics(results[family]).items():
        metrics.log_metric(name, value)


def register_and_promote(
    run_id: str, dataset: Input[Dataset], margin_bits_per_note: float, model_name: str, parent_run_id: str
) -> str:
    """Register the trained generator and let the gate decide whether it becomes the champion.
    A margin the gate refuses (negative, NaN) fails this step before anything is registered."""
    import dataclasses
    import json

    import mlflow

    from corridos.mlops import registry, tracking

    config = registry.PromotionConfig(margin_bits_per_note=margin_bits_per_note, model_name=model_name)
    version = registry.register(run_id, model_name)
    decision = registry.promote(version, registry.songs_from_dataset(dataset.path, config), config)
    with tracking.start_stage_run("promote", "register-and-promote", parent_run_id):
        mlflow.set_tags({"model_version": version, "promoted": str(decision.promoted)})
        mlflow.log_dict(dataclasses.asdict(decision), "decision.json")
    return json.dumps(dataclasses.asdict(decision))
