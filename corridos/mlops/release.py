"""The released generator: trained reproducibly, evaluated on the validation artists, committed
with its model card, and registered as the first champion of a store that has none.

    build_release(dataset, work, out)      # `make release-model`: train, evaluate, write out/
    register_release(out, dataset)         # `make demo`: the store's first champion, through the gate

The release folder is a saved model folder (`corridos generate models/released` loads it, and so
does the pyfunc packaging) with MODEL_CARD.md and release.json beside the weights.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

from corridos import storage
from corridos.constants import CARD_SAMPLES
from corridos.errors import ConfigError, ModelError
from corridos.generation.train import TRAIN_CONFIG, TrainConfig
from corridos.mlops.cluster import REGISTERED_MODEL_NAME

RELEASE_DIR = Path("models/released")
RELEASE_JSON = "release.json"
MODEL_CARD = "MODEL_CARD.md"
MAX_RELEASE_BYTES = 20 * 2**20  # the committed folder's limit
REPRODUCE = "make release-model"
RELEASE_ROW = "released"  # the release's name in its card's table
RESCORE = "make release-families"  # trains the other families, re-scores the card with their rows


@dataclasses.dataclass
class Release:
    folder: Path
    figures: dict


def build_release(
    dataset_dir: str | Path,
    work_dir: str | Path,
    out_dir: str | Path,
    config: TrainConfig,
    samples: int = CARD_SAMPLES,
    compare: dict[str, str] | None = None,
) -> Release:
    """Train `config` on the dataset (seeded, no MLflow), write the model to out_dir (replaced), and
    score it there (`score_release`)."""
    from corridos.generation.train import train

    work, out = Path(work_dir), Path(out_dir)
    load_before = os.getloadavg()[0]
    began_wall, began_cpu = time.monotonic(), time.process_time()
    trained = train(dataset_dir, work / "train", config, log_to_mlflow=False)
    training = {
        "wall_minutes": (time.monotonic() - began_wall) / 60,
        "cpu_minutes": (time.process_time() - began_cpu) / 60,
        "cpu_cores": os.cpu_count(),
        "load_average_at_start": load_before,
        "epochs_run": trained.epochs_run,
        "steps_run": trained.epochs_run * config.steps_per_epoch,
        "best_validation_loss": trained.best_validation_loss,
    }
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(trained.model_dir, out)
    return score_release(out, dataset_dir, work, samples, compare, training)


def score_release(
    folder: str | Path,
    dataset_dir: str | Path,
    work_dir: str | Path,
    samples: int = CARD_SAMPLES,
    compare: dict[str, str] | None = None,
    training: dict | None = None,
) -> Release:
    """Evaluate the release folder on the dataset's validation split, beside the `compare` models
    (NAME -> folder or MLflow URI: their rows join the card's table), and write its release.json
    and MODEL_CARD.md. `training`: how it was trained, by default what its release.json says, so
    that a release can be re-scored without training it again."""
    from corridos.generation import evaluation
    from corridos.generation.sampling import SampleConfig, Sampler
    from corridos.mlops import packaging
    from corridos.symbolic.dataset import load_dataset

    folder, work = Path(folder), Path(work_dir)
    if RELEASE_ROW in (compare or {}):
        raise ConfigError(f"model name {RELEASE_ROW} is the release's own row; name the compared model otherwise")
    if training is None:
        if not (folder / RELEASE_JSON).is_file():
            raise ModelError(f"{folder}: no {RELEASE_JSON} to take the training figures from; build the release")
        training = json.loads((folder / RELEASE_JSON).read_text())["training"]
    results = evaluation.evaluate(
        {RELEASE_ROW: str(folder), **(compare or {})},
        dataset_dir,
        work / "evaluation",
        evaluation.EvaluationConfig(samples=samples),
        log_to_mlflow=False,
    )
    model, vocabulary = packaging.load(folder)
    dataset = load_dataset(dataset_dir)
    manifest_path = Path(dataset_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    quality = work / "evaluation" / "quality.json"  # the table's rows: baseline, ceiling, the models
    sampler = Sampler(model, vocabulary)
    figures = {
        "metrics": evaluation.summary_metrics(results[RELEASE_ROW]),
        "quality": json.loads(quality.read_text()) if quality.is_file() else None,
        "compared": compare or {},
        "minutes": evaluation.minutes_compared(model, vocabulary),
        "key_guidance": sampler.key_guidance(SampleConfig()),
        "key_candidates": sampler.key_candidates(SampleConfig()),
        "training": training,
        "config": json.loads((folder / TRAIN_CONFIG).read_text()),
        "data": {
            "version": manifest["version"],
            "manifest_sha256": storage.sha256_hex(manifest_path.read_bytes()),
            "split": manifest["config"]["split"],
            "validation_artists": _artists(manifest, "validation"),
            "songs": {split: len(dataset.songs(split)) for split in ("train", "validation")},
            "vocabulary": {"size": vocabulary.size, **dataclasses.asdict(vocabulary.config)},
        },
        "code_version": manifest.get("code_version"),
    }
    (folder / RELEASE_JSON).write_text(json.dumps(figures, indent=1))
    (folder / MODEL_CARD).write_text(model_card(figures))
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    if size > MAX_RELEASE_BYTES:
        raise ModelError(
            f"{folder}: {size / 2**20:.1f} MB, over the release limit of {MAX_RELEASE_BYTES / 2**20:.0f} MB"
        )
    return Release(folder, figures)


def _artists(manifest: dict, split: str) -> list[str]:
    from corridos.symbolic.splits import artist_of

    return sorted({artist_of(f["name"]) for f in manifest["files"] if f.get("split") == split})


def model_card(figures: dict) -> str:
    """MODEL_CARD.md from release.json's figures."""
    data, training, config = figures["data"], figures["training"], figures["config"]
    words = data["vocabulary"]
    model = config["model"]
    metrics = "\n".join(f"| {name} | {value:.4g} |" for name, value in sorted(figures["metrics"].items()))
    quality = ""
    if figures.get("quality"):
        from corridos.generation.evaluation import quality_table

        table = "\n".join(quality_table(figures["quality"]["rows"], figures["quality"]["absent"] or ""))
        compared = "".join(f"\n- {name}: `{where}`" for name, where in figures.get("compared", {}).items())
        if compared:
            compared = (
                f"\n\nThe other rows are models scored beside it (`{RESCORE}` trains each family with"
                f" issue 11's 3,000-step tiny recipe and scores them so):{compared}"
            )
        quality = f"""
The quality table of `benchmarks/quality.py` (an order-2 Markov chain of the train split as the
baseline, real training songs as the ceiling; C2ST AUC 0.5 = indistinguishable from the
validation songs).{compared}

```
{table}
```
"""
    minutes = "\n".join(
        f"| {label} | {s['in_scale_ratio']:.3f} | {s['repetition_ratio']:.3f} | {s['notes_per_minute']:.0f} |"
        for label, s in figures["minutes"].items()
    )
    return f"""# corridos generator: the released champion

A decoder-only transformer ({model["layers"]} layers, width {model["hidden_dim"]}, {model["heads"]} heads,
rotary positions, a {model["context"]}-event context that slides for longer pieces) that writes the
requinto line of a corrido tumbado as note events. Trained on 2 CPU cores with the `cpu` preset
(`corridos/generation/train.py`), seed {config["seed"]}.

## Data
- Dataset version `{data["version"]}` (manifest sha256 `{data["manifest_sha256"]}`), built from the
  corpus `../shared/datasets/corridos-midi` with the split {json.dumps(data["split"])}.
- Songs: {data["songs"]["train"]} for training, {data["songs"]["validation"]} for validation, all by
  artists that training never saw: {", ".join(data["validation_artists"])}.
- Vocabulary: {words["size"]} tokens, pitches {words["pitch_min"]}-{words["pitch_max"]}, time shifts of
  {words["step_seconds"]} s up to {words["max_shift_seconds"]} s.
- The corpus is piano transcriptions of whole band recordings, cleaned to a top-voice requinto line
  (see the dataset's manifest): the model learns that line, bleed and transcription errors included.

## Training
- {training["epochs_run"]} epochs ({training["steps_run"]} steps of {config["batch_size"]} windows of
  {config["sequence_length"]} events), early stopping on validation loss (patience {config["patience"]}),
  AdamW (learning rate {config["learning_rate"]}, weight decay {config["weight_decay"]}), dropout
  {model["dropout"]}, random transposition up to {config["transpose"]} semitones, the key token
  replaced by the any-key token in a share {model.get("key_dropout", 0.0)} of windows (key dropout).
- Time: {training["wall_minutes"]:.1f} min wall, {training["cpu_minutes"]:.1f} min of CPU, on
  {training["cpu_cores"]} cores (load average {training["load_average_at_start"]:.1f} when it started:
  the wall time is inflated when the machine is shared).
- Best validation loss {training["best_validation_loss"]:.4f} nats per event.

## Metrics on the validation artists
Likelihood over the validation songs (windows of the model's context), samples drawn with the
default sampling settings (`SampleConfig`; key guidance {figures.get("key_guidance", 1.0):g}, each piece
the first of {figures.get("key_candidates", 1)} candidates heard in the key asked for) against
excerpts of the same songs:

| metric | value |
| --- | --- |
{metrics}
{quality}
Whole-song generation (180 s pieces, the first and the last minute scored apart):

| minutes | in-scale ratio | repetition ratio | notes |
| --- | --- | --- | --- |
{minutes}

## Reproduce
```bash
{REPRODUCE}   # builds the artist-split dataset, trains, evaluates, rewrites this folder
```
Code version at dataset build: `{figures.get("code_version")}`.

## Use
```bash
.venv/bin/corridos generate models/released --seconds 30 --seed 7
.venv/bin/corridos generate models/released --key "A minor" --key-candidates 1   # one plain piece, not chosen by key
```
`make demo` registers this folder as the first champion of the local MLflow registry.
"""


def register_release(
    folder: str | Path, dataset_dir: str | Path, model_name: str = REGISTERED_MODEL_NAME
) -> tuple[str | None, str]:
    """Log the release folder as a pyfunc generator, register it and put it through the promotion
    gate, when the store has no champion yet. Returns (version or None, what happened)."""
    import mlflow

    from corridos.mlops import packaging, registry, tracking

    tracking.configure()
    current = registry.current_champion(model_name)  # ModelError when the registry cannot be read
    if current is not None:
        return None, f"the store already has a champion (version {current.version}): the release is not registered"
    folder = Path(folder)
    with tracking.start_stage_run("release", "register-release") as run:
        mlflow.set_tags({"model_family": "transformer", "release": str(folder)})
        figures = json.loads((folder / RELEASE_JSON).read_text())
        mlflow.log_metrics({k: v for k, v in figures["metrics"].items() if isinstance(v, float)})
        packaging.log(folder)
        run_id = run.info.run_id
    version = registry.register(run_id, model_name)
    config = registry.PromotionConfig(model_name=model_name)
    decision = registry.promote(version, registry.songs_from_dataset(dataset_dir, config), config)
    verdict = "promoted" if decision.promoted else "refused"
    return (
        version,
        f"released model registered as {model_name} version {version}: {verdict} ({'; '.join(decision.reasons)})",
    )
