"""Sampling music from a generator: key, key guidance, temperature, top-k, top-p, seeds, primers,
transposition.

The model runs one compiled `step` per token with its cache; the choice of the next token is made
on the host with NumPy, one seeded random stream per sample, so the same seed gives the same
music whatever the backend.
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from pathlib import Path
from typing import Any

import numpy as np

from corridos.errors import BadInputError, ConfigError
from corridos.symbolic.keys import KEYS, Key, heard_in, parse_key, set_key_signature
from corridos.symbolic.tokenizer import BOS, SPECIAL_TOKENS, Vocabulary

# Tokens per second seen in the corpus is about 19; this bounds a runaway piece of silence-free
# note events when the model never emits time shifts.
MAX_TOKENS_PER_SECOND = 100
# The longest piece one call may ask for: a whole song (corridos run about three minutes), and the
# service's limit on a request's cost, shared by the CLI and the library so that settings that
# work locally also work when served. Pieces longer than a transformer's context slide it: its
# cache is a ring (models.CausalSelfAttention.step).
MAX_SECONDS = 180
# Pieces drawn for each one asked for, of which the first heard in the asked key is kept, when a
# request does not set it, for a model that takes a key: chosen on the validation artists by key
# match, the C2ST and mean OA (docs/FACTS.md, "Choosing among candidates by key": plain sampling,
# best of 3, matched the key in 0.93 of 256 pieces at a C2ST 0.03 lower than the best guidance's,
# which matched 0.90; 2 candidates matched 0.82, 4 matched 0.965 at the same C2ST as 3).
DEFAULT_KEY_CANDIDATES = 3


def _setting(default: object, description: str, **bounds: float) -> Any:
    """A SampleConfig field: its default, what it means, and its bounds named as pydantic names
    them (ge, gt, le), so the service's request model can take them as they are."""
    return dataclasses.field(default=default, metadata={"description": description, "bounds": bounds})


_BOUND_CHECKS = {"ge": (operator.ge, ">="), "gt": (operator.gt, ">"), "le": (operator.le, "<=")}


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """How to sample a piece: the one declaration of the settings, their defaults and their bounds.

    The CLI's `generate` options, the service's request fields and the pyfunc model's input columns
    are derived from these fields; an out-of-bounds value is refused when the config is built.
    """

    seconds: float = _setting(30.0, "seconds of new music; ignored when events is set", ge=1, le=MAX_SECONDS)
    events: int | None = _setting(
        None, "length in events instead of seconds", ge=1, le=MAX_SECONDS * MAX_TOKENS_PER_SECOND
    )
    temperature: float = _setting(1.0, "0: always the likeliest token", ge=0, le=2)
    top_k: int = _setting(0, "sample among the k likeliest tokens; 0: no limit", ge=0, le=1000)
    # 1 (no cut) everywhere: cutting the tail (the nucleus sampling of Holtzman et al., 2019) also
    # cuts the long time shifts, the rests and held notes, so the music came out too dense and too
    # even (the C2ST's strongest tells; docs/FACTS.md, "Sampling past the context"). One default
    # also means the promotion gate and the evaluation judge the samples users get.
    top_p: float = _setting(1.0, "sample among the likeliest tokens holding this much mass; 1: no limit", gt=0, le=1)
    seed: int = _setting(0, "same seed, same music", ge=0, le=2**32 - 1)
    primer: str | None = _setting(None, "a MIDI file to continue")
    transpose: int = _setting(0, "semitones applied to the output", ge=-12, le=12)
    key: str | None = _setting(
        None, "the key to write in, e.g. 'A minor'; none: a key drawn uniformly from the 24 (seeded)"
    )
    # Classifier-free guidance (Ho & Salimans, 2022) on the key token: each note's keyed pitch
    # log-probabilities are pushed away from the same model's keyless ones, log p = u + g (k - u).
    # A model trained with key dropout knows both. Plain by default: guidance keeps to the key by
    # exaggerating what sets it apart (the minor third, the major third: docs/FACTS.md), which the
    # C2ST hears; choosing among plain candidates (key_candidates) keeps to it without that.
    key_guidance: float = _setting(
        1.0,
        "how strongly to keep to the key: 1 plain, above 1 stronger (classifier-free guidance, for a "
        "model trained with key dropout)",
        ge=0,
        le=8,
    )
    # Best of n by key: each piece is drawn n times, each candidate from its own random stream, and
    # the first one music21 hears in the key asked for is kept (else the first drawn). Real
    # excerpts are heard in their song's key only 0.54-0.68 of the time (docs/FACTS.md), so one
    # plain piece inherits that looseness; each candidate is plain model music, so the choice keeps
    # the key without bending the notes toward it.
    key_candidates: int | None = _setting(
        None,
        "pieces drawn for each one asked for, the first heard in its key kept; 1: no choice; "
        f"none: {DEFAULT_KEY_CANDIDATES} for a model that takes a key, else 1",
        ge=1,
        le=8,
    )

    def __post_init__(self) -> None:
        if self.key is not None:
            parse_key(self.key)  # an unknown key is refused here, naming the value and the accepted form
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            for bound, limit in field.metadata["bounds"].items():
                holds, symbol = _BOUND_CHECKS[bound]
                if value is not None and not holds(value, limit):
                    raise ConfigError(f"{field.name} {value} must be {symbol} {limit}")


