"""The three generator families behind one interface, in Keras 3 with `keras.ops` only.

Every model maps tokens (batch, time) to next-token logits (batch, time, vocab) for training, and
decodes incrementally for sampling:

    cache = model.initial_cache(batch)
    logits, cache = model.step(tokens_now, cache, position)

`step` touches only the newest token, so a whole piece costs one small call per token instead of
a forward pass over the window. No `tf.*` inside: the same code runs on TensorFlow or JAX.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
from keras import layers, ops

from corridos.errors import ConfigError, ModelError

FAMILIES = ("lstm", "wavenet", "transformer")
MODEL_CONFIG = "model.json"
MODEL_WEIGHTS = "model.weights.h5"


@dataclasses.dataclass
class ModelConfig:
    family: str = "transformer"
    embedding_dim: int = 128
    hidden_dim: int = 256  # LSTM units, WaveNet channels, transformer width
    layers: int = 4
    heads: int = 4  # transformer
    dropout: float = 0.1
    context: int = 512  # the longest window the model is trained on (transformer cache size)
    kernel_size: int = 2  # WaveNet
    dilation_cycle: int = 8  # WaveNet dilations 1, 2, ..., 2**(cycle-1), repeated


def build_model(config: ModelConfig, vocab_size: int) -> keras.Model:
    families = {"lstm": LSTMGenerator, "wavenet": WaveNetGenerator, "transformer": TransformerGenerator}
    if config.family not in families:
        raise ConfigError(f"model family {config.family!r}: expected one of {', '.join(FAMILIES)}")
    model = families[config.family](config, vocab_size)
    model(ops.zeros((1, 2), dtype="int32"))  # create the weights
    return model


def save_model(model: keras.Model, folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model": dataclasses.asdict(model.config), "vocab_size": model.vocab_size}
    (folder / MODEL_CONFIG).write_text(json.dumps(config, indent=1))
    model.save_weights(folder / MODEL_WEIGHTS)
    return folder


def load_model(folder: Path) -> keras.Model:
    folder = Path(folder)
    if not (folder / MODEL_CONFIG).is_file() or not (folder / MODEL_WEIGHTS).is_file():
        raise ModelError(f"{folder}: not a saved model (needs {MODEL_CONFIG} and {MODEL_WEIGHTS})")
    stored = json.loads((folder / MODEL_CONFIG).read_text())
    model = build_model(ModelConfig(**stored["model"]), stored["vocab_size"])
    model.load_weights(folder / MODEL_WEIGHTS)
    return model


class Generator(keras.Model):
    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.embedding = layers.Embedding(vocab_size, config.embedding_dim)
        self.head = layers.Dense(vocab_size)

    def initial_cache(self, batch_size: int):
        raise NotImplementedError

    def step(self, tokens, cache, position):
        raise NotImplementedError


class LSTMGenerator(Generator):
    """The original idea done right: an embedding, stacked LSTMs with dropout, a softmax head."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__(config, vocab_size)
        self.recurrent = [
            layers.LSTM(config.hidden_dim, return_sequences=True, return_state=True, dropout=config.dropout)
            for _ in range(config.layers)
        ]
        self.dropout = layers.Dropout(config.dropout)

    def call(self, tokens, training=False):
        x = self.embedding(tokens)
        for lstm in self.recurrent:
            x = lstm(x, training=training)[0]
        return self.head(self.dropout(x, training=training))

    def initial_cache(self, batch_size: int):
        zeros = ops.zeros((batch_size, self.config.hidden_dim))
        return [(zeros, zeros) for _ in self.recurrent]

    def step(self, tokens, cache, position):
        x = self.embedding(tokens[:, None])
        new_cache = []
        for lstm, (h, c) in zip(self.recurrent, cache):
            x, h, c = lstm(x, initial_state=[h, c])
            new_cache.append((h, c))
        return self.head(x[:, 0]), new_cache


