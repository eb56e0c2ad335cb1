"""The three generator families behind one interface, in Keras 3 with `keras.ops` only.

Every model maps tokens (batch, time) to next-token logits (batch, time, vocab) for training, and
decodes incrementally for sampling:

    cache = model.initial_cache(batch)
    logits, cache = model.step(tokens_now, cache, position)  # (batch,) -> (batch, vocab)

`step` touches only the newest token, so a whole piece costs one small call per token instead of
a forward pass over the window. No `tf.*` inside: the same code runs on TensorFlow or JAX.

Each family is a stack of one small block class (LSTMBlock, WaveNetBlock, TransformerBlock) between
a token embedding and a linear head; each block has `call` (a whole window) and `step` (one token).
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
    # The share of training windows whose key token is replaced by the any-key token, so that the
    # model also writes without a key: sampling then guides by the key (classifier-free guidance,
    # corridos/generation/sampling.py). 0: no dropout, no guidance.
    key_dropout: float = 0.0
    context: int = 512  # the longest window the model is trained on (transformer cache size)
    # Transformer: tokens that open every training window whatever its start (the song's key
    # token), which decoding past the context keeps in view; set by training from the vocabulary.
    pinned_prefix: int = 0
    kernel_size: int = 2  # WaveNet
    dilation_cycle: int = 8  # WaveNet dilations 1, 2, ..., 2**(cycle-1), repeated


def build_model(config: ModelConfig, vocab_size: int) -> keras.Model:
    families = {"lstm": LSTMGenerator, "wavenet": WaveNetGenerator, "transformer": TransformerGenerator}
    if config.family not in families:
        raise ConfigError(f"model family {config.family!r}: expected one of {', '.join(FAMILIES)}")
    if not 0 <= config.key_dropout < 1:
        raise ConfigError(f"key_dropout {config.key_dropout} must be >= 0 and below 1")
    model = families[config.family](config, vocab_size)
    model(ops.zeros((1, 2), dtype="int32"))  # create the weights
    return model


def save_model(model: keras.Model, folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model": dataclasses.asdict(model.config), "vocab_size": model.vocab_size}
    (folder / MODEL_CONFIG).write_text(json.dumps(config, indent=1))
    # A compiled model's save_weights also writes its optimizer's state (Adam's two moments: twice
    # the weights); a fresh copy writes the weights alone.
    bare = build_model(model.config, model.vocab_size)
    bare.set_weights(model.get_weights())
    bare.save_weights(folder / MODEL_WEIGHTS)
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
    """What every family shares: its config, a token embedding and a linear head to the vocabulary."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.embedding = layers.Embedding(vocab_size, config.embedding_dim)
        # float32 logits also under mixed precision (GPU): the loss and the sampler read them
        self.head = layers.Dense(vocab_size, dtype="float32")


# ---- LSTM


class LSTMBlock(layers.Layer):
    """One LSTM layer (dropout on its inputs); decoding carries its state (h, c) between steps."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.lstm = layers.LSTM(config.hidden_dim, return_sequences=True, return_state=True, dropout=config.dropout)

    def call(self, x, training=False):
        return self.lstm(x, training=training)[0]  # (batch, time, hidden)

    def step(self, x, state):
        x, h, c = self.lstm(x, initial_state=list(state))  # x (batch, 1, hidden); h, c (batch, hidden)
        return x, (h, c)


class LSTMGenerator(Generator):
    """The original idea done right: an embedding, stacked LSTMs with dropout, a softmax head."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__(config, vocab_size)
        self.blocks = [LSTMBlock(config) for _ in range(config.layers)]
        self.dropout = layers.Dropout(config.dropout)

    def call(self, tokens, training=False):
        x = self.embedding(tokens)  # (batch, time, embedding)
        for block in self.blocks:
            x = block(x, training=training)  # (batch, time, hidden)
        return self.head(self.dropout(x, training=training))  # (batch, time, vocab)

    def initial_cache(self, batch_size: int):
        # each state its own buffer: the JAX step donates the cache (sampling.compiled_step)
        shape = (batch_size, self.config.hidden_dim)  # (batch, hidden)
        return [(ops.zeros(shape), ops.zeros(shape)) for _ in self.blocks]

    def step(self, tokens, cache, position):
        x = self.embedding(tokens[:, None])  # (batch, 1, embedding)
        new_cache = []
        for block, state in zip(self.blocks, cache):
            x, state = block.step(x, state)  # (batch, 1, hidden)
            new_cache.append(state)
        return self.head(x[:, 0]), new_cache  # (batch, vocab)