class Setting(typing.NamedTuple):
    """One SampleConfig field as an interface declares it: value type (None taken out), default,
    description and bounds."""

    type: type
    default: Any
    description: str
    bounds: dict[str, float]


def _value_type(hint: Any) -> type:
    return next(t for t in typing.get_args(hint) or (hint,) if t is not type(None))


_HINTS = typing.get_type_hints(SampleConfig)
SETTINGS = {
    f.name: Setting(_value_type(_HINTS[f.name]), f.default, f.metadata["description"], f.metadata["bounds"])
    for f in dataclasses.fields(SampleConfig)
}
# What a remote request (service, pyfunc model) may set: not `primer`, which travels as MIDI bytes,
# nor `events`, so that `seconds` alone bounds the music a request costs.
REQUEST_SETTINGS = tuple(name for name in SETTINGS if name not in ("primer", "events"))
# The settings each row of one sampling batch may have its own of; the rest the batch shares.
ROW_SETTINGS = ("seed", "transpose", "key")


def shared_settings(config: SampleConfig) -> SampleConfig:
    """The config with its row settings reset: configs equal here may share a batch."""
    return dataclasses.replace(config, seed=0, transpose=0, key=None)


def compiled_step(model):
    """model.step compiled for the active Keras backend, called as step(tokens, cache, position)
    with tokens an int32 NumPy array (batch,) and position an int; traced once per batch size.
    Each backend converts its inputs its own cheapest way: at one small call per token, Keras's
    generic conversion and TensorFlow's trace lookup cost more than the step itself.
    Neither copies the whole cache on each step: TensorFlow keeps it in variables updated in place
    (the first call makes them from the model's initial cache), JAX donates its buffers to the
    step. So pass each returned cache on once, to the next call only."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_step(model)
    if backend == "jax":
        import jax

        jitted = jax.jit(model.step, donate_argnums=1)  # the cache's buffers reused for the new one
        return lambda tokens, cache, position: jitted(tokens, cache, np.int32(position))

    from keras import ops

    return lambda tokens, cache, position: model.step(
        ops.convert_to_tensor(tokens), cache, ops.convert_to_tensor(position, dtype="int32")
    )


def _tensorflow_step(model):
    """compiled_step for TensorFlow: XLA, a concrete function per batch size, the cache in place."""
    import tensorflow as tf

    def step_in_place(tokens, cache, position):
        logits, updated = model.step(tokens, tf.nest.map_structure(lambda v: v.read_value(), cache), position)
        tf.nest.map_structure(lambda variable, value: variable.assign(value), cache, updated)
        return logits

    # XLA: a single-token step is dominated by per-op overhead, which XLA fuses away (3x here).
    # A cache passed in and returned as tensors is copied whole on every step; a variable updated
    # by XLA is written in place (docs/FACTS.md, "The cache in place"). Variables are traced by
    # shape, so each generation brings its own and shares the trace. Each batch size gets its own
    # exact trace: a relaxed one (reduce_retracing) read a batch of 4 into a batch of 2's shapes.
    function = tf.function(step_in_place, jit_compile=True)
    # Calling the tf.function looks its trace up anew on every call; a concrete function per
    # batch size skips that.
    concrete = {}  # batch size -> its concrete function

    def tensorflow_step(tokens, cache, position):
        variables = tf.nest.flatten(cache)
        if not isinstance(variables[0], tf.Variable):
            cache = tf.nest.map_structure(lambda tensor: tf.Variable(tensor, trainable=False), cache)
            variables = tf.nest.flatten(cache)
        tokens, position = tf.constant(tokens), tf.constant(position, tf.int32)
        batch = int(tokens.shape[0])
        if batch not in concrete:
            concrete[batch] = function.get_concrete_function(tokens, cache, position)
        step = concrete[batch]
        # The concrete function's own call binds and casts each input against its signature, as
        # long as the XLA step itself; these inputs are the traced ones by construction, so they go
        # straight to its flat call. Private API, pinned with TensorFlow in uv.lock; the sampling
        # tests fail if it changes.
        handles = [variable.handle for variable in variables]
        return step._call_flat([tokens, *handles, position], step.captured_inputs), cache

    return tensorflow_step


def primer_tokens(path: str | Path, vocabulary: Vocabulary) -> np.ndarray:
    """The primer's requinto line (cleaned like the corpus, quality filter off) as tokens."""
    from corridos.symbolic.sequences import read_midi

    try:
        sequence = read_midi(path)
    except BadInputError as error:
        raise BadInputError(f"primer {error.name}", error.reason) from error
    return sequence_tokens(sequence, vocabulary, f"primer {path}")


