import json
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest

from corridos.errors import BadInputError, ConfigError
from corridos.generation.models import FAMILIES, ModelConfig, build_model, load_model
from corridos.generation.train import PRESETS, compiles_with_xla, preset, train, validation_windows, windows_batch
from corridos.symbolic.keys import parse_key
from corridos.symbolic.tokenizer import BOS, PAD, Vocabulary
from tests.helpers import TINY_MODEL


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_falls_on_a_tiny_set(family, trained_tiny):
    result = trained_tiny(family)
    losses = result.history["val_loss"]
    # Three epochs of the session's shared tiny models: every epoch lower, and at least a tenth off
    # (measured: the transformer, with the key vocabulary, ends at 0.87 of its first epoch's loss).
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])) and losses[-1] < 0.9 * losses[0], losses
    assert load_model(result.model_dir).config.family == family
    assert Vocabulary.load(result.model_dir / "vocabulary.json").size == load_model(result.model_dir).vocab_size


def test_windows_are_seeded_augmented_inside_the_range_and_masked():
    vocabulary = Vocabulary()
    song = vocabulary.encode_arrays(_notes_at([60, 62, 64, 65, 67] * 10))
    draw = lambda seed: windows_batch([song, song[:7]], 16, 8, 5, vocabulary, np.random.default_rng(seed))  # noqa: E731
    first, again = draw(0), draw(0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    inputs, targets, weights = first
    assert inputs.shape == targets.shape == weights.shape == (8, 16)
    assert np.array_equal(weights, (targets != PAD).astype(np.float32))
    on = inputs[vocabulary.is_note_on(inputs)] - vocabulary.note_on_offset + vocabulary.config.pitch_min
    assert on.min() >= 55 and on.max() <= 72  # 60..67 moved at most 5 semitones
    assert len({int(x) for x in on}) > 5  # and moved at all


def test_windows_start_with_the_songs_key_moved_with_the_notes_and_never_learn_bos():
    vocabulary = Vocabulary()
    song = vocabulary.encode_song(_notes_at([57, 60, 64, 69] * 10), parse_key("A minor"))  # A minor triad only
    inputs, targets, weights = windows_batch([song], 16, 32, 5, vocabulary, np.random.default_rng(0))
    moved = set()
    for row_inputs, row_targets, row_weights in zip(inputs, targets, weights):
        key = vocabulary.song_key(row_inputs)
        on = row_inputs[vocabulary.is_note_on(row_inputs)] - vocabulary.note_on_offset + vocabulary.config.pitch_min
        assert key.mode == "minor" and {(int(p) - key.tonic) % 12 for p in on} <= {0, 3, 7}
        assert not row_weights[row_targets == BOS].any()
        moved.add(key.tonic)
    assert len(moved) > 3  # transposed, key and notes together


def test_key_dropout_puts_the_any_key_token_in_place_of_the_key_in_that_share_of_windows():
    vocabulary = Vocabulary()
    song = vocabulary.encode_song(_notes_at([57, 60, 64, 69] * 10), parse_key("A minor"))
    batch = lambda dropout: windows_batch([song], 16, 400, 5, vocabulary, np.random.default_rng(0), dropout)  # noqa: E731
    assert vocabulary.is_key(batch(0.0)[0][:, 0]).all()
    inputs, _, _ = batch(0.25)
    dropped = inputs[:, 0] == vocabulary.any_key
    assert 0.18 < dropped.mean() < 0.32 and vocabulary.is_key(inputs[~dropped, 0]).all()
    assert np.array_equal(batch(0.25)[0], inputs)  # seeded


def test_key_dropout_needs_the_any_key_token_and_a_share_below_one(tiny_dataset, tmp_path):
    old = tmp_path / "dataset"
    shutil.copytree(tiny_dataset, old)
    stored = json.loads((old / "vocabulary.json").read_text())
    stored["config"]["any_key_token"], stored["size"] = False, stored["size"] - 1
    (old / "vocabulary.json").write_text(json.dumps(stored))
    with pytest.raises(BadInputError, match="key_dropout needs a vocabulary with the any-key token"):
        train(old, tmp_path / "run", preset("tiny", "lstm"), log_to_mlflow=False, progress=False)
    with pytest.raises(ConfigError, match="key_dropout 1.0 must be >= 0 and below 1"):
        build_model(ModelConfig(key_dropout=1.0), Vocabulary().size)


def test_validation_windows_cover_every_token_once():
    songs = [np.arange(3, 40, dtype=np.int32), np.arange(3, 10, dtype=np.int32)]
    inputs, targets, weights = validation_windows(songs, 16, Vocabulary())
    assert int(weights.sum()) == sum(len(s) for s in songs)
    assert inputs[0, 0] == BOS and inputs.shape[1] == 16


def test_presets_exist_for_cpu_and_gpu():
    assert set(PRESETS) == {"tiny", "cpu", "base"}
    assert preset("base", "wavenet").model.family == "wavenet"
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("huge", "lstm")


@pytest.mark.slow
def test_training_logs_to_mlflow_and_the_logged_model_generates(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = preset("tiny", "transformer", {**TINY_MODEL, "epochs": 2})
    result = train(tiny_dataset, tmp_path / "run", config, progress=False)
    run = mlflow.get_run(result.run_id)
    assert run.data.params["model.family"] == "transformer"
    assert run.data.tags["dataset_version"] == json.loads((tiny_dataset / "manifest.json").read_text())["version"]
    assert len(run.data.tags["dataset_manifest_sha256"]) == 64
    history = mlflow.MlflowClient().get_metric_history(result.run_id, "val_loss")
    assert len(history) == 2
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id, "samples")}
    assert {"samples/sample-0.mid", "samples/sample-0.png", "samples/sample-0.wav"} <= artifacts
    assert (tmp_path / "mlartifacts").is_dir()  # beside the sqlite store, not in the working directory

    generator = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/generator")
    answer = generator.predict(pd.DataFrame([{"seconds": 2.0, "seed": 3, "temperature": 0.9}]))
    again = generator.predict(pd.DataFrame([{"seconds": 2.0, "seed": 3, "temperature": 0.9}]))
    assert answer["midi"][0] == again["midi"][0]
    import base64

    assert base64.b64decode(answer["midi"][0]).startswith(b"MThd")


