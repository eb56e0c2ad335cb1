"""Requinto separation with Spleeter: train a 2-stem model, and separate many files with it.

Runs in the AUDIO environment (TensorFlow 2.12), called from the main environment through
corridos.audio.bridge (corridos.audio.stages does that).

Two Spleeter behaviours are worked around here:
- `Separator.separate` goes through a tf.estimator that rebuilds the graph and restores the
  checkpoint on every call; `RequintoSeparator` builds the prediction graph once and keeps one
  session for the whole batch.
- A missing or empty model folder is silently "separated" with random weights; `model_checkpoint`
  refuses any folder without a trained checkpoint.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from corridos import config as config_io
from corridos import storage
from corridos.audio import io as audio_io
from corridos.audio.io import AudioLimits, AudioSource
from corridos.constants import AUDIO_SAMPLE_RATE
from corridos.errors import BadInputError, ConfigError, ModelError
from corridos.manifest import StageResult

# A trained model folder holds its Spleeter parameters beside the checkpoints.
SPLEETER_PARAMS = "spleeter.json"
TRAINING_SUMMARY = "training.json"
INSTRUMENTS = ("requinto", "accompaniment")
MIX_NAME = "mix"
PRETRAINED_PREFIX = "spleeter:"
TRAIN_CSV = "train.csv"
VALIDATION_CSV = "validation.csv"
# Spleeter's STFT: 4096-sample frames, a 1024-sample hop.
FRAME_LENGTH = 4096
FRAME_STEP = 1024
LOSS_TYPES = ("L1_mask", "weighted_L1_mask")
# The U-Net halves T and F six times (one per encoder layer): both must be multiples of 2**6.
UNET_STRIDE = 2**6


@dataclasses.dataclass
class SeparatorTrainingConfig:
    """Spleeter U-Net training parameters; the defaults are the tiny CPU model."""

    steps: int = 200
    batch_size: int = 4
    learning_rate: float = 1e-3
    # T: STFT frames per example. With a 1024-sample hop at 44.1 kHz, 128 frames are 3 s.
    frames: int = 128
    # F: frequency bins modelled, of 2049. 512 bins reach 5.5 kHz: the requinto's fundamentals
    # (196-1760 Hz) and its strongest harmonics; higher bins get a zero mask.
    frequency_bins: int = 512
    conv_filters: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    # Spleeter's losses: "L1_mask" (mean absolute error of the masked spectrograms) or
    # "weighted_L1_mask" (each example weighted by its target's mean magnitude).
    loss_type: str = "L1_mask"
    chunk_seconds: float = 8.0
    chunks_per_song: int = 2
    save_checkpoints_steps: int = 100
    # Seconds between validation runs (one always runs at the end).
    evaluation_interval_seconds: int = 600
    seed: int = 0


# Field values over SeparatorTrainingConfig's defaults (corridos.config.from_preset). Each has a
# `make` target that renders its mixtures and trains it (separator-cpu, separator-gpu); the demo
# and the pipeline's fallback use `tiny`.
PRESETS: dict[str, dict] = {
    "tiny": {},
    # Two CPU cores, at most an hour (docs/FACTS.md, "Separator runs"): the tiny U-Net, trained
    # long on many excerpts (Makefile SEPARATOR_EXCERPTS_cpu). A step takes 0.35 s here, so 7,000
    # steps fit the hour, and score 2.9 dB above the untouched mixture on the held-out font. A
    # U-Net of twice the filters and T 256 took 1.5 CPU-s a step; 3,000 of them, on one excerpt
    # per song, scored 0.9 dB under it.
    "cpu": dict(
        steps=7000,
        save_checkpoints_steps=1000,
        evaluation_interval_seconds=1800,
    ),
    # Spleeter's published 2-stem architecture and schedule, for a GPU node.
    "gpu": dict(
        steps=200_000,
        learning_rate=1e-4,
        frames=512,
        frequency_bins=1024,
        conv_filters=(16, 32, 64, 128, 256, 512),
        chunk_seconds=20.0,
        chunks_per_song=8,
        save_checkpoints_steps=1000,
        evaluation_interval_seconds=1800,
    ),
}


@dataclasses.dataclass
class SeparationConfig:
    limits: AudioLimits = dataclasses.field(default_factory=AudioLimits)
    # Where s3:// model folders are downloaded to (once per URI).
    cache_dir: str = str(Path.home() / ".cache" / "corridos" / "models")


def spleeter_params(config: SeparatorTrainingConfig, model_dir: Path, data_dir: Path, cache_dir: Path) -> dict:
    """The JSON parameters `spleeter train` reads, for a requinto/accompaniment model."""
    return {
        "train_csv": str(data_dir / TRAIN_CSV),
        "validation_csv": str(data_dir / VALIDATION_CSV),
        "model_dir": str(model_dir),
        "mix_name": MIX_NAME,
        "instrument_list": list(INSTRUMENTS),
        "sample_rate": AUDIO_SAMPLE_RATE,
        "frame_length": FRAME_LENGTH,
        "frame_step": FRAME_STEP,
        "T": config.frames,
        "F": config.frequency_bins,
        "n_channels": 2,
        "separation_exponent": 2,
        "mask_extension": "zeros",
        "learning_rate": config.learning_rate,
        "loss_type": config.loss_type,
        "batch_size": config.batch_size,
        "chunk_duration": config.chunk_seconds,
        "n_chunks_per_song": config.chunks_per_song,
        # Uncached, every step decodes its audio and recomputes STFTs: 7 s a step instead of
        # about 1 s for the tiny model on 2 cores.
        "training_cache": str(cache_dir / "training"),
        "validation_cache": str(cache_dir / "validation"),
        "train_max_steps": config.steps,
        "throttle_secs": config.evaluation_interval_seconds,
        "random_seed": config.seed,
        "save_checkpoints_steps": config.save_checkpoints_steps,
        "save_summary_steps": 5,
        "model": {"type": "unet.unet", "params": {"conv_n_filters": list(config.conv_filters)}},
    }


def check_training_config(config: SeparatorTrainingConfig, shortest_mixture_seconds: float) -> None:
    """ConfigError for settings `spleeter train` would not train with. Spleeter itself does not
    say: a chunk shorter than T frames is filtered out of its dataset, which then waits forever."""
    example_seconds = config.frames * FRAME_STEP / AUDIO_SAMPLE_RATE
    problems = [
        f"{name}={value} is not a multiple of {UNET_STRIDE} (the U-Net's six stride-2 layers)"
        for name, value in (("frames", config.frames), ("frequency_bins", config.frequency_bins))
        if value % UNET_STRIDE
    ]
    if config.loss_type not in LOSS_TYPES:
        problems.append(f"loss_type={config.loss_type!r} is not one of {', '.join(LOSS_TYPES)}")
    if len(config.conv_filters) != 6:
        problems.append(f"conv_filters has {len(config.conv_filters)} layers; Spleeter's U-Net has 6")
    if config.chunk_seconds < example_seconds:
        problems.append(f"chunk_seconds={config.chunk_seconds} is shorter than T={config.frames} frames")
    if shortest_mixture_seconds < example_seconds:
        problems.append(
            f"the shortest mixture lasts {shortest_mixture_seconds:.1f} s, less than T={config.frames} frames "
            f"({example_seconds:.1f} s); render longer mixtures or lower frames"
        )
    if problems:
        raise ConfigError("separator training config: " + "; ".join(problems))


def model_checkpoint(model_dir: Path) -> str:
    """The latest checkpoint prefix in `model_dir`, or ModelError if it holds no trained model."""
    import tensorflow as tf

    how = "train one with `corridos audio train-separator` or pass a trained model folder"
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: no such model folder; {how}")
    checkpoint = tf.train.latest_checkpoint(str(model_dir))
    if checkpoint is None:
        contents = "empty" if not any(model_dir.iterdir()) else "holds no checkpoint"
        raise ModelError(f"{model_dir}: model folder {contents} (Spleeter would separate with random weights); {how}")
    if not Path(checkpoint + ".index").is_file() or not list(model_dir.glob(Path(checkpoint).name + ".data-*")):
        raise ModelError(
            f"{model_dir}: checkpoint {Path(checkpoint).name} is incomplete (index or data missing); {how}"
        )
    return checkpoint


def resolve_model(model: str, cache_dir: Path) -> tuple[dict, Path]:
    """(Spleeter params, local model folder) for a folder, an s3:// URI or a `spleeter:NAME` model."""
    if model.startswith(PRETRAINED_PREFIX):
        return _pretrained(model)
    model_dir = storage.local_copy(model, cache_dir)
    params_path = model_dir / SPLEETER_PARAMS
    model_checkpoint(model_dir)
    if not params_path.is_file():
        raise ModelError(f"{model}: no {SPLEETER_PARAMS} beside the checkpoint; not a corridos separator folder")
    return json.loads(params_path.read_text()), model_dir