# ---- WaveNet


class WaveNetBlock(layers.Layer):
    """A dilated causal convolution with a gated activation, tanh(filter) * sigmoid(gate), feeding
    a residual connection to the next block and a skip connection to the output. The last block
    feeds only the skips, so it has no residual projection."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, last: bool):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.conv = layers.Conv1D(2 * channels, kernel_size, dilation_rate=dilation, padding="causal")
        self.residual = None if last else layers.Dense(channels)
        self.skip = layers.Dense(channels)

    def call(self, x):
        gated = _gate(self.conv(x))  # (batch, time, channels)
        return self._residual(x, gated), self.skip(gated)  # both (batch, time, channels)

    def step(self, x, past):
        """x (batch, channels): the newest input; past (batch, (kernel-1)*dilation, channels): the
        inputs before it, oldest first, which the convolution's earlier taps read."""
        # Tap j of a causal conv reads the input (kernel-1-j)*dilation steps back; the last tap is x.
        taps = [past[:, j * self.dilation] for j in range(self.kernel_size - 1)] + [x]  # each (batch, channels)
        features = self.conv.bias + sum(ops.matmul(tap, self.conv.kernel[j]) for j, tap in enumerate(taps))
        gated = _gate(features)  # (batch, channels)
        past = ops.concatenate([past[:, 1:], x[:, None]], axis=1)  # (batch, (kernel-1)*dilation, channels)
        return self._residual(x, gated), self.skip(gated), past

    def _residual(self, x, gated):
        return x if self.residual is None else x + self.residual(gated)


def _gate(features):
    filters, gates = ops.split(features, 2, axis=-1)  # each (..., channels)
    return ops.tanh(filters) * ops.sigmoid(gates)


