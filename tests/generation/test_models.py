import subprocess
import sys

import numpy as np
import pytest
from keras import ops

from corridos.errors import ConfigError, ModelError
from corridos.generation.models import FAMILIES, ModelConfig, build_model, load_model, save_model

CACHE_CHECK = """
import numpy as np, sys
from keras import ops
from corridos.generation.models import ModelConfig, build_model
from corridos.generation.sampling import compiled_step

def decode(model, step, tokens):
    cache, steps = model.initial_cache(len(tokens)), []
    for t in range(tokens.shape[1]):
        logits, cache = step(tokens[:, t], cache, t)
        steps.append(ops.convert_to_numpy(logits))
    return np.stack(steps, 1)  # (batch, time, vocab)

for family in sys.argv[1:]:
    config = ModelConfig(family=family, embedding_dim=16, hidden_dim=32, layers=3, heads=2, context=8, dropout=0.0,
                         dilation_cycle=2)
    model = build_model(config, 40)
    tokens = np.random.default_rng(0).integers(0, 40, (2, 8)).astype("int32")
    full = ops.convert_to_numpy(model(tokens))
    eager = lambda now, cache, t: model.step(ops.convert_to_tensor(now), cache, ops.convert_to_tensor(t, dtype="int32"))
    compiled = compiled_step(model)
    # the compiled step twice: the second decoding must not see the first one's cache
    decodings = [decode(model, eager, tokens), decode(model, compiled, tokens), decode(model, compiled, tokens)]
    print(family, max(float(np.abs(decoded - full).max()) for decoded in decodings))
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_cached_and_uncached_decoding_give_the_same_logits(backend):
    """The model's own step and the sampler's compiled one (which updates its cache in place), each
    backend in its own process: Keras picks its backend once, at import."""
    done = subprocess.run(
        [sys.executable, "-c", CACHE_CHECK, *FAMILIES],
        capture_output=True,
        text=True,
        env={"KERAS_BACKEND": backend, "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    differences = dict(line.split() for line in done.stdout.strip().splitlines()[-len(FAMILIES) :])
    assert set(differences) == set(FAMILIES)
    assert all(float(d) < 1e-4 for d in differences.values()), differences


@pytest.mark.parametrize("pinned", [0, 1, 2])
def test_transformer_cache_slides_like_a_training_window_beyond_the_context(pinned):
    """Past the context the cached model sees what a training window starting mid-song holds: the
    `pinned` opening tokens (the key token), then the latest tokens.

    One layer: with more, upper layers see keys that themselves looked further back, so a plain
    window over the last tokens is no longer the same computation."""
    config = ModelConfig(
        family="transformer",
        embedding_dim=16,
        hidden_dim=32,
        layers=1,
        heads=2,
        context=6,
        dropout=0,
        pinned_prefix=pinned,
    )
    model = build_model(config, 30)
    tokens = np.random.default_rng(1).integers(0, 30, (1, 14)).astype("int32")
    cache = model.initial_cache(1)
    for t in range(14):
        logits, cache = model.step(ops.convert_to_tensor(tokens[:, t]), cache, ops.convert_to_tensor(t, dtype="int32"))
    window = np.concatenate([tokens[:, :pinned], tokens[:, -(6 - pinned) :]], axis=1)  # (1, context)
    np.testing.assert_allclose(ops.convert_to_numpy(logits), ops.convert_to_numpy(model(window))[:, -1], atol=1e-4)


def test_a_pinned_prefix_must_leave_room_in_the_context():
    with pytest.raises(ConfigError, match="pinned_prefix 6 must be >= 0 and below the context 6"):
        build_model(ModelConfig(family="transformer", hidden_dim=32, heads=2, context=6, pinned_prefix=6), 30)


def test_wavenet_dilations_double_then_cycle():
    model = build_model(ModelConfig(family="wavenet", hidden_dim=16, embedding_dim=8, layers=5, dilation_cycle=3), 20)
    assert model.dilations == [1, 2, 4, 1, 2]


def test_a_trained_model_is_saved_without_its_optimizer_state(tmp_path):
    import h5py
    import keras

    model = build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=16, layers=1), 25)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="sparse_categorical_crossentropy")
    tokens = np.arange(20, dtype="int32").reshape(2, 10) % 25
    model.fit(tokens, tokens, verbose=0)
    save_model(model, tmp_path / "m")
    with h5py.File(tmp_path / "m" / "model.weights.h5") as saved:
        assert "optimizer" not in saved
    np.testing.assert_allclose(
        ops.convert_to_numpy(load_model(tmp_path / "m")(tokens)), ops.convert_to_numpy(model(tokens)), atol=1e-6
    )


def test_save_and_load_keep_the_weights(tmp_path):
    model = build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=16, layers=1), 25)
    save_model(model, tmp_path / "m")
    tokens = np.arange(10, dtype="int32")[None] % 25
    np.testing.assert_allclose(
        ops.convert_to_numpy(load_model(tmp_path / "m")(tokens)), ops.convert_to_numpy(model(tokens))
    )
    with pytest.raises(ModelError, match="not a saved model"):
        load_model(tmp_path)


def test_unknown_family_is_refused():
    with pytest.raises(ConfigError, match="expected one of lstm, wavenet, transformer"):
        build_model(ModelConfig(family="gru"), 10)