def _pretrained(model: str) -> tuple[dict, Path]:
    """Spleeter's published models: downloaded from GitHub into $MODEL_PATH when the network allows."""
    from spleeter.model.provider import ModelProvider
    from spleeter.utils.configuration import load_configuration

    params = load_configuration(model)
    try:
        model_dir = Path(ModelProvider.default().get(params["model_dir"]))
    except Exception as error:  # httpx raises many types; any failure means no model
        raise ModelError(
            f"{model}: download failed ({type(error).__name__}: {error}); "
            f"copy the model folder here and pass its path instead"
        ) from error
    model_checkpoint(model_dir)
    return params, model_dir


class RequintoSeparator:
    """A Spleeter model loaded once: one graph, one session, any number of `separate` calls."""

    def __init__(self, params: dict, model_dir: Path):
        import tensorflow as tf
        from spleeter.model import EstimatorSpecBuilder

        self.instruments = tuple(params["instrument_list"])
        self.sample_rate = int(params["sample_rate"])
        checkpoint = model_checkpoint(model_dir)
        graph = tf.Graph()
        with graph.as_default():
            self._waveform = tf.compat.v1.placeholder(tf.float32, (None, params["n_channels"]), name="waveform")
            outputs = EstimatorSpecBuilder({"waveform": self._waveform}, dict(params, MWF=False)).outputs
            self._outputs = {name: outputs[name] for name in self.instruments}
            self._session = tf.compat.v1.Session(graph=graph)
            tf.compat.v1.train.Saver().restore(self._session, checkpoint)

    def separate(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        """(frames, 2) float32 at `sample_rate` -> one (frames, 2) stem per instrument."""
        return self._session.run(self._outputs, {self._waveform: waveform})

    def close(self) -> None:
        self._session.close()


def separate_files(
    inputs: list[str], model: str, out_dir: Path, config: SeparationConfig = SeparationConfig(), progress: bool = True
) -> StageResult:
    """Separate every input into `out_dir/<song>/<instrument>.wav`; bad files are skipped and
    recorded in the manifest, the result's report."""
    from tqdm import tqdm

    params, model_dir = resolve_model(model, Path(config.cache_dir))
    separator = RequintoSeparator(params, model_dir)
    sources, model_seconds, seen = [], 0.0, set()
    for uri in tqdm(audio_io.list_inputs(inputs), desc="separate", unit="file", disable=not progress):
        source = AudioSource(name=storage.file_name(uri), uri=uri)
        sources.append(source)
        song = source.name.rsplit(".", 1)[0]
        try:
            if song in seen:
                raise BadInputError(source.name, f"an earlier input is also named {song!r}")
            waveform = _stereo(source.name, audio_io.read_audio(uri, source, separator.sample_rate, config.limits))
        except BadInputError as error:
            source.skip(error.reason)
            continue
        seen.add(song)
        started = time.perf_counter()
        stems = separator.separate(waveform)
        model_seconds += time.perf_counter() - started
        for instrument, stem in stems.items():
            path = audio_io.write_wav(out_dir / song / f"{instrument}.wav", stem, separator.sample_rate)
            source.outputs[instrument] = str(path)
    separator.close()
    extra = {
        "model": model,
        "instruments": list(separator.instruments),
        "config": config_io.to_dict(config),
        "separation_seconds": round(model_seconds, 3),
    }
    return audio_io.write_manifest(out_dir, "separate", sources, extra)


def _stereo(name: str, waveform: np.ndarray) -> np.ndarray:
    channels = waveform.shape[1]
    if channels == 1:
        return np.repeat(waveform, 2, axis=1)
    if channels != 2:
        raise BadInputError(name, f"{channels} channels; expected mono or stereo")
    return waveform


def train_separator(
    data_dir: Path, model_dir: Path, config: SeparatorTrainingConfig, progress: bool = True
) -> StageResult:
    """Train a requinto/accompaniment U-Net on `data_dir`'s train.csv/validation.csv mixtures.

    The CSVs hold `mix_path, requinto_path, accompaniment_path, duration`, paths relative to
    `data_dir` (corridos.audio.synthesis writes them). The result's report is the training
    summary, also saved as training.json in the model folder.
    """
    data_dir, model_dir = data_dir.resolve(), model_dir.resolve()
    for table in (TRAIN_CSV, VALIDATION_CSV):
        if not (data_dir / table).is_file():
            raise FileNotFoundError(f"{data_dir / table}: missing; render mixtures first (`corridos audio render`)")
    durations = _durations(data_dir / TRAIN_CSV) + _durations(data_dir / VALIDATION_CSV)
    if not durations:
        raise BadInputError(str(data_dir), "no mixtures in train.csv or validation.csv")
    check_training_config(config, min(durations))
    if model_dir.exists() and any(model_dir.iterdir()):
        raise BadInputError(str(model_dir), "not empty; train into a new folder")
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="corridos-spleeter-cache-") as cache_dir:
        params = spleeter_params(config, model_dir, data_dir, Path(cache_dir))
        (model_dir / SPLEETER_PARAMS).write_text(json.dumps(params, indent=1))
        started = time.perf_counter()
        evaluation = _train_and_evaluate(params, config, data_dir, progress)
    summary = {
        "steps": config.steps,
        "seconds": round(time.perf_counter() - started, 1),
        "validation_loss": float(evaluation["loss"]),
        "config": config_io.to_dict(config),
    }
    (model_dir / TRAINING_SUMMARY).write_text(json.dumps(summary, indent=1))
    return StageResult(model_dir, summary)