class WaveNetGenerator(Generator):
    """Causal dilated convolutions with gated activations, residual and skip connections."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__(config, vocab_size)
        channels = config.hidden_dim
        self.dilations = [2 ** (i % config.dilation_cycle) for i in range(config.layers)]
        self.input_projection = layers.Dense(channels)
        self.blocks = [
            WaveNetBlock(channels, config.kernel_size, d, last=i == config.layers - 1)
            for i, d in enumerate(self.dilations)
        ]
        self.output_hidden = layers.Dense(channels, activation="relu")
        self.dropout = layers.Dropout(config.dropout)

    def call(self, tokens, training=False):
        x = self.input_projection(self.embedding(tokens))  # (batch, time, channels)
        skips = 0
        for block in self.blocks:
            x, skip = block(x)  # both (batch, time, channels)
            skips = skips + skip
        return self._output(skips, training)  # (batch, time, vocab)

    def initial_cache(self, batch_size: int):
        span = self.config.kernel_size - 1
        return [ops.zeros((batch_size, span * d, self.config.hidden_dim)) for d in self.dilations]

    def step(self, tokens, cache, position):
        x = self.input_projection(self.embedding(tokens))  # (batch, channels)
        skips, new_cache = 0, []
        for block, past in zip(self.blocks, cache):
            x, skip, past = block.step(x, past)  # x, skip (batch, channels)
            skips = skips + skip
            new_cache.append(past)
        return self._output(skips), new_cache  # (batch, vocab)

    def _output(self, skips, training=False):
        hidden = self.output_hidden(ops.relu(skips))  # (..., channels)
        return self.head(self.dropout(hidden, training=training))  # (..., vocab)


# ---- Transformer


class CausalSelfAttention(layers.Layer):
    """Multi-head attention to earlier positions, rotary positions on queries and keys."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.heads = config.heads
        self.head_size = config.hidden_dim // config.heads
        self.context = config.context
        self.pinned = config.pinned_prefix
        self.qkv = layers.Dense(3 * config.hidden_dim, use_bias=False)
        self.output_projection = layers.Dense(config.hidden_dim, use_bias=False)

    def call(self, x, positions):
        q, k, v = self._heads(x, positions)  # each (batch, heads, time, head_size)
        time = ops.shape(x)[1]
        causal = ops.tril(ops.ones((time, time), dtype="bool"))  # (time, time)
        return self._attend(q, k, v, causal)  # (batch, time, width)

    def step(self, x, cache, position):
        """x (batch, 1, width). The cache keeps the `pinned` opening tokens, then a ring of the latest
        context - pinned keys and values: rotary positions make attention depend only on distances,
        so ring slots can be overwritten. Past the context, each step sees what a training window
        that starts mid-song holds: the pinned tokens first, then the latest tokens."""
        q, k, v = self._heads(x, ops.reshape(position, (1,)))  # each (batch, heads, 1, head_size)
        ring = self.context - self.pinned
        slot = ops.where(position < self.pinned, position, self.pinned + (position - self.pinned) % ring)
        keys = ops.slice_update(cache[0], (0, 0, slot, 0), k)  # (batch, heads, context, head_size)
        values = ops.slice_update(cache[1], (0, 0, slot, 0), v)  # (batch, heads, context, head_size)
        filled = ops.arange(self.context) <= position  # (context,)
        scores = ops.matmul(q, ops.transpose(keys, (0, 1, 3, 2)))  # (batch, heads, 1, context)
        return self._mix(self._slide_pinned(scores, q, keys, position), values, filled[None, :]), (keys, values)

    def _slide_pinned(self, scores, q, keys, position):
        """The scores of the pinned keys as if rotated on by as many positions as the window has
        slid, so that they stay at the start of the window the query sees. Rotations are
        orthogonal, q . R(s) k = R(-s) q . k: the query turns back instead of the keys, and only
        the pinned scores are replaced, so no step copies the whole cache."""
        if not self.pinned:
            return scores
        slid = ops.maximum(position - (self.context - 1), 0)
        back = rotate(q, ops.reshape(-slid, (1,)))  # (batch, heads, 1, head_size)
        pinned = ops.matmul(back, ops.transpose(keys[:, :, : self.pinned], (0, 1, 3, 2)))  # (batch, heads, 1, pinned)
        return ops.slice_update(scores, (0, 0, 0, 0), pinned)  # (batch, heads, 1, context)

    def _heads(self, x, positions):
        batch, time = ops.shape(x)[0], ops.shape(x)[1]
        qkv = ops.reshape(self.qkv(x), (batch, time, 3, self.heads, self.head_size))  # (batch, time, 3, heads, size)
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # (3, batch, heads, time, head_size)
        return rotate(qkv[0], positions), rotate(qkv[1], positions), qkv[2]

    def _attend(self, q, k, v, mask):
        return self._mix(ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))), v, mask)  # (batch, time, width)

    def _mix(self, scores, v, mask):
        """Scores (batch, heads, time, keys), unscaled, to the attended values (batch, time, width)."""
        scores = scores / (self.head_size**0.5)  # (batch, heads, time, keys)
        scores = ops.where(mask[None, None], scores, ops.cast(-1e9, scores.dtype))  # masked: -1e9
        mixed = ops.matmul(ops.softmax(scores, axis=-1), v)  # (batch, heads, time, head_size)
        batch, time = ops.shape(v)[0], ops.shape(scores)[2]
        mixed = ops.transpose(mixed, (0, 2, 1, 3))  # (batch, time, heads, head_size)
        mixed = ops.reshape(mixed, (batch, time, self.heads * self.head_size))  # (batch, time, width)
        return self.output_projection(mixed)  # (batch, time, width)


