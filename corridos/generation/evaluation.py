"""Evaluating generators: likelihood on real songs, and how generated music compares with them.

Likelihood: NLL per event, bits per note and perplexity on any folder of MIDI (cleaned like the
corpus) or a dataset split. Samples: the objective metrics of Yang & Lerch (2018), "On the
evaluation of generative models in music": per-piece features, then for each feature the
overlapped area (OA) and KL divergence between the generated set's intra-set distances and the
generated-vs-reference inter-set distances (OA near 1 and KLD near 0: the samples vary the way
they differ from real songs, i.e. they sit inside the reference distribution). Plus the in-scale
ratio and the repetition ratio, which catches degenerate loops.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from corridos.errors import BadInputError, ConfigError
from corridos.symbolic.sequences import NoteArrays, to_arrays
from corridos.symbolic.tokenizer import BOS, Vocabulary

NOTE_LENGTH_BINS = np.array([0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, np.inf])
MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])
REPETITION_NGRAM = 8


@dataclasses.dataclass
class EvaluationConfig:
    split: str = "validation"  # when the data is a dataset folder
    samples: int = 8
    sample_seconds: float = 30.0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 0.95
    seed: int = 0
    window: int = 0  # likelihood window in tokens; 0: the model's context


# ---- likelihood


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


def likelihood(
    model, vocabulary: Vocabulary, songs: dict[str, np.ndarray], window: int = 0, batch_size: int = 32
) -> dict[str, float]:
    """NLL per event (nats), bits per note (note-ons) and perplexity over all songs.

    Songs are cut into consecutive windows, each starting fresh, as in validation during training.
    """
    from keras import ops

    window = window or model.config.context
    inputs, targets = [], []
    for tokens in songs.values():
        song = np.concatenate([[BOS], tokens]).astype(np.int32)
        for start in range(0, len(song) - 1, window):
            piece = song[start : start + window + 1]
            inputs.append(np.pad(piece[:-1], (0, window + 1 - len(piece))))
            targets.append(np.pad(piece[1:], (0, window + 1 - len(piece)), constant_values=-1))
    inputs, targets = np.stack(inputs), np.stack(targets)
    total = 0.0
    for start in range(0, len(inputs), batch_size):
        logits = ops.convert_to_numpy(model(inputs[start : start + batch_size])).astype(np.float64)
        log_probs = logits - _logsumexp(logits)
        batch_targets = targets[start : start + batch_size]
        valid = batch_targets >= 0
        picked = np.take_along_axis(log_probs, np.maximum(batch_targets, 0)[..., None], axis=-1)[..., 0]
        total -= picked[valid].sum()
    events = int((targets >= 0).sum())
    notes = int(vocabulary.is_note_on(targets[targets >= 0]).sum())
    nll = total / events
    return {
        "nll_per_event": nll,
        "bits_per_note": total / np.log(2) / max(notes, 1),
        "perplexity": float(np.exp(nll)),
        "events": events,
        "notes": notes,
    }


def _logsumexp(logits: np.ndarray) -> np.ndarray:
    top = logits.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


# ---- sample features (Yang & Lerch 2018)


def features(notes: NoteArrays) -> dict[str, np.ndarray]:
    """The per-piece features of Yang & Lerch, computed over the whole piece (there are no bars)."""
    pitch = notes.pitch.astype(np.int64)
    classes = pitch % 12
    histogram = np.bincount(classes, minlength=12) / max(len(pitch), 1)
    transitions = np.zeros((12, 12))
    np.add.at(transitions, (classes[:-1], classes[1:]), 1)
    transitions /= max(transitions.sum(), 1)
    onsets = np.unique(notes.start)
    lengths = np.histogram(notes.end - notes.start, NOTE_LENGTH_BINS)[0] / max(len(pitch), 1)
    return {
        "pitch_count": np.array(len(np.unique(pitch)), float),
        "pitch_class_histogram": histogram,
        "pitch_class_transition_matrix": transitions,
        "pitch_range": np.array(np.ptp(pitch) if len(pitch) else 0, float),
        "average_pitch_interval": np.array(np.abs(np.diff(pitch)).mean() if len(pitch) > 1 else 0, float),
        "note_count": np.array(len(pitch), float),
        "average_inter_onset_interval": np.array(np.diff(onsets).mean() if len(onsets) > 1 else 0, float),
        "note_length_histogram": lengths,
    }


def in_scale_ratio(notes: NoteArrays) -> float:
    """Share of notes inside the best-fitting major or minor scale."""
    counts = np.bincount(notes.pitch.astype(np.int64) % 12, minlength=12)
    best = max(counts[(scale + tonic) % 12].sum() for scale in (MAJOR_SCALE, MINOR_SCALE) for tonic in range(12))
    return float(best / max(counts.sum(), 1))


def repetition_ratio(notes: NoteArrays, n: int = REPETITION_NGRAM) -> float:
    """Share of (pitch, rhythm) n-grams that repeat an earlier one: near 1 for a stuck loop."""
    if len(notes) <= n:
        return 0.0
    onsets_ms = np.round(np.diff(notes.start, append=notes.end[-1]) * 100).astype(np.int64)
    events = list(zip(notes.pitch.tolist(), onsets_ms.tolist()))
    grams = [tuple(events[i : i + n]) for i in range(len(events) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams)


def excerpt(notes: NoteArrays, seconds: float) -> NoteArrays:
    """The middle `seconds` of a song, so features that grow with length compare like with like."""
    if not len(notes):
        return notes
    middle = (notes.start.min() + notes.end.max()) / 2
    inside = notes.take((notes.start >= middle - seconds / 2) & (notes.start < middle + seconds / 2))
    offset = inside.start.min() if len(inside) else 0.0
    return NoteArrays(inside.start - offset, inside.end - offset, inside.pitch, inside.velocity)


def compare_sets(generated: list[NoteArrays], reference: list[NoteArrays]) -> dict[str, dict[str, float]]:
    """For each feature: means of both sets, and OA and KLD of intra(generated) vs inter distances."""
    if len(generated) < 2 or len(reference) < 1:
        raise ConfigError("comparing sets needs at least 2 generated pieces and 1 reference piece")
    generated_features = [features(n) for n in generated]
    reference_features = [features(n) for n in reference]
    report = {}
    for name in generated_features[0]:
        ours = np.stack([f[name].ravel() for f in generated_features])
        theirs = np.stack([f[name].ravel() for f in reference_features])
        intra = _pairwise(ours, ours, same=True)
        inter = _pairwise(ours, theirs, same=False)
        report[name] = {
            # a mean says something for scalar features only (a histogram's mean is always 1/bins)
            **(
                {"generated_mean": float(ours.mean()), "reference_mean": float(theirs.mean())}
                if ours.shape[1] == 1
                else {}
            ),
            "overlapped_area": overlapped_area(intra, inter),
            "kl_divergence": kl_divergence(intra, inter),
        }
    return report


def _pairwise(first: np.ndarray, second: np.ndarray, same: bool) -> np.ndarray:
    distances = np.linalg.norm(first[:, None, :] - second[None, :, :], axis=-1)
    if same:
        return distances[np.triu_indices(len(first), k=1)]
    return distances.ravel()


def _densities(first: np.ndarray, second: np.ndarray, points: int = 512):
    from scipy.stats import gaussian_kde

    low = min(first.min(), second.min())
    high = max(first.max(), second.max())
    spread = max(high - low, 1e-6)
    grid = np.linspace(low - 0.25 * spread, high + 0.25 * spread, points)

    def density(values):
        # A set of identical distances has no spread: jitter it by a hair so a KDE exists.
        if np.ptp(values) < 1e-9 or len(values) < 2:
            values = np.concatenate([values, values + 1e-3 * spread])
        return gaussian_kde(values)(grid)

    return grid, density(first), density(second)


def overlapped_area(first: np.ndarray, second: np.ndarray) -> float:
    grid, p, q = _densities(first, second)
    return float(np.trapezoid(np.minimum(p, q), grid))


def kl_divergence(first: np.ndarray, second: np.ndarray) -> float:
    grid, p, q = _densities(first, second)
    p, q = p + 1e-12, q + 1e-12
    return float(np.trapezoid(p * np.log(p / q), grid))


# ---- the stage


def evaluate_model(model, vocabulary: Vocabulary, songs: dict[str, np.ndarray], config: EvaluationConfig) -> dict:
    """One model: likelihood on `songs`, and its samples compared with them."""
    from corridos.generation.sampling import SampleConfig, Sampler

    sampler = Sampler(model, vocabulary)
    sample_config = SampleConfig(
        seconds=config.sample_seconds,
        temperature=config.temperature,
        top_k=config.top_k,
        top_p=config.top_p,
        seed=config.seed,
    )
    generated = [to_arrays(s) for s in sampler.generate(sample_config, config.samples)]
    reference = [excerpt(to_arrays(vocabulary.decode(t)), config.sample_seconds) for t in songs.values()]
    return {
        "likelihood": likelihood(model, vocabulary, songs, config.window),
        "samples": {
            "in_scale_ratio": float(np.mean([in_scale_ratio(n) for n in generated])),
            "repetition_ratio": float(np.mean([repetition_ratio(n) for n in generated])),
            "reference_in_scale_ratio": float(np.mean([in_scale_ratio(n) for n in reference])),
            "reference_repetition_ratio": float(np.mean([repetition_ratio(n) for n in reference])),
            "notes_per_second": float(np.mean([len(n) / config.sample_seconds for n in generated])),
        },
        "features": compare_sets(generated, reference),
        "generated": generated,
    }


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