def _durations(csv_path: Path) -> list[float]:
    """The `duration` column of one of Spleeter's training tables."""
    with csv_path.open(newline="") as stream:
        return [float(row["duration"]) for row in csv.DictReader(stream)]


def _train_and_evaluate(params: dict, config: SeparatorTrainingConfig, data_dir: Path, progress: bool) -> dict:
    import tensorflow as tf
    from spleeter.dataset import get_training_dataset, get_validation_dataset
    from spleeter.model import model_fn
    from spleeter.utils.logging import logger as spleeter_logger

    spleeter_logger.setLevel(logging.WARNING)  # its import sets INFO: a line for every chunk loaded
    estimator = tf.estimator.Estimator(
        model_fn=model_fn,
        model_dir=params["model_dir"],
        params=params,
        config=tf.estimator.RunConfig(
            save_checkpoints_steps=config.save_checkpoints_steps,
            tf_random_seed=config.seed,
            save_summary_steps=params["save_summary_steps"],
            keep_checkpoint_max=2,
        ),
    )
    adapter = _soundfile_adapter()
    # Spleeter joins the CSV's relative paths to this prefix as strings.
    prefix = str(data_dir)
    train_spec = tf.estimator.TrainSpec(
        input_fn=lambda: get_training_dataset(params, adapter, prefix),
        max_steps=config.steps,
        hooks=[_progress_hook(config.steps, progress)],
    )
    eval_spec = tf.estimator.EvalSpec(
        input_fn=lambda: get_validation_dataset(params, adapter, prefix),
        steps=None,
        throttle_secs=config.evaluation_interval_seconds,
    )
    evaluation, _ = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    return evaluation