def rotate(x, positions):
    """Rotary position embedding over the last axis of x (..., time, size)."""
    half = ops.shape(x)[-1] // 2
    frequencies = 1.0 / (10000.0 ** (ops.arange(half, dtype="float32") / half))  # (half,)
    angles = ops.cast(positions, "float32")[:, None] * frequencies[None, :]  # (time, half)
    cos, sin = ops.cast(ops.cos(angles), x.dtype), ops.cast(ops.sin(angles), x.dtype)
    first, second = x[..., :half], x[..., half:]  # each (..., time, half)
    return ops.concatenate([first * cos - second * sin, first * sin + second * cos], axis=-1)  # (..., time, size)


class MLP(layers.Layer):
    """Position-wise feed-forward: widen four times, GELU, project back."""

    def __init__(self, width: int):
        super().__init__()
        self.expand = layers.Dense(4 * width, activation="gelu")
        self.project = layers.Dense(width)

    def call(self, x):
        return self.project(self.expand(x))  # (batch, time, width)


class TransformerBlock(layers.Layer):
    """Pre-norm: x + attention(norm(x)), then x + mlp(norm(x)); dropout on both branches in training."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.attention_norm = layers.LayerNormalization(epsilon=1e-5)
        self.attention = CausalSelfAttention(config)
        self.mlp_norm = layers.LayerNormalization(epsilon=1e-5)
        self.mlp = MLP(config.hidden_dim)
        self.dropout = layers.Dropout(config.dropout)

    def call(self, x, positions, training=False):
        attended = self.attention(self.attention_norm(x), positions)  # (batch, time, width)
        x = x + self.dropout(attended, training=training)  # (batch, time, width)
        return x + self.dropout(self.mlp(self.mlp_norm(x)), training=training)  # (batch, time, width)

    def step(self, x, cache, position):
        attended, cache = self.attention.step(self.attention_norm(x), cache, position)
        x = x + attended  # (batch, 1, width)
        return x + self.mlp(self.mlp_norm(x)), cache  # (batch, 1, width)


class TransformerGenerator(Generator):
    """Decoder-only, pre-norm, rotary positions; a key/value cache for incremental decoding."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__(config, vocab_size)
        if config.hidden_dim % config.heads or (config.hidden_dim // config.heads) % 2:
            raise ConfigError(f"hidden_dim {config.hidden_dim} must split into {config.heads} heads of even size")
        if not 0 <= config.pinned_prefix < config.context:
            raise ConfigError(
                f"pinned_prefix {config.pinned_prefix} must be >= 0 and below the context {config.context}"
            )
        self.input_projection = layers.Dense(config.hidden_dim, use_bias=False)
        self.blocks = [TransformerBlock(config) for _ in range(config.layers)]
        self.final_norm = layers.LayerNormalization(epsilon=1e-5)

    def call(self, tokens, training=False):
        x = self.input_projection(self.embedding(tokens))  # (batch, time, width)
        positions = ops.arange(ops.shape(tokens)[1])  # (time,)
        for block in self.blocks:
            x = block(x, positions, training=training)  # (batch, time, width)
        return self.head(self.final_norm(x))  # (batch, time, vocab)

    def initial_cache(self, batch_size: int):
        heads, size = self.config.heads, self.config.hidden_dim // self.config.heads
        # each keys and values their own buffer: the JAX step donates the cache (sampling.compiled_step)
        shape = (batch_size, heads, self.config.context, size)  # (batch, heads, context, head_size)
        return [(ops.zeros(shape), ops.zeros(shape)) for _ in self.blocks]

    def step(self, tokens, cache, position):
        x = self.input_projection(self.embedding(tokens[:, None]))  # (batch, 1, width)
        new_cache = []
        for block, layer_cache in zip(self.blocks, cache):
            x, layer_cache = block.step(x, layer_cache, position)  # (batch, 1, width)
            new_cache.append(layer_cache)
        return self.head(self.final_norm(x))[:, 0], new_cache  # (batch, vocab)
