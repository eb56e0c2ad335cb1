"""The training stage: a dataset folder in, a trained generator (saved and logged to MLflow) out.

Random windows of the training songs each epoch, each starting with its song's key token, transposed
at random within the requinto range (the key token with the notes), a share of them with the any-key
token in its place (`ModelConfig.key_dropout`);
AdamW with warm-up and cosine decay; early stopping on validation loss; a backup every epoch so an
interrupted run resumes where it stopped; seeded.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import keras
import numpy as np

from corridos import config as config_io
from corridos import storage
from corridos.errors import BadInputError
from corridos.generation.models import ModelConfig, build_model, save_model
from corridos.symbolic.tokenizer import BOS, PAD, Vocabulary

TRAIN_CONFIG = "train.json"


@dataclasses.dataclass
class TrainConfig:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    sequence_length: int = 256
    batch_size: int = 32
    epochs: int = 30
    steps_per_epoch: int = 200
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    patience: int = 4  # epochs without a better validation loss before stopping
    transpose: int = 5  # augmentation: up to this many semitones either way, inside the range
    seed: int = 0
    sample_seconds: float = 20.0  # length of the samples logged after training
    # 0: none. Else training ends at the first epoch end past this many minutes of fitting, with
    # the best epoch's weights, so that a preset fits a machine's budget whatever its speed.
    time_limit_minutes: float = 0.0
    # XLA for the training step: always on a GPU and under JAX; with TensorFlow on a CPU only where
    # a preset says so, since compiling costs tens of seconds, more than a test's or the demo's
    # whole training.
    xla_on_cpu: bool = False


# `tiny` trains in minutes on 2 CPU cores (demo, tests). `cpu` is the released model's: the best
# found for 2 CPU cores by validation metrics on unseen artists (docs/FACTS.md, "Training on 2
# CPU cores"), a longer context than tiny's so that a phrase can be repeated from a verse ago, and
# as many steps as fit the hour (it was still improving at 2,000, and at 6,000): XLA makes a step
# twice as fast here, so twice the windows a step. `base` is for one GPU with
# KERAS_BACKEND=jax (mixed bfloat16 and XLA there), a 1,024-event context (about a minute of
# music); of the two sizes trained on an H200 (docs/FACTS.md, "Training on a GPU"), this one beat
# the wider, deeper one (256 wide, 6 layers, dropout 0.2: early-stopped at 2,600 steps, copy rate
# 0.071) on every measure, the corpus being small (0.7M training events) for either.
PRESETS = {
    "tiny": dict(
        model=dict(embedding_dim=64, hidden_dim=96, layers=2, heads=4, context=128, dropout=0.1, key_dropout=0.1),
        sequence_length=128,
        batch_size=16,
        epochs=4,
        steps_per_epoch=40,
        warmup_steps=20,
        patience=2,
        sample_seconds=10.0,
    ),
    # 512 events (about 25 s of music) a window: the same events a step as 16 x 256, 37% more time
    # a step, and a model that holds a song's style longer (docs/FACTS.md, "The corpus's time grid").
    # 3 layers of 128: the same validation loss as 2 of 96 in the hour, but samples a classifier
    # tells from real songs less often (docs/FACTS.md, "A deeper release"); 48 epochs fit the hour.
    "cpu": dict(
        model=dict(embedding_dim=128, hidden_dim=128, layers=3, heads=4, context=512, dropout=0.1, key_dropout=0.1),
        sequence_length=512,
        batch_size=8,
        epochs=48,
        steps_per_epoch=100,
        warmup_steps=100,
        patience=10,
        sample_seconds=10.0,
        time_limit_minutes=55.0,
        xla_on_cpu=True,
    ),
    "base": dict(
        model=dict(embedding_dim=192, hidden_dim=192, layers=4, heads=4, context=1024, dropout=0.3, key_dropout=0.1),
        sequence_length=1024,
        batch_size=32,
        epochs=60,
        steps_per_epoch=100,
        learning_rate=6e-4,
        warmup_steps=500,
        weight_decay=0.1,
        patience=6,
    ),
}


def preset(name: str, family: str, overrides: dict | None = None) -> TrainConfig:
    """A named preset for a model family, with dotted overrides on top."""
    return config_io.from_preset(TrainConfig, PRESETS, name, {"model.family": family, **(overrides or {})})


@dataclasses.dataclass
class TrainResult:
    model_dir: Path
    epochs_run: int
    best_validation_loss: float
    history: dict[str, list[float]]
    run_id: str | None = None


def windows_batch(
    songs: list[np.ndarray],
    length: int,
    batch: int,
    transpose: int,
    vocabulary: Vocabulary,
    rng: np.random.Generator,
    key_dropout: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, weights) of `batch` random windows; songs are picked in proportion to length;
    each window's key token becomes the any-key token with probability `key_dropout`."""
    lengths = np.array([len(s) for s in songs], dtype=np.float64)
    picks = rng.choice(len(songs), size=batch, p=lengths / lengths.sum())
    windows = np.full((batch, length + 1), PAD, np.int32)
    for row, song_index in enumerate(picks):
        song = songs[song_index]
        start = int(rng.integers(0, max(1, len(song) + 1 - length)))
        window = vocabulary.window(song, start, length)
        low, high = vocabulary.transpose_range(window)
        shift = int(rng.integers(max(low, -transpose), min(high, transpose) + 1))
        windows[row, : len(window)] = vocabulary.transpose(window, shift) if shift else window
    if key_dropout:
        dropped = (rng.random(batch) < key_dropout) & vocabulary.is_key(windows[:, 0])
        windows[dropped, 0] = vocabulary.any_key
    return windows[:, :-1], windows[:, 1:], _weights(windows[:, 1:])


