"""The evaluation stage: generators side by side on the same real songs.

For each model: its likelihood of the songs (a dataset split, or any folder of MIDI cleaned like
the corpus), and how its samples compare with those songs: Yang & Lerch features, sample
statistics, a classifier two-sample test (C2ST AUC: 0.5 = indistinguishable from the songs) and
the 8-gram copy rate against the training songs. Two reference rows frame the models: real songs
of the train split against the same songs (the ceiling) and an order-2 Markov chain trained on the
train split (the baseline). Writes report.json, quality.json (the table) and plots, and logs one
MLflow run per model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from corridos.errors import BadInputError, ConfigError
from corridos.generation.features import compare_sets, excerpt, in_scale_ratio, repetition_ratio
from corridos.generation.likelihood import likelihood
from corridos.generation.memorization import COPY_NGRAM
from corridos.generation.sampling import SampleConfig, Sampler
from corridos.symbolic.keys import key_match_rate
from corridos.symbolic.sequences import NoteArrays, to_arrays
from corridos.symbolic.tokenizer import Vocabulary

BASELINE, CEILING = "markov-baseline", "real-vs-real"


@dataclasses.dataclass
class EvaluationConfig:
    split: str = "validation"  # when the data is a dataset folder
    # 16, not 8: with 8 generated windows the C2ST's spread was +-0.09 and a 400-step model scored
    # like real songs; with 16, +-0.025 (docs/FACTS.md). The promotion gate decides on these figures.
    samples: int = 16
    # How the samples are drawn; its `seconds` is also the length of the reference excerpts.
    sampling: SampleConfig = dataclasses.field(default_factory=SampleConfig)
    window: int = 0  # likelihood window in tokens; 0: the model's context
    c2st_seeds: int = 3  # cross-validation draws of the two-sample test; its spread is over these
    copy_ngram: int = COPY_NGRAM  # melody notes per n-gram of the copy rate
    markov_order: int = 2

    def __post_init__(self) -> None:
        # Samples are compared per second with excerpts of real songs: fresh pieces of a set length.
        if self.sampling.events is not None or self.sampling.primer is not None:
            raise ConfigError("evaluation samples fresh pieces of sampling.seconds: events and primer do not apply")


def reference_songs(data: str | Path, vocabulary: Vocabulary, split: str = "validation") -> dict[str, np.ndarray]:
    """Token arrays of a dataset split (in `vocabulary`, re-encoded when the dataset has another that
    encodes the same music), or of every usable MIDI file in a folder (or s3:// prefix)."""
    from corridos.symbolic.dataset import DATASET_MANIFEST, load_dataset

    if (Path(data) / DATASET_MANIFEST).is_file():
        dataset = load_dataset(data)
        return songs_in(dataset.songs(split), dataset.vocabulary, vocabulary, str(data))
    return _songs_from_midi(data, vocabulary)


def songs_in(songs: dict[str, np.ndarray], source: Vocabulary, target: Vocabulary, where: str) -> dict[str, np.ndarray]:
    """Token arrays in `source`'s vocabulary re-encoded in `target`'s (as they are when the two are
    the same); BadInputError naming the song (`where`: the songs' folder) when `target` cannot
    encode one exactly."""
    if source.to_json() == target.to_json():
        return songs
    return {name: _reencoded(tokens, source, target, f"{where}: {name}") for name, tokens in songs.items()}


def _reencoded(tokens: np.ndarray, source: Vocabulary, target: Vocabulary, where: str) -> np.ndarray:
    """A song of a dataset in another model's vocabulary, when that encodes it exactly: decoded
    back and re-encoded in the dataset's vocabulary, it gives the same events (so bits per note
    measure the same music; a coarser time step would drop timing and read lower). BadInputError
    naming the song otherwise."""
    key, events = source.split_key(tokens)
    notes = source.decode_arrays(events)
    try:
        encoded = target.encode_song(notes, source.song_key(tokens) if len(key) else None)
    except ValueError as error:
        raise BadInputError(where, f"the model's vocabulary cannot encode it ({error})") from error
    if not np.array_equal(source.encode_arrays(target.decode_arrays(encoded)), events):
        raise BadInputError(
            where,
            f"the model's time step {target.config.step_seconds:g} s does not encode its timing exactly "
            f"(the dataset's step is {source.config.step_seconds:g} s): evaluate on data of the model's vocabulary",
        )
    return encoded


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
        songs[name] = vocabulary.encode_song(result.kept_notes)
    if not songs:
        raise BadInputError(str(folder), f"no usable MIDI to evaluate on; {'; '.join(problems) or 'no files'}")
    return songs


@dataclasses.dataclass
class RealSongs:
    """The real music every row is measured against: the reference songs (whole, their tokens in
    `vocabulary`, and their middle excerpts as long as a sample), and the training songs when
    known (else `absent` says why)."""

    reference_tokens: dict[str, np.ndarray]
    vocabulary: Vocabulary
    reference: list[NoteArrays]
    excerpts: list[NoteArrays]
    training_tokens: list[np.ndarray] | None
    training_vocabulary: Vocabulary | None
    training: list[NoteArrays] = dataclasses.field(default_factory=list)  # decoded once, for the copy rate
    absent: str = ""


def real_songs(
    data: str | Path, training: str | Path | None, vocabulary: Vocabulary, config: EvaluationConfig
) -> RealSongs:
    """The reference songs of `data`, and the train split of `training` (default: of `data`, when
    it is a dataset folder)."""
    from corridos.symbolic.dataset import DATASET_MANIFEST, load_dataset

    tokens = reference_songs(data, vocabulary, config.split)
    reference = [vocabulary.decode_arrays(t) for t in tokens.values()]
    excerpts = [excerpt(notes, config.sampling.seconds) for notes in reference]
    heard = (tokens, vocabulary, reference, excerpts)
    source = training or (data if (Path(data) / DATASET_MANIFEST).is_file() else None)
    if source is None:
        reason = f"{data} is a MIDI folder, not a dataset: give the training dataset (--training) for these rows"
        return RealSongs(*heard, None, None, absent=reason)
    dataset = load_dataset(source)
    songs = [t for t in dataset.songs("train").values() if len(t)]
    if not songs:
        return RealSongs(*heard, None, None, absent=f"{source} has no songs in its train split")
    training_notes = [dataset.vocabulary.decode_arrays(t) for t in songs]
    return RealSongs(*heard, songs, dataset.vocabulary, training_notes)


def score_samples(generated: list[NoteArrays], real: RealSongs, config: EvaluationConfig) -> dict:
    """What the samples of one row are worth: sample statistics and Yang & Lerch features against
    the reference excerpts, the C2ST against the reference songs, the copy rate against training."""
    from corridos.generation.c2st import c2st_auc
    from corridos.generation.memorization import copy_rate

    seconds = config.sampling.seconds
    c2st = c2st_auc(generated, real.reference, seeds=config.c2st_seeds, seconds=seconds)
    return {
        "samples": {
            "in_scale_ratio": float(np.mean([in_scale_ratio(n) for n in generated])),
            "repetition_ratio": float(np.mean([repetition_ratio(n) for n in generated])),
            "reference_in_scale_ratio": float(np.mean([in_scale_ratio(n) for n in real.excerpts])),
            "reference_repetition_ratio": float(np.mean([repetition_ratio(n) for n in real.excerpts])),
            "notes_per_second": float(np.mean([len(n) / seconds for n in generated])),
        },
        "features": compare_sets(generated, real.excerpts),
        "c2st": dataclasses.asdict(c2st),
        "copy_rate": copy_rate(generated, real.training, config.copy_ngram) if real.training else None,
    }


def evaluate_model(
    model, vocabulary: Vocabulary, songs: dict[str, np.ndarray], real: RealSongs, config: EvaluationConfig
) -> dict:
    """One model: likelihood on `songs`, and its samples scored against the real songs."""
    pieces, key_report = sample_pieces(Sampler(model, vocabulary), songs, config)
    generated = [to_arrays(s) for s in pieces]
    scores = score_samples(generated, real, config)
    scores["samples"].update(key_report)
    return {"likelihood": likelihood(model, vocabulary, songs, config.window), **scores, "generated": generated}


def sample_pieces(sampler: Sampler, songs: dict[str, np.ndarray], config: EvaluationConfig) -> tuple[list, dict]:
    """The samples, and with a model that takes a key, how often each piece is in the key it was
    asked for: sample i asks for the key of reference song i (cycling), as real requests would.
    Beside it, the same rate for the reference songs' own excerpts (as long as a sample) against
    their songs' keys: music21 hears a 30 s excerpt of a real song in its song's key only about
    two times in three (docs/FACTS.md), so that is the level a model is measured against."""
    vocabulary = sampler.vocabulary
    if not vocabulary.config.key_tokens:
        return sampler.generate(config.sampling, config.samples), {}
    song_keys = [vocabulary.song_key(t) for t in songs.values()]
    asked = [song_keys[i % len(song_keys)] for i in range(config.samples)]
    configs = [
        dataclasses.replace(config.sampling, seed=config.sampling.seed + i, key=k.name) for i, k in enumerate(asked)
    ]
    pieces = sampler.generate_each(configs)
    written = [k.transposed(config.sampling.transpose) for k in asked]
    excerpts = [excerpt(vocabulary.decode_arrays(t), config.sampling.seconds) for t in songs.values()]
    return pieces, {
        "key_match_rate": key_match_rate([to_arrays(p) for p in pieces], written),
        "reference_key_match_rate": key_match_rate(excerpts, song_keys),
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


def reference_rows(real: RealSongs, config: EvaluationConfig) -> dict[str, dict]:
    """The ceiling (as many real training excerpts as samples, one per song) and the baseline (an
    order-2 Markov chain of the train split), scored like a model's samples; none without
    training songs. The ceiling's copy rate is the reference excerpts': real songs sharing
    phrases, since a training excerpt is trivially in the training songs."""
    from corridos.generation.c2st import windows
    from corridos.generation.markov import MarkovChain
    from corridos.generation.memorization import copy_rate

    if real.training_tokens is None or real.training_vocabulary is None:
        return {}
    seconds = config.sampling.seconds
    rng = np.random.default_rng(config.sampling.seed)
    chosen = rng.choice(len(real.training), min(config.samples, len(real.training)), replace=False)
    excerpts = []
    for index in chosen.tolist():
        parts = windows(real.training[index], seconds)
        excerpts.append(parts[int(rng.integers(len(parts)))])
    chain = MarkovChain.fit(real.training_tokens, config.markov_order)
    markov = chain.generate(real.training_vocabulary, seconds, config.samples, config.sampling.seed)
    ceiling = score_samples(excerpts, real, config)
    ceiling["copy_rate"] = copy_rate(real.excerpts, real.training, config.copy_ngram)
    return {BASELINE: score_samples(markov, real, config), CEILING: ceiling}


def mean_oa(result: dict) -> float:
    return float(np.mean([v["overlapped_area"] for v in result["features"].values()]))


def quality_rows(results: dict[str, dict], references: dict[str, dict]) -> list[dict]:
    """The table: the baseline, the ceiling, then each model (bits per note for models only)."""
    rows = []
    for name, result in {**references, **results}.items():
        rows.append(
            {
                "name": name,
                "kind": "model" if name in results else name,
                "bits_per_note": result["likelihood"]["bits_per_note"] if "likelihood" in result else None,
                "mean_oa": mean_oa(result),
                "in_scale_ratio": result["samples"]["in_scale_ratio"],
                "repetition_ratio": result["samples"]["repetition_ratio"],
                "copy_rate": result["copy_rate"],
                "c2st_auc": result["c2st"]["auc"],
                "c2st_spread": result["c2st"]["spread"],
            }
        )
    return rows


def quality_table(rows: list[dict], absent: str = "") -> list[str]:
    """The table as console lines; `absent` says why the baseline, ceiling and copy rates are not there."""

    def cell(value: float | None, width: int, digits: int) -> str:
        return f"{'—' if value is None else f'{value:.{digits}f}':>{width}}"

    lines = [f"{'':<16}{'bits/note':>10}{'mean OA':>9}{'in-scale':>9}{'repetition':>11}{'copy':>7}  C2ST AUC"]
    for row in rows:
        lines.append(
            f"{row['name']:<16}{cell(row['bits_per_note'], 10, 2)}{cell(row['mean_oa'], 9, 3)}"
            f"{cell(row['in_scale_ratio'], 9, 2)}{cell(row['repetition_ratio'], 11, 3)}{cell(row['copy_rate'], 7, 3)}"
            f"  {row['c2st_auc']:.3f} ± {row['c2st_spread']:.3f}"
        )
    if absent:
        lines.append(f"no {BASELINE}, {CEILING} or copy rates: {absent}")
    return lines


def summary_metrics(result: dict) -> dict[str, float]:
    """The flat numbers worth a metric in MLflow."""
    metrics = {f"eval_{k}": float(v) for k, v in result["likelihood"].items()}
    metrics.update({f"eval_{k}": v for k, v in result["samples"].items()})
    for name, values in result["features"].items():
        metrics[f"eval_{name}_oa"] = values["overlapped_area"]
        metrics[f"eval_{name}_kld"] = values["kl_divergence"]
    metrics["eval_mean_oa"] = mean_oa(result)
    metrics["eval_c2st_auc"] = result["c2st"]["auc"]
    metrics["eval_c2st_spread"] = result["c2st"]["spread"]
    if result["copy_rate"] is not None:
        metrics["eval_copy_rate"] = result["copy_rate"]
    return metrics


def write_report(results: dict[str, dict], out_dir: Path, rows: list[dict] | None = None, absent: str = "") -> Path:
    """report.json with every model's numbers, quality.json with the table's rows (and why the
    reference rows are absent, if they are), and plots beside them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {name: {k: v for k, v in r.items() if k != "generated"} for name, r in results.items()}
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=1))
    _comparison_plot(report, out_dir / "comparison.png")
    if rows is not None:
        (out_dir / "quality.json").write_text(json.dumps({"rows": rows, "absent": absent or None}, indent=1))
        _quality_plot(rows, out_dir / "quality.png")
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


def _quality_plot(rows: list[dict], path: Path) -> Path:
    """C2ST AUC (with its spread) and copy rate of each row, the baseline and ceiling drawn across."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {BASELINE: "#888888", CEILING: "#2f7d4a", "model": "#b5472f"}
    names = [row["name"] for row in rows][::-1]
    figure, axes = plt.subplots(1, 2, figsize=(10, 0.5 * len(rows) + 1.8), sharey=True)
    for axis, (key, title) in zip(
        axes, [("c2st_auc", "C2ST AUC (0.5: as real as the songs)"), ("copy_rate", "8-gram copy rate")]
    ):
        values = [row[key] if row[key] is not None else np.nan for row in rows][::-1]
        errors = [row["c2st_spread"] for row in rows][::-1] if key == "c2st_auc" else None
        axis.barh(names, values, xerr=errors, color=[colours[row["kind"]] for row in rows][::-1])
        for row in rows:
            if row["kind"] != "model" and row[key] is not None:
                axis.axvline(row[key], color=colours[row["kind"]], linestyle="--", linewidth=1)
        axis.set_title(title, fontsize=10)
    axes[0].set_xlim(0.4, 1.0)
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
    training: str | Path | None = None,
) -> dict[str, dict]:
    """Evaluate named models (folders or MLflow URIs) side by side on the same data, between the
    Markov baseline and the real-vs-real ceiling of `training`'s train split (default: `data`'s,
    when it is a dataset).

    Returns each model's result. Writes report.json, quality.json (the table's rows, and why the
    reference rows are absent when they are), the plots and each model's samples under out_dir;
    with MLflow on, one run per model holding its metrics, samples, report and table.
    """
    from corridos.mlops import packaging
    from corridos.symbolic.dataset import DATASET_MANIFEST, load_dataset

    taken = {BASELINE, CEILING} & set(models)
    if taken:
        raise ConfigError(f"model name {', '.join(sorted(taken))} is a reference row's; name the model otherwise")
    out = Path(out_dir)
    loaded = {name: packaging.load(reference) for name, reference in models.items()}
    dataset = training or (data if (Path(data) / DATASET_MANIFEST).is_file() else None)
    if dataset is not None:
        vocabulary = load_dataset(dataset).vocabulary
    elif loaded:
        vocabulary = next(iter(loaded.values()))[1]
    else:
        raise ConfigError("nothing to evaluate: no model, and no dataset to draw the reference rows from")
    real = real_songs(data, training, vocabulary, config)
    results = {}
    for name, (model, model_vocabulary) in loaded.items():
        songs = reference_songs(data, model_vocabulary, config.split)
        results[name] = evaluate_model(model, model_vocabulary, songs, real, config)
        results[name]["model"] = str(models[name])
        generated = results[name].pop("generated")
        for index, notes in enumerate(generated):
            packaging.write_sample(_sequence(notes), out / name / f"sample-{index}")
        write_sample_tab(generated[0], out / name / "tab")
    rows = quality_rows(results, reference_rows(real, config))
    report = write_report(results, out, rows, real.absent)

    if log_to_mlflow:
        _log_runs(results, out, report, parent_run_id)
    return results


def _sequence(notes: NoteArrays):
    from corridos.symbolic.sequences import from_arrays

    return from_arrays(notes)


# What a player reads of a sample in MLflow's artifact view (text and a picture; the train image,
# where this stage runs in the cluster, has matplotlib but not music21 or PyGuitarPro).
SAMPLE_TAB_FORMATS = ("ascii", "png")


def write_sample_tab(notes: NoteArrays, folder: Path) -> list[Path]:
    """The requinto tab of a sample, into `folder` (logged with the samples)."""
    from corridos.tablature.files import write_tabs

    return write_tabs(_sequence(notes), folder / "sample-0", SAMPLE_TAB_FORMATS)[1]


def _log_runs(results: dict[str, dict], out: Path, report: Path, parent_run_id: str | None) -> None:
    import mlflow

    from corridos.mlops import tracking

    for name, result in results.items():
        with tracking.start_stage_run("evaluate", f"evaluate-{name}", parent_run_id):
            mlflow.set_tag("model", result["model"])
            mlflow.log_metrics(summary_metrics(result))
            mlflow.log_artifact(str(report))
            mlflow.log_artifact(str(out / "quality.json"))
            mlflow.log_artifact(str(out / "comparison.png"), "plots")
            mlflow.log_artifact(str(out / "quality.png"), "plots")
            mlflow.log_artifacts(str(out / name), "samples")
