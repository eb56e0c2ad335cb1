"""Event tokens for requinto lines: time shifts, note-ons, note-offs, optional velocity bins, and
one token per key that conditions a song on its key.

No beat grid: the corpus has no stable tempo (docs/FACTS.md), so time moves in fixed steps: by
default the corpus's own 32 ms frame, up to 32 frames per token. Decoding is exact for notes whose
times sit on the step grid and whose velocities are bin values.

A song's tokens start with its key token (music21's analysis of the song, corridos/symbolic/keys.py),
then the events. A window cut from anywhere in the song starts with that key token too
(`Vocabulary.window`), so every window a model trains on, and every piece it samples, begins with
the key it is in. One more token, the any-key token, stands for "no key given": training puts it
in place of the key token in a share of windows (`ModelConfig.key_dropout`), so that the model also
writes without a key, which key guidance at sampling needs (corridos/generation/sampling.py).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from corridos.constants import CORPUS_FRAME_SECONDS, DEFAULT_VELOCITY
from corridos.errors import BadInputError
from corridos.symbolic.keys import KEY_COUNT, KEYS, Key, analyse_key
from corridos.symbolic.sequences import NoteArrays, from_arrays, to_arrays
from corridos.tablature.instrument import REQUINTO

PAD, BOS, EOS = 0, 1, 2
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")


@dataclasses.dataclass
class TokenizerConfig:
    step_seconds: float = CORPUS_FRAME_SECONDS
    max_shift_seconds: float = 32 * CORPUS_FRAME_SECONDS
    # The requinto's whole range, as the cleaning keeps it.
    pitch_min: int = REQUINTO.lowest_pitch(capo=0)
    pitch_max: int = REQUINTO.highest_pitch()
    velocity_bins: int = 0  # 0: no velocity tokens; decoded notes get DEFAULT_VELOCITY
    key_tokens: bool = True  # one token per key, first in every window
    any_key_token: bool = True  # with key tokens: one more, "no key given", for key dropout


class Vocabulary:
    """Token ids, laid out as: specials | time shifts 1..S | note-on | note-off | velocity bins | keys |
    any key.

    The keys come last, so a vocabulary saved before key tokens (or before the any-key token) keeps
    every id it had."""

    def __init__(self, config: TokenizerConfig = TokenizerConfig()):
        self.config = config
        self.max_shift_steps = int(round(config.max_shift_seconds / config.step_seconds))
        self.num_pitches = config.pitch_max - config.pitch_min + 1
        self.shift_offset = len(SPECIAL_TOKENS)
        self.note_on_offset = self.shift_offset + self.max_shift_steps
        self.note_off_offset = self.note_on_offset + self.num_pitches
        self.velocity_offset = self.note_off_offset + self.num_pitches
        self.key_offset = self.velocity_offset + config.velocity_bins
        keys = KEY_COUNT + int(config.any_key_token) if config.key_tokens else 0
        self.size = self.key_offset + keys

    # ---- ids
    def shift(self, steps: int) -> int:
        return self.shift_offset + steps - 1

    def note_on(self, pitch: int) -> int:
        return self.note_on_offset + pitch - self.config.pitch_min

    def note_off(self, pitch: int) -> int:
        return self.note_off_offset + pitch - self.config.pitch_min

    def velocity_bin(self, velocity: int) -> int:
        return min(max(velocity, 1), 127) * self.config.velocity_bins // 128

    def bin_velocity(self, velocity_bin: int) -> int:
        """The velocity a bin decodes to: the middle of its range."""
        low = -(-velocity_bin * 128 // self.config.velocity_bins)
        high = -(-(velocity_bin + 1) * 128 // self.config.velocity_bins) - 1
        return max(1, (low + high) // 2)

    def is_note_on(self, tokens: np.ndarray) -> np.ndarray:
        return (tokens >= self.note_on_offset) & (tokens < self.note_off_offset)

    def is_note_event(self, tokens: np.ndarray) -> np.ndarray:
        return (tokens >= self.note_on_offset) & (tokens < self.velocity_offset)

    def is_key(self, tokens: np.ndarray) -> np.ndarray:
        """True for the 24 key tokens (not the any-key token)."""
        return (tokens >= self.key_offset) & (tokens < self.key_offset + KEY_COUNT)

    @property
    def has_any_key(self) -> bool:
        return self.config.key_tokens and self.config.any_key_token

    @property
    def any_key(self) -> int:
        """The any-key token: "no key given", in place of a window's key token."""
        if not self.has_any_key:
            raise BadInputError("vocabulary", "it has no any-key token (built before key dropout)")
        return self.key_offset + KEY_COUNT

    @property
    def window_prefix(self) -> int:
        """How many tokens open every window whatever its start: the key token, when there are keys."""
        return 1 if self.config.key_tokens else 0

    def key_token(self, key: Key) -> int:
        if not self.config.key_tokens:
            raise BadInputError("key", f"{key.name}: this model's vocabulary has no key tokens (trained before keys)")
        return self.key_offset + key.index

    def is_shift(self, tokens: np.ndarray) -> np.ndarray:
        return (tokens >= self.shift_offset) & (tokens < self.note_on_offset)

    def token_name(self, token: int) -> str:
        if token < self.shift_offset:
            return SPECIAL_TOKENS[token]
        if token < self.note_on_offset:
            return f"shift_{token - self.shift_offset + 1}"
        if token < self.note_off_offset:
            return f"on_{token - self.note_on_offset + self.config.pitch_min}"
        if token < self.velocity_offset:
            return f"off_{token - self.note_off_offset + self.config.pitch_min}"
        if token < self.key_offset:
            return f"velocity_{token - self.velocity_offset}"
        if token == self.key_offset + KEY_COUNT:
            return "key_any"
        return f"key_{KEYS[token - self.key_offset].name.replace(' ', '_')}"

    # ---- sequences
    def encode_song(self, notes: NoteArrays, key: Key | None = None) -> np.ndarray:
        """A song's tokens: its key token (when the vocabulary has keys), then its events. `key`:
        the song's key if known; None: music21's analysis of the notes."""
        prefix = [self.key_token(key or analyse_key(notes))] if self.config.key_tokens else []
        return np.concatenate([np.asarray(prefix, np.int32), self.encode_arrays(notes)])

    def split_key(self, song: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the song's key token, or nothing; its events)."""
        keyed = 1 if len(song) and self.is_key(song[:1])[0] else 0
        return song[:keyed], song[keyed:]

    def song_key(self, song: np.ndarray) -> Key:
        """The key a song's tokens start with; BadInputError when they start with none."""
        key, _ = self.split_key(song)
        if not len(key):
            raise BadInputError("song", "its tokens do not start with a key token")
        return KEYS[int(key[0]) - self.key_offset]

    def window(self, song: np.ndarray, start: int, length: int) -> np.ndarray:
        """Up to `length` + 1 tokens of a song (its inputs and, shifted by one, its targets): the song's
        key token, then <bos> + events from `start` on. With a key the first target is the token at
        `start`, without one the token after it; windows `length` apart cover each token once."""
        key, events = self.split_key(song)
        body = np.concatenate([[BOS], events])
        return np.concatenate([key, body[start : start + length + 1 - len(key)]]).astype(np.int32)

    def window_starts(self, song: np.ndarray, length: int) -> range:
        """Starts of consecutive windows whose targets cover each of a song's events once."""
        key, events = self.split_key(song)
        return range(0, max(1, len(events) + len(key)), length)

    def encode(self, sequence) -> np.ndarray:
        """NoteSequence -> int32 tokens (no BOS/EOS). Notes outside the pitch range are an error."""
        return self.encode_arrays(to_arrays(sequence))

    def encode_arrays(self, notes: NoteArrays) -> np.ndarray:
        low, high = self.config.pitch_min, self.config.pitch_max
        if len(notes) and (notes.pitch.min() < low or notes.pitch.max() > high):
            raise ValueError(f"pitches {notes.pitch.min()}-{notes.pitch.max()} outside the vocabulary's {low}-{high}")
        step = self.config.step_seconds
        start = np.round(notes.start / step).astype(np.int64)
        end = np.maximum(np.round(notes.end / step).astype(np.int64), start + 1)
        count = len(notes)
        # Events sorted by time, note-offs before note-ons at the same time so re-strikes work.
        times = np.concatenate([end, start])
        kinds = np.concatenate([np.zeros(count, np.int8), np.ones(count, np.int8)])
        pitches = np.concatenate([notes.pitch, notes.pitch]).astype(np.int64)
        velocities = np.concatenate([notes.velocity, notes.velocity])
        order = np.lexsort((pitches, kinds, times))
        tokens: list[int] = []
        now, current_bin = 0, None
        for time, kind, pitch, velocity in zip(
            times[order].tolist(), kinds[order].tolist(), pitches[order].tolist(), velocities[order].tolist()
        ):
            tokens.extend(self._shifts(time - now))
            now = time
            if kind == 0:
                tokens.append(self.note_off(pitch))
                continue
            if self.config.velocity_bins:
                velocity_bin = self.velocity_bin(velocity)
                if velocity_bin != current_bin:
                    tokens.append(self.velocity_offset + velocity_bin)
                    current_bin = velocity_bin
            tokens.append(self.note_on(pitch))
        return np.asarray(tokens, dtype=np.int32)

    def _shifts(self, steps: int) -> list[int]:
        full, rest = divmod(steps, self.max_shift_steps)
        return [self.shift(self.max_shift_steps)] * full + ([self.shift(rest)] if rest else [])

    def decode(self, tokens: np.ndarray | list[int]):
        """Tokens -> NoteSequence, as `decode_arrays` reads them."""
        return from_arrays(self.decode_arrays(tokens))

    def decode_arrays(self, tokens: np.ndarray | list[int]) -> NoteArrays:
        """Tokens -> notes. Stops at EOS; ignores PAD, BOS and key tokens; a note still on at the end
        is closed there (one step long at least), so any token sequence decodes."""
        step = self.config.step_seconds
        velocity = DEFAULT_VELOCITY
        now = 0
        active: dict[int, tuple[int, int]] = {}
        notes: list[tuple[int, int, int, int]] = []

        def close(pitch: int) -> None:
            start, note_velocity = active.pop(pitch)
            notes.append((start, max(now, start + 1), pitch, note_velocity))

        for token in np.asarray(tokens).tolist():
            if token == EOS:
                break
            if token < self.shift_offset:
                continue
            if token < self.note_on_offset:
                now += token - self.shift_offset + 1
            elif token < self.note_off_offset:
                pitch = token - self.note_on_offset + self.config.pitch_min
                if pitch in active:
                    close(pitch)
                active[pitch] = (now, velocity)
            elif token < self.velocity_offset:
                pitch = token - self.note_off_offset + self.config.pitch_min
                if pitch in active:
                    close(pitch)
            elif token < self.key_offset:
                velocity = self.bin_velocity(token - self.velocity_offset)
            elif token >= self.size:
                raise ValueError(f"token {token} outside the vocabulary (size {self.size})")
        for pitch in list(active):
            close(pitch)
        return NoteArrays(
            start=np.array([n[0] for n in notes], dtype=np.float64) * step,
            end=np.array([n[1] for n in notes], dtype=np.float64) * step,
            pitch=np.array([n[2] for n in notes], dtype=np.int16),
            velocity=np.array([n[3] for n in notes], dtype=np.int16),
        ).sorted()

    def transpose(self, tokens: np.ndarray, semitones: int) -> np.ndarray:
        """Shift every note token by `semitones`, and the key token with them (its tonic moves, its
        mode stays); the caller keeps the notes inside the range."""
        out = np.array(tokens, copy=True)
        on = self.is_note_on(out)
        off = self.is_note_event(out) & ~on
        out[on] = self._shift_within(out[on], semitones, self.note_on_offset)
        out[off] = self._shift_within(out[off], semitones, self.note_off_offset)
        keys = self.is_key(out)
        out[keys] = [self.key_token(KEYS[k - self.key_offset].transposed(semitones)) for k in out[keys].tolist()]
        return out

    def _shift_within(self, ids: np.ndarray, semitones: int, offset: int) -> np.ndarray:
        shifted = ids + semitones
        if len(ids) and (shifted.min() < offset or shifted.max() >= offset + self.num_pitches):
            raise ValueError(f"transposing by {semitones} leaves the pitch range")
        return shifted

    def transpose_range(self, tokens: np.ndarray) -> tuple[int, int]:
        """The smallest and largest transposition that keeps every note inside the range."""
        notes = tokens[self.is_note_event(tokens)]
        if not len(notes):
            return 0, 0
        relative = np.where(notes < self.note_off_offset, notes - self.note_on_offset, notes - self.note_off_offset)
        return -int(relative.min()), self.num_pitches - 1 - int(relative.max())

    # ---- persistence
    def to_json(self) -> dict:
        return {
            "config": dataclasses.asdict(self.config),
            "size": self.size,
            "tokens": [self.token_name(t) for t in range(self.size)],
        }

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        stored = json.loads(Path(path).read_text())
        # A vocabulary saved before key tokens (or the any-key token) existed has none: its config
        # does not name them.
        vocabulary = cls(TokenizerConfig(**{"key_tokens": False, "any_key_token": False, **stored["config"]}))
        if vocabulary.size != stored["size"]:
            raise BadInputError(
                str(path), f"vocabulary size {stored['size']} does not match its config ({vocabulary.size})"
            )
        return vocabulary