def _weights(targets: np.ndarray) -> np.ndarray:
    """1 for each event to learn: not padding, nor the <bos> that follows a window's key token."""
    return ((targets != PAD) & (targets != BOS)).astype(np.float32)


def validation_windows(
    songs: list[np.ndarray], length: int, vocabulary: Vocabulary
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every validation song cut into consecutive windows (no overlap, no augmentation)."""
    rows = []
    for song in songs:
        for start in vocabulary.window_starts(song, length):
            window = np.full(length + 1, PAD, np.int32)
            piece = vocabulary.window(song, start, length)
            window[: len(piece)] = piece
            rows.append(window)
    windows = np.stack(rows)
    return windows[:, :-1], windows[:, 1:], _weights(windows[:, 1:])


def accelerator_present() -> bool:
    if keras.backend.backend() == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def compiles_with_xla(config: TrainConfig, on_gpu: bool) -> bool:
    """Whether the training step is compiled with XLA: on a GPU, under JAX, or where the preset says."""
    import keras

    # JAX has no graph mode short of XLA: unjitted, Keras runs each op eagerly (the `tiny`
    # preset on 2 cores: 4 s a step against TensorFlow's 0.25 s)
    return on_gpu or config.xla_on_cpu or keras.backend.backend() == "jax"


def train(
    dataset_dir: str | Path,
    out_dir: str | Path,
    config: TrainConfig,
    log_to_mlflow: bool = True,
    progress: bool = True,
    parent_run_id: str | None = None,
) -> TrainResult:
    """Train on the dataset's train split, stop early on its validation split, save to out_dir/model."""
    from corridos.symbolic.dataset import load_dataset

    dataset = load_dataset(dataset_dir)
    train_songs, validation_songs = (list(dataset.songs(s).values()) for s in ("train", "validation"))
    if not train_songs or not validation_songs:
        raise BadInputError(str(dataset_dir), "training needs songs in both train and validation splits")
    if config.model.key_dropout and not dataset.vocabulary.has_any_key:
        raise BadInputError(
            str(dataset_dir),
            "key_dropout needs a vocabulary with the any-key token: rebuild the dataset, or set model.key_dropout=0",
        )
    # sampling past the context keeps in view what opens every training window (models.ModelConfig)
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, pinned_prefix=dataset.vocabulary.window_prefix)
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    on_gpu = accelerator_present()
    if on_gpu:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_model(config.model, dataset.vocabulary.size)
    total_steps = config.epochs * config.steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        max(1, total_steps - config.warmup_steps),
        warmup_target=config.learning_rate,
        warmup_steps=config.warmup_steps,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[],
        jit_compile=compiles_with_xla(config, on_gpu),
    )
    batches = TrainWindows(train_songs, config, dataset.vocabulary)
    validation = validation_windows(validation_songs, config.sequence_length, dataset.vocabulary)
    callbacks = [
        keras.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True),
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        batches.follow_epochs(),
    ]
    if config.time_limit_minutes:
        callbacks.append(_time_limit(config.time_limit_minutes))
    tracker = _MlflowRun(dataset.path, config, out, parent_run_id) if log_to_mlflow else None
    if tracker:
        callbacks.append(tracker.callback())
    history = model.fit(
        batches, validation_data=validation, epochs=config.epochs, callbacks=callbacks, verbose=1 if progress else 0
    )
    model_dir = save_model(model, out / "model")
    dataset.vocabulary.save(model_dir / "vocabulary.json")
    (model_dir / TRAIN_CONFIG).write_text(json.dumps(config_io.to_dict(config), indent=1))
    losses = history.history
    result = TrainResult(model_dir, len(losses["loss"]), float(min(losses["val_loss"])), losses)
    if tracker:
        result.run_id = tracker.finish(model, dataset.vocabulary, result)
    return result