class WaveNetGenerator(Generator):
    """Causal dilated convolutions with gated activations, residual and skip connections."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__(config, vocab_size)
        channels = config.hidden_dim
        self.dilations = [2 ** (i % config.dilation_cycle) for i in range(config.layers)]
        self.input_projection = layers.Dense(channels)
        self.dilated = [
            layers.Conv1D(2 * channels, config.kernel_size, dilation_rate=d, padding="causal") for d in self.dilations
        ]
        self.residual = [layers.Dense(channels) for _ in self.dilations]
        self.skip = [layers.Dense(channels) for _ in self.dilations]
        self.output_hidden = layers.Dense(channels, activation="relu")
        self.dropout = layers.Dropout(config.dropout)

    def receptive_field(self) -> int:
        return 1 + (self.config.kernel_size - 1) * sum(self.dilations)

    def call(self, tokens, training=False):
        x = self.input_projection(self.embedding(tokens))
        skips = 0
        for conv, residual, skip in zip(self.dilated, self.residual, self.skip):
            gated = self._gate(conv(x))
            x = x + residual(gated)
            skips = skips + skip(gated)
        return self._output(skips, training)

    def _gate(self, features):
        filters, gates = ops.split(features, 2, axis=-1)
        return ops.tanh(filters) * ops.sigmoid(gates)

    def _output(self, skips, training=False):
        hidden = self.output_hidden(ops.relu(skips))
        return self.head(self.dropout(hidden, training=training))

    def initial_cache(self, batch_size: int):
        # Per block, the block's last (kernel-1)*dilation inputs: the taps its next output reads.
        span = self.config.kernel_size - 1
        return [ops.zeros((batch_size, span * d, self.config.hidden_dim)) for d in self.dilations]

    def step(self, tokens, cache, position):
        x = self.input_projection(self.embedding(tokens))
        skips, new_cache = 0, []
        k = self.config.kernel_size
        for conv, residual, skip, d, past in zip(self.dilated, self.residual, self.skip, self.dilations, cache):
            # Tap j of a causal conv reads the input (k-1-j)*d steps back; tap k-1 is the newest.
            taps = [past[:, (j * d)] for j in range(k - 1)] + [x]
            features = conv.bias + sum(ops.matmul(tap, conv.kernel[j]) for j, tap in enumerate(taps))
            new_cache.append(ops.concatenate([past[:, 1:], x[:, None]], axis=1))
            gated = self._gate(features)
            x = x + residual(gated)
            skips = skips + skip(gated)
        return self._output(skips), new_cache


class TransformerGenerator(Generator):
    """Decoder-only, pre-norm, rotary positions; a key/value cache for incremental decoding."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__(config, vocab_size)
        if config.hidden_dim % config.heads or (config.hidden_dim // config.heads) % 2:
            raise ConfigError(f"hidden_dim {config.hidden_dim} must split into {config.heads} heads of even size")
        self.input_projection = layers.Dense(config.hidden_dim, use_bias=False)
        self.blocks = [TransformerBlock(config) for _ in range(config.layers)]
        self.final_norm = layers.LayerNormalization(epsilon=1e-5)

    def call(self, tokens, training=False):
        x = self.input_projection(self.embedding(tokens))
        positions = ops.arange(ops.shape(tokens)[1])
        for block in self.blocks:
            x = block(x, positions, training=training)
        return self.head(self.final_norm(x))

    def initial_cache(self, batch_size: int):
        heads, size = self.config.heads, self.config.hidden_dim // self.config.heads
        zeros = ops.zeros((batch_size, heads, self.config.context, size))
        return [(zeros, zeros) for _ in self.blocks]

    def step(self, tokens, cache, position):
        x = self.input_projection(self.embedding(tokens[:, None]))
        new_cache = []
        for block, layer_cache in zip(self.blocks, cache):
            x, layer_cache = block.step(x, layer_cache, position)
            new_cache.append(layer_cache)
        return self.head(self.final_norm(x))[:, 0], new_cache


class TransformerBlock(layers.Layer):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.heads = config.heads
        self.head_size = config.hidden_dim // config.heads
        self.context = config.context
        self.attention_norm = layers.LayerNormalization(epsilon=1e-5)
        self.qkv = layers.Dense(3 * config.hidden_dim, use_bias=False)
        self.attention_output = layers.Dense(config.hidden_dim, use_bias=False)
        self.mlp_norm = layers.LayerNormalization(epsilon=1e-5)
        self.mlp = keras.Sequential(
            [layers.Dense(4 * config.hidden_dim, activation="gelu"), layers.Dense(config.hidden_dim)]
        )
        self.dropout = layers.Dropout(config.dropout)

    def call(self, x, positions, training=False):
        q, k, v = self._heads(self.attention_norm(x), positions)
        length = ops.shape(x)[1]
        causal = ops.tril(ops.ones((length, length), dtype="bool"))
        x = x + self.dropout(self._attend(q, k, v, causal), training=training)
        return x + self.dropout(self.mlp(self.mlp_norm(x)), training=training)

    def step(self, x, cache, position):
        """x: (batch, 1, width). The cache is a ring of the last `context` keys and values: rotary
        positions make attention depend only on distances, so old slots can be overwritten."""
        q, k, v = self._heads(self.attention_norm(x), ops.reshape(position, (1,)))
        slot = position % self.context
        keys = ops.slice_update(cache[0], (0, 0, slot, 0), k)
        values = ops.slice_update(cache[1], (0, 0, slot, 0), v)
        filled = ops.arange(self.context) <= position
        x = x + self._attend(q, keys, values, filled[None, :])
        return x + self.mlp(self.mlp_norm(x)), (keys, values)

    def _heads(self, x, positions):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        qkv = ops.reshape(self.qkv(x), (batch, length, 3, self.heads, self.head_size))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # (3, batch, heads, length, head_size)
        return rotate(qkv[0], positions), rotate(qkv[1], positions), qkv[2]

    def _attend(self, q, k, v, mask):
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / (self.head_size**0.5)
        scores = ops.where(mask[None, None], scores, ops.cast(-1e9, scores.dtype))
        mixed = ops.matmul(ops.softmax(scores, axis=-1), v)  # (batch, heads, length, head_size)
        batch, length = ops.shape(q)[0], ops.shape(q)[2]
        mixed = ops.reshape(ops.transpose(mixed, (0, 2, 1, 3)), (batch, length, self.heads * self.head_size))
        return self.attention_output(mixed)


def rotate(x, positions):
    """Rotary position embedding over the last axis of x (..., length, size)."""
    half = ops.shape(x)[-1] // 2
    frequencies = 1.0 / (10000.0 ** (ops.arange(half, dtype="float32") / half))
    angles = ops.cast(positions, "float32")[:, None] * frequencies[None, :]
    cos, sin = ops.cast(ops.cos(angles), x.dtype), ops.cast(ops.sin(angles), x.dtype)
    first, second = x[..., :half], x[..., half:]
    return ops.concatenate([first * cos - second * sin, first * sin + second * cos], axis=-1)