def sequence_tokens(sequence, vocabulary: Vocabulary, name: str = "primer") -> np.ndarray:
    """A read primer's requinto line (cleaned like the corpus, quality filter off) as tokens;
    BadInputError names the cleaning rules that left no note."""
    from corridos.symbolic.cleaning import CleaningConfig, clean

    config = CleaningConfig(
        pitch_min=vocabulary.config.pitch_min,
        pitch_max=vocabulary.config.pitch_max,
        min_notes=1,
        min_in_range_share=0.0,
    )
    line = clean(sequence, config)
    if not line.notes_out:
        removed = ", ".join(f"{count} by the {rule} rule" for rule, count in line.removed_by_rule.items() if count)
        raise BadInputError(
            name,
            f"no notes left after cleaning: of {line.notes_in}, {removed or 'none removed'} (pitches "
            f"{config.pitch_min}-{config.pitch_max}, at least {config.min_duration_seconds} s long, "
            f"velocity at least {config.min_velocity})",
        )
    return vocabulary.encode_arrays(line.kept_notes)


class Sampler:
    """Generates token sequences from a model; build once, call many times (the step is compiled)."""

    def __init__(self, model, vocabulary: Vocabulary):
        self.model = model
        self.vocabulary = vocabulary
        self.step = compiled_step(model)

    def generate(self, config: SampleConfig, samples: int = 1) -> list:
        """`samples` NoteSequences (the primer, if any, included), sampled as one batch."""
        rngs = [np.random.default_rng([config.seed, i]) for i in range(samples)]
        keys = [self.key(config, rng) for rng in rngs]
        tokens = self.sample_tokens(self._primer(config), config, samples, rngs, keys)
        return [self._to_sequence(t, config.transpose, key) for t, key in zip(tokens, keys)]

    def generate_each(self, configs: list[SampleConfig], primer: np.ndarray | None = None) -> list:
        """One NoteSequence per config, sampled as one batch (serving batches concurrent requests).
        The configs may differ only in their ROW_SETTINGS; row i draws from the stream a lone
        `generate(configs[i])` would, so a request gets the same music alone or in a batch.
        `primer`: the tokens of the configs' primer, already read (the service parses it once)."""
        shared = shared_settings(configs[0])
        if any(shared_settings(c) != shared for c in configs):
            raise ValueError(f"a batch's configs may differ only in {', '.join(ROW_SETTINGS)}")
        if primer is None:
            primer = self._primer(shared)
        rngs = [np.random.default_rng([c.seed, 0]) for c in configs]
        keys = [self.key(c, rng) for c, rng in zip(configs, rngs)]
        tokens = self.sample_tokens(primer, shared, len(configs), rngs, keys)
        return [self._to_sequence(t, c.transpose, key) for t, c, key in zip(tokens, configs, keys)]

    def key(self, config: SampleConfig, rng: np.random.Generator) -> Key | None:
        """The key a piece is written in: the requested one, or one drawn uniformly from the 24 with
        the piece's own random stream; None for a model trained without key tokens, which refuses a
        requested key (BadInputError naming it)."""
        if config.key is not None:
            key = parse_key(config.key)
            self.vocabulary.key_token(key)  # refused when the vocabulary has no keys
            return key
        if not self.vocabulary.config.key_tokens:
            return None
        return KEYS[int(rng.integers(len(KEYS)))]

    def key_guidance(self, config: SampleConfig) -> float:
        """The config's guidance; other than 1 for a model trained without key dropout, refused
        (BadInputError)."""
        guided = self.vocabulary.has_any_key and self.model.config.key_dropout > 0
        if config.key_guidance != 1 and not guided:
            raise BadInputError(
                "key_guidance", f"{config.key_guidance:g}: this model was trained without key dropout; only 1 works"
            )
        return config.key_guidance

    def _primer(self, config: SampleConfig) -> np.ndarray:
        """The tokens of the config's primer file, none without one."""
        return primer_tokens(config.primer, self.vocabulary) if config.primer else np.zeros(0, np.int32)

    def key_candidates(self, config: SampleConfig) -> int:
        """The candidates a config asks of this model per piece: its own, or the default (see
        SampleConfig); more than 1 for a model that takes no key is refused (BadInputError)."""
        keyed = self.vocabulary.config.key_tokens
        if config.key_candidates is None:
            return DEFAULT_KEY_CANDIDATES if keyed else 1
        if config.key_candidates != 1 and not keyed:
            raise BadInputError("key_candidates", f"{config.key_candidates}: this model takes no key; only 1 works")
        return config.key_candidates

    def sample_tokens(
        self,
        primer: np.ndarray,
        config: SampleConfig,
        samples: int = 1,
        rngs: list[np.random.Generator] | None = None,
        keys: list[Key | None] | None = None,
    ) -> list[np.ndarray]:
        """One token array per row (the primer included, not the key token): row i starts from its
        key's token (when it has one; by default the config's, see `key`), <bos> and the primer,
        and is the first of its `key_candidates` heard in its key. Its first candidate draws from
        rngs[i], the others from streams spawned from it, so one candidate gives what it always did."""
        rngs = rngs or [np.random.default_rng([config.seed, i]) for i in range(samples)]
        keys = keys or [self.key(config, rng) for rng in rngs]
        candidates = self.key_candidates(config)
        if candidates == 1:
            return self._draw(primer, config, rngs, keys)
        streams = [stream for rng in rngs for stream in (rng, *rng.spawn(candidates - 1))]
        drawn = self._draw(primer, config, streams, [key for key in keys for _ in range(candidates)])
        return [self._in_key(drawn[i * candidates : (i + 1) * candidates], key) for i, key in enumerate(keys)]

    def _in_key(self, candidates: list[np.ndarray], key: Key | None) -> np.ndarray:
        """The first candidate music21 hears in `key` (as evaluation's key match hears it), else the first."""
        return next((t for t in candidates if heard_in(self.vocabulary.decode_arrays(t), key)), candidates[0])

    def _draw(
        self, primer: np.ndarray, config: SampleConfig, rngs: list[np.random.Generator], keys: list[Key | None]
    ) -> list[np.ndarray]:
        """One token array per stream, sampled as one batch: row i from keys[i] and rngs[i]."""
        samples = len(rngs)
        guidance = self.key_guidance(config)
        # Guided, the batch doubles: each row's keyless twin starts from the any-key token instead.
        prefixes = [self._key_prefix(key) for key in keys]
        if guidance != 1:
            prefixes += [np.array([self.vocabulary.any_key], np.int32)] * samples
        # (rows, prompt): each row's key token, then <bos> and the primer, as training windows start
        prompt = np.stack([np.concatenate([prefix, [BOS], primer]) for prefix in prefixes]).astype(np.int32)
        logits, cache = self._prompt(prompt)
        budget_steps = int(round(config.seconds / self.vocabulary.config.step_seconds))
        limit = config.events or int(config.seconds * MAX_TOKENS_PER_SECOND) + 1
        generated = np.zeros((samples, limit), np.int32)
        elapsed = np.zeros(samples, np.int64)
        position = prompt.shape[1]
        for index in range(limit):
            choice = choose(self._guided(logits, guidance, samples), config, rngs)  # (samples,)
            generated[:, index] = choice
            elapsed += self._shift_steps(choice)
            if config.events is None and (elapsed >= budget_steps).all():
                break
            logits, cache = self.step(np.tile(choice, len(prompt) // samples), cache, position)
            position += 1
        used = generated[:, : index + 1]
        return [np.concatenate([primer, self._trim(row, budget_steps, config)]) for row in used]

    def _prompt(self, prompt: np.ndarray):
        """(logits after the prompt's last token, cache) for a (rows, length) prompt."""
        cache = self.model.initial_cache(len(prompt))
        for position in range(prompt.shape[1]):
            logits, cache = self.step(prompt[:, position], cache, position)
        return logits, cache

    def _guided(self, logits, guidance: float, samples: int) -> np.ndarray:
        """(samples, key_offset) logits to draw from: key tokens only ever open a window, never drawn;
        guided, the pitch of each note-on pushed away from the keyless twin's, log p = u + g (k - u),
        while the chance of a note-on at all, and every other token, stay the keyed row's own. A
        key names pitches, not rhythm: guiding every token also moved the time shifts and note
        offs, and the C2ST told the pieces from real ones more often at the same key match
        (docs/FACTS.md, "Guiding the pitch only")."""
        from keras import ops
        from scipy.special import log_softmax

        logits = ops.convert_to_numpy(logits)[:, : self.vocabulary.key_offset].astype(np.float64)
        if guidance == 1:
            return logits
        drawable = len(SPECIAL_TOKENS)  # `choose` masks the specials: normalise over the rest
        log_probabilities = np.full_like(logits, -np.inf)  # (2 samples, key_offset)
        log_probabilities[:, drawable:] = log_softmax(logits[:, drawable:], axis=1)
        keyed, keyless = log_probabilities[:samples], log_probabilities[samples:]  # each (samples, key_offset)
        pitches = slice(self.vocabulary.note_on_offset, self.vocabulary.note_off_offset)
        pushed = keyless[:, pitches] + guidance * (keyed[:, pitches] - keyless[:, pitches])  # (samples, pitches)
        guided = keyed.copy()
        note_on = np.logaddexp.reduce(keyed[:, pitches], axis=1, keepdims=True)  # (samples, 1)
        guided[:, pitches] = log_softmax(pushed, axis=1) + note_on
        return guided

    def _key_prefix(self, key: Key | None) -> np.ndarray:
        return np.array([self.vocabulary.key_token(key)] if key is not None else [], np.int32)

    def _shift_steps(self, tokens: np.ndarray) -> np.ndarray:
        return np.where(self.vocabulary.is_shift(tokens), tokens - self.vocabulary.shift_offset + 1, 0)

    def _trim(self, row: np.ndarray, budget_steps: int, config: SampleConfig) -> np.ndarray:
        """Cut a batch row where its own time budget ran out (rows of a batch finish at different tokens)."""
        if config.events is not None:
            return row
        elapsed = np.cumsum(self._shift_steps(row))
        over = np.nonzero(elapsed >= budget_steps)[0]
        return row[: over[0] + 1] if len(over) else row

    def _to_sequence(self, tokens: np.ndarray, transpose: int, key: Key | None):
        """The piece, transposed, with the key it was asked to be in written as its key signature."""
        sequence = self.vocabulary.decode(tokens)
        for note in sequence.notes:
            note.pitch = int(np.clip(note.pitch + transpose, 0, 127))
        if key is not None:
            set_key_signature(sequence, key.transposed(transpose))
        return sequence


def choose(logits: np.ndarray, config: SampleConfig, rngs: list[np.random.Generator]) -> np.ndarray:
    """One token per row from (batch, vocab) logits: specials masked, then temperature, top-k, top-p."""
    logits = logits.astype(np.float64).copy()
    logits[:, : len(SPECIAL_TOKENS)] = -np.inf
    if config.temperature == 0:
        return logits.argmax(axis=1).astype(np.int32)
    logits /= config.temperature
    if config.top_k:
        # a k beyond the vocabulary (the bound is the largest vocabulary's) keeps every token
        kth = np.sort(logits, axis=1)[:, -min(config.top_k, logits.shape[1])][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    if config.top_p < 1:
        order = np.argsort(-probabilities, axis=1)
        ranked = np.take_along_axis(probabilities, order, axis=1)
        # keep the smallest set whose mass reaches top_p: a token stays if the mass before it is short
        keep_ranked = np.cumsum(ranked, axis=1) - ranked < config.top_p - 1e-9
        # the likeliest token always stays (a top_p near 0 would otherwise keep none: NaN, then <pad>)
        keep_ranked[:, 0] = True
        keep = np.zeros_like(keep_ranked)
        np.put_along_axis(keep, order, keep_ranked, axis=1)
        probabilities = np.where(keep, probabilities, 0)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(probabilities, axis=1)
    draws = np.array([rng.random() for rng in rngs])[:, None]
    return np.minimum((cumulative < draws).sum(axis=1), logits.shape[1] - 1).astype(np.int32)