def _notes_at(pitches):
    from corridos.symbolic.sequences import NoteArrays

    start = np.arange(len(pitches)) * 0.2
    return NoteArrays(start, start + 0.15, np.array(pitches, np.int16), np.full(len(pitches), 80, np.int16))


def test_an_interrupted_run_resumes_where_it_stopped(tiny_dataset, tmp_path, monkeypatch):
    import keras

    class Crash(keras.callbacks.EarlyStopping):
        """Dies at the end of the second epoch, before that epoch's backup is written."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("node preempted")
            super().on_epoch_end(epoch, logs)

    config = preset("tiny", "wavenet", {**TINY_MODEL, "epochs": 3, "patience": 5})
    monkeypatch.setattr(keras.callbacks, "EarlyStopping", Crash)
    with pytest.raises(RuntimeError, match="preempted"):
        train(tiny_dataset, tmp_path / "run", config, log_to_mlflow=False, progress=False)
    monkeypatch.undo()
    assert (tmp_path / "run" / "backup").is_dir()
    resumed = train(tiny_dataset, tmp_path / "run", config, log_to_mlflow=False, progress=False)
    assert resumed.epochs_run == 2  # epochs 2 and 3; the first came from the backup
    assert not (tmp_path / "run" / "backup").exists()  # a finished run leaves no backup behind


@pytest.mark.slow
def test_the_cpu_preset_compiles_its_training_step_with_xla_and_learns(tiny_dataset, tmp_path, monkeypatch):
    """The released model trains with XLA on the CPU (twice the steps an hour); every op of the
    transformer's training step must compile, and the loss must still fall."""
    import keras

    assert preset("cpu", "transformer").xla_on_cpu and not preset("tiny", "transformer").xla_on_cpu
    compiled = []
    original = keras.Model.compile

    def compile_and_note(model, *args, **kwargs):
        compiled.append(kwargs.get("jit_compile"))
        return original(model, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "compile", compile_and_note)
    config = preset("tiny", "transformer", {**TINY_MODEL, "epochs": 2, "xla_on_cpu": True})
    result = train(tiny_dataset, tmp_path / "run", config, log_to_mlflow=False, progress=False)
    assert compiled == [True] and result.history["loss"][-1] < result.history["loss"][0]


def test_the_training_step_is_compiled_on_a_gpu_under_jax_and_where_the_preset_asks(monkeypatch):
    import keras

    tiny, cpu = preset("tiny", "transformer"), preset("cpu", "transformer")
    assert not compiles_with_xla(tiny, on_gpu=False)  # TensorFlow on a CPU: compiling costs more than it saves
    assert compiles_with_xla(tiny, on_gpu=True) and compiles_with_xla(cpu, on_gpu=False)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert compiles_with_xla(tiny, on_gpu=False)  # unjitted JAX runs op by op