def _soundfile_adapter():
    """Spleeter's default adapter runs one ffmpeg process per load; this one reads WAV in-process.

    Built on first use: Spleeter's base class imports TensorFlow, which the main env lacks.
    """
    from spleeter.audio.adapter import AudioAdapter

    class SoundfileAudioAdapter(AudioAdapter):
        def load(self, path, offset=None, duration=None, sample_rate=None, dtype=b"float32"):
            import soundfile

            path = path.decode() if isinstance(path, bytes) else str(path)
            with soundfile.SoundFile(path) as audio:
                audio.seek(min(int((offset or 0) * audio.samplerate), audio.frames))
                frames = -1 if duration is None else int(duration * audio.samplerate)
                waveform = audio.read(frames, dtype="float32", always_2d=True)
                rate = audio.samplerate
            target = int(sample_rate or rate)
            return audio_io.resample(waveform, rate, target), target

        def save(self, path, data, sample_rate, codec=None, bitrate=None):
            audio_io.write_wav(Path(path), data, int(sample_rate))

    return SoundfileAudioAdapter()


def _progress_hook(steps: int, progress: bool):
    """A tqdm bar over training steps (the estimator itself only logs every few steps)."""
    import tensorflow as tf
    from tqdm import tqdm

    class ProgressHook(tf.estimator.SessionRunHook):
        def begin(self):
            self._bar = tqdm(total=steps, desc="train-separator", unit="step", disable=not progress)

        def after_run(self, run_context, run_values):
            self._bar.update()

        def end(self, session):
            self._bar.close()

    return ProgressHook()
