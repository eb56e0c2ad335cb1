from kfp.dsl import Dataset, Input, Output


def build_dataset(
    corpus_uri: str, transcriptions: Input[list[Dataset]], config: str, parent_run_id: str, dataset: Output[Dataset]
) -> str:
    """The corpus MIDI and every transcription, cleaned, de-duplicated, split and tokenized."""
    import json
    from pathlib import Path

    import mlflow

    from corridos import config as config_io
    from corridos.mlops import tracking
    from corridos.symbolic.dataset import DatasetConfig
    from corridos.symbolic.dataset import build_dataset as build

    sources = [corpus_uri] + [str(Path(t.path) / "midi") for t in transcriptions if (Path(t.path) / "midi").is_dir()]
    settings = config_io.from_dict(DatasetConfig, config_io.json_object(config, "dataset_config"), "dataset_config")
    result = build(sources, dataset.path, settings, progress=False)
    with tracking.start_stage_run("dataset", "dataset", parent_run_id):
        mlflow.set_tag("dataset_version", result.report["version"])
        mlflow.log_dict(result.report, "summary.json")
        mlflow.log_artifact(str(Path(dataset.path) / "manifest.json"))
        mlflow.log_artifacts(str(Path(dataset.path) / "pianorolls"), "pianorolls")
        for split, row in result.report["splits"].items():
            mlflow.log_metrics({f"{split}_{key}": value for key, value in row.items()})
    return json.dumps(result.report["files"])