class TrainWindows(keras.utils.PyDataset):
    """Random training batches, a fresh draw every epoch, reproducible from the seed."""

    def __init__(self, songs: list[np.ndarray], config: TrainConfig, vocabulary: Vocabulary):
        super().__init__()
        self.songs, self.config, self.vocabulary = songs, config, vocabulary
        self.epoch = 0

    def __len__(self) -> int:
        return self.config.steps_per_epoch

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.config.seed, self.epoch, index])
        c = self.config
        return windows_batch(
            self.songs, c.sequence_length, c.batch_size, c.transpose, self.vocabulary, rng, c.model.key_dropout
        )

    def follow_epochs(self):
        """A callback that tells the windows which epoch runs, also after a resume from backup."""
        return keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: setattr(self, "epoch", epoch))


def _time_limit(minutes: float) -> keras.callbacks.Callback:
    """Stops fitting at the first epoch end past `minutes`; EarlyStopping, which runs at the train's
    end too, then restores the best epoch's weights. By hand: Keras has no wall-clock stop."""
    deadline = time.monotonic() + minutes * 60

    class TimeLimit(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if time.monotonic() > deadline:
                self.model.stop_training = True

    return TimeLimit()


class _MlflowRun:
    """Logs one training run: params, per-epoch metrics, the dataset's manifest hash, loss curves,
    samples, and the generator as an MLflow model."""

    def __init__(self, dataset_path: Path, config: TrainConfig, out: Path, parent_run_id: str | None):
        import mlflow

        from corridos.mlops import tracking

        self.out = out
        self.config = config
        self.run = tracking.start_stage_run("train", f"train-{config.model.family}", parent_run_id)
        mlflow.log_params(tracking.flatten(config_io.to_dict(config)))
        manifest = Path(dataset_path) / "manifest.json"
        mlflow.set_tags(
            {
                "model_family": config.model.family,
                "dataset_manifest_sha256": storage.sha256_hex(manifest.read_bytes()),
                "dataset_version": json.loads(manifest.read_text())["version"],
                "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
            }
        )

    def callback(self):
        import mlflow

        class EpochMetrics(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                mlflow.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch)

        return EpochMetrics()

    def finish(self, model, vocabulary: Vocabulary, result: TrainResult) -> str:
        import mlflow

        from corridos.generation.sampling import SampleConfig, Sampler
        from corridos.mlops import packaging

        mlflow.log_metrics({"best_val_loss": result.best_validation_loss, "epochs_run": result.epochs_run})
        mlflow.log_artifact(str(_loss_curve(result.history, self.out / "loss_curve.png")), "plots")
        samples = Sampler(model, vocabulary).generate(SampleConfig(seconds=self.config.sample_seconds, seed=0), 2)
        for index, sample in enumerate(samples):
            for path in packaging.write_sample(sample, self.out / "samples" / f"sample-{index}"):
                mlflow.log_artifact(str(path), "samples")
        packaging.log(result.model_dir)
        mlflow.end_run()
        return self.run.info.run_id


def _loss_curve(history: dict[str, list[float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    axis.plot(epochs, history["loss"], label="train")
    axis.plot(epochs, history["val_loss"], label="validation")
    axis.set_xlabel("epoch")
    axis.set_ylabel("cross-entropy (nats/event)")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
