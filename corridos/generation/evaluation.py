"""The evaluation stage: generators side by side on the same real songs.

For each model: its likelihood of the songs (a dataset split, or any folder of MIDI cleaned like
the corpus), and how its samples compare with those songs (Yang & Lerch features and sample
statistics). Writes report.json and a comparison plot, and logs one MLflow run per model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from corridos.errors import BadInputError, ConfigError
from corridos.generation.features import compare_sets, excerpt, in_scale_ratio, repetition_ratio
from corridos.generation.likelihood import likelihood
from corridos.generation.sampling import SampleConfig, Sampler
from corridos.symbolic.sequences import NoteArrays, to_arrays
from corridos.symbolic.tokenizer import Vocabulary


@dataclasses.dataclass
class EvaluationConfig:
    split: str = "validation"  # when the data is a dataset folder
    samples: int = 8
    # How the samples are drawn; its `seconds` is also the length of the reference excerpts.
    sampling: SampleConfig = dataclasses.field(default_factory=SampleConfig)
    window: int = 0  # likelihood window in tokens; 0: the model's context

    def __post_init__(self) -> None:
        # Samples are compared per second with excerpts of real songs: fresh pieces of a set length.
        if self.sampling.events is not None or self.sampling.primer is not None:
            raise ConfigError("evaluation samples fresh pieces of sampling.seconds: events and primer do not apply")


def reference_songs(data: str | Path, vocabulary: Vocabulary, split: str = "validation") -> dict[str, np.ndarray]:
    """Token arrays of a dataset split, or of every usable MIDI file in a folder (or s3:// prefix)."""
    from corridos.symbolic.dataset import DATASET_MANIFEST, load_dataset

    if (Path(data) / DATASET_MANIFEST).is_file():
        dataset = load_dataset(data)
        if dataset.vocabulary.to_json() != vocabulary.to_json():
            raise BadInputError(str(data), "its vocabulary differs from the model's")
        return dataset.songs(split)
    return _songs_from_midi(data, vocabulary)


def _songs_from_midi(folder: str | Path, vocabulary: Vocabulary) -> dict[str, np.ndarray]:
    from corridos import storage
    from corridos.symbolic.cleaning import CleaningConfig, clean
    from corridos.symbolic.sequences import from_midi_bytes

    config = CleaningConfig(pitch_min=vocabulary.config.pitch_min, pitch_max=vocabulary.config.pitch_max)
    songs, problems = {}, []
    for uri in storage.list_files(folder):
        name = storage.file_name(uri)
        try:
            result = clean(from_midi_bytes(storage.read_bytes(uri), name), config)
        except BadInputError as error:
            problems.append(str(error))
            continue
        if result.rejected:
            problems.append(f"{name}: {result.rejected}")
            continue
        songs[name] = vocabulary.encode_arrays(result.kept_notes)
    if not songs:
        raise BadInputError(str(folder), f"no usable MIDI to evaluate on; {'; '.join(problems) or 'no files'}")
    return songs


def evaluate_model(model, vocabulary: Vocabulary, songs: dict[str, np.ndarray], config: EvaluationConfig) -> dict:
    """One model: likelihood on `songs`, and its samples compared with them."""
    seconds = config.sampling.seconds
    generated = [to_arrays(s) for s in Sampler(model, vocabulary).generate(config.sampling, config.samples)]
    reference = [excerpt(to_arrays(vocabulary.decode(t)), seconds) for t in songs.values()]
    return {
        "likelihood": likelihood(model, vocabulary, songs, config.window),
        "samples": {
            "in_scale_ratio": float(np.mean([in_scale_ratio(n) for n in generated])),
            "repetition_ratio": float(np.mean([repetition_ratio(n) for n in generated])),
            "reference_in_scale_ratio": float(np.mean([in_scale_ratio(n) for n in reference])),
            "reference_repetition_ratio": float(np.mean([repetition_ratio(n) for n in reference])),
            "notes_per_second": float(np.mean([len(n) / seconds for n in generated])),
        },
        "features": compare_sets(generated, reference),
        "generated": generated,
    }


def minutes_compared(model, vocabulary: Vocabulary, samples: int = 4, seconds: float = 180.0, seed: int = 0) -> dict:
    """Whole-song generation: `samples` pieces of `seconds`, their first and last minute scored
    apart (in-scale and repetition ratios), to show the music holds once it has slid past the
    model's context. Returns {"0-1": {...}, "2-3": {...}} for 180 s (minute labels from the length)."""
    config = SampleConfig(seconds=seconds, seed=seed)
    pieces = [to_arrays(s) for s in Sampler(model, vocabulary).generate(config, samples)]
    last = int(seconds // 60)
    spans = {"0-1": (0.0, 60.0), f"{last - 1}-{last}": (seconds - 60.0, seconds)}
    scores = {}
    for label, (begin, end) in spans.items():
        minutes = [notes.take((notes.start >= begin) & (notes.start < end)) for notes in pieces]
        scores[label] = {
            "in_scale_ratio": float(np.mean([in_scale_ratio(n) for n in minutes])),
            "repetition_ratio": float(np.mean([repetition_ratio(n) for n in minutes])),
            "notes_per_minute": float(np.mean([len(n) for n in minutes])),
        }
    return scores


def summary_metrics(result: dict) -> dict[str, float]:
    """The flat numbers worth a metric in MLflow."""
    metrics = {f"eval_{k}": float(v) for k, v in result["likelihood"].items()}
    metrics.update({f"eval_{k}": v for k, v in result["samples"].items()})
    for name, values in result["features"].items():
        metrics[f"eval_{name}_oa"] = values["overlapped_area"]
        metrics[f"eval_{name}_kld"] = values["kl_divergence"]
    metrics["eval_mean_oa"] = float(np.mean([v["overlapped_area"] for v in result["features"].values()]))
    return metrics


def write_report(results: dict[str, dict], out_dir: Path) -> Path:
    """report.json with every model's numbers, and comparison plots beside it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {name: {k: v for k, v in r.items() if k != "generated"} for name, r in results.items()}
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=1))
    _comparison_plot(report, out_dir / "comparison.png")
    return path


def _comparison_plot(report: dict[str, dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report)
    panels = [
        ("NLL per event (nats)", lambda r: r["likelihood"]["nll_per_event"]),
        ("mean overlapped area", lambda r: np.mean([v["overlapped_area"] for v in r["features"].values()])),
        ("in-scale ratio", lambda r: r["samples"]["in_scale_ratio"]),
        ("repetition ratio", lambda r: r["samples"]["repetition_ratio"]),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.5))
    for axis, (title, value) in zip(axes, panels):
        axis.bar(names, [value(report[n]) for n in names], color="#b5472f")
        axis.set_title(title, fontsize=10)
        axis.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def evaluate(
    models: dict[str, str],
    data: str | Path,
    out_dir: str | Path,
    config: EvaluationConfig = EvaluationConfig(),
    log_to_mlflow: bool = True,
    parent_run_id: str | None = None,
) -> dict[str, dict]:
    """Evaluate named models (folders or MLflow URIs) side by side on the same data.

    Writes report.json, comparison.png and each model's samples under out_dir; with MLflow on,
    one run per model holding its metrics, samples and the shared report.
    """
    from corridos.mlops import packaging

    out = Path(out_dir)
    results = {}
    for name, reference in models.items():
        model, vocabulary = packaging.load(reference)
        songs = reference_songs(data, vocabulary, config.split)
        results[name] = evaluate_model(model, vocabulary, songs, config)
        results[name]["model"] = str(reference)
        for index, notes in enumerate(results[name].pop("generated")):
            packaging.write_sample(_sequence(notes), out / name / f"sample-{index}")
    report = write_report(results, out)
    if log_to_mlflow:
        _log_runs(results, out, report, parent_run_id)
    return results


def _sequence(notes: NoteArrays):
    from corridos.symbolic.sequences import from_arrays

    return from_arrays(notes)


def _log_runs(results: dict[str, dict], out: Path, report: Path, parent_run_id: str | None) -> None:
    import mlflow

    from corridos.mlops import tracking

    for name, result in results.items():
        with tracking.start_stage_run("evaluate", f"evaluate-{name}", parent_run_id):
            mlflow.set_tag("model", result["model"])
            mlflow.log_metrics(summary_metrics(result))
            mlflow.log_artifact(str(report))
            mlflow.log_artifact(str(out / "comparison.png"), "plots")
            mlflow.log_artifacts(str(out / name), "samples")
