import json

import numpy as np
import pytest

from corridos.constants import CORPUS_FRAME_SECONDS
from corridos.errors import BadInputError
from corridos.symbolic.keys import parse_key
from corridos.symbolic.tokenizer import BOS, EOS, PAD, TokenizerConfig, Vocabulary
from corridos.tablature.instrument import REQUINTO
from tests.helpers import line, notes, rows


def random_grid_sequence(seed: int, vocabulary: Vocabulary, polyphonic: bool):
    rng = np.random.default_rng(seed)
    step, config = vocabulary.config.step_seconds, vocabulary.config
    velocities = [80] if not config.velocity_bins else [vocabulary.bin_velocity(b) for b in range(config.velocity_bins)]
    result, free_at = [], {}
    time = 0
    for _ in range(300):
        time += int(rng.integers(0 if polyphonic else 1, 250))  # gaps beyond 1 s too
        pitch = int(rng.integers(config.pitch_min, config.pitch_max + 1))
        if free_at.get(pitch, -1) > time:
            continue
        length = int(rng.integers(1, 80))
        free_at[pitch] = time + length
        result.append((time * step, (time + length) * step, pitch, int(rng.choice(velocities))))
    return notes(*result)


@pytest.mark.parametrize("bins", [0, 8, 32])
@pytest.mark.parametrize("polyphonic", [False, True])
@pytest.mark.parametrize("step", [0.01, 0.032])
def test_round_trip_is_exact_on_the_grid(bins, polyphonic, step):
    vocabulary = Vocabulary(TokenizerConfig(step_seconds=step, velocity_bins=bins))
    sequence = random_grid_sequence(bins + int(polyphonic), vocabulary, polyphonic)
    decoded = vocabulary.decode(vocabulary.encode(sequence))
    assert rows(decoded) == rows(sequence)


def test_long_silence_takes_several_shift_tokens():
    vocabulary = Vocabulary(TokenizerConfig(step_seconds=0.01, max_shift_seconds=1.0))
    tokens = vocabulary.encode(notes((2.5, 2.6, 60, 80)))
    names = [vocabulary.token_name(t) for t in tokens]
    assert names == ["shift_100", "shift_100", "shift_50", "on_60", "shift_10", "off_60"]


def test_restruck_note_ends_before_it_starts_again():
    vocabulary = Vocabulary()
    sequence = notes((0.0, 0.512, 70, 80), (0.512, 0.608, 70, 80))  # 16 and 19 frames
    names = [vocabulary.token_name(t) for t in vocabulary.encode(sequence)]
    assert names == ["on_70", "shift_16", "off_70", "on_70", "shift_3", "off_70"]
    assert rows(vocabulary.decode(vocabulary.encode(sequence))) == rows(sequence)


def test_corpus_times_decode_to_their_frames():
    # The corpus's MIDI ticks put each 32 ms frame time up to about 1.1 ms off (SOURCE.md)
    frames = np.array([0, 3, 5, 9, 14])
    jitter = np.array([0.0011, -0.0011, 0.0004, -0.0007, 0.0009])
    times = frames * CORPUS_FRAME_SECONDS + jitter
    sequence = notes(*[(start, end, 64 + i, 80) for i, (start, end) in enumerate(zip(times[:-1], times[1:]))])
    decoded = Vocabulary().decode_arrays(Vocabulary().encode(sequence))
    np.testing.assert_allclose(decoded.start, frames[:-1] * CORPUS_FRAME_SECONDS)
    np.testing.assert_allclose(decoded.end, frames[1:] * CORPUS_FRAME_SECONDS)


def test_off_grid_times_snap_to_the_nearest_step_and_never_vanish():
    vocabulary = Vocabulary(TokenizerConfig(step_seconds=0.01))
    decoded = vocabulary.decode(vocabulary.encode(notes((0.0132, 0.0149, 64, 80))))
    assert rows(decoded) == [(0.01, 0.02, 64, 80)]


def test_out_of_range_pitch_is_refused():
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Vocabulary().encode(notes((0, 1, 30, 80)))


def test_decode_ignores_specials_stops_at_eos_and_closes_open_notes():
    vocabulary = Vocabulary()
    tokens = [BOS, vocabulary.note_on(60), vocabulary.shift(5), PAD, EOS, vocabulary.note_on(62)]
    assert rows(vocabulary.decode(tokens)) == [(0.0, 0.16, 60, 80)]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocabulary.decode([vocabulary.size + 3])


def test_transpose_moves_notes_and_respects_the_range():
    vocabulary = Vocabulary()
    tokens = vocabulary.encode(notes((0, 0.1, 60, 80), (0.2, 0.3, 85, 80)))
    low, high = vocabulary.transpose_range(tokens)
    assert (low, high) == (45 - 60, 88 - 85)
    up = vocabulary.decode(vocabulary.transpose(tokens, 3))
    assert [n.pitch for n in up.notes] == [63, 88]
    with pytest.raises(ValueError, match="leaves the pitch range"):
        vocabulary.transpose(tokens, 4)


def test_vocabulary_saves_and_loads(tmp_path):
    vocabulary = Vocabulary(TokenizerConfig(step_seconds=0.02, max_shift_seconds=1.0, velocity_bins=4))
    vocabulary.save(tmp_path / "v.json")
    loaded = Vocabulary.load(tmp_path / "v.json")
    assert loaded.size == vocabulary.size == 3 + 50 + 44 * 2 + 4 + 24 + 1  # 24 keys, then the any-key token
    assert loaded.config == vocabulary.config


def test_default_range_is_the_requintos_from_open_low_string_to_top_fret():
    config = TokenizerConfig()
    assert (config.pitch_min, config.pitch_max) == (REQUINTO.lowest_pitch(capo=0), REQUINTO.highest_pitch()) == (45, 88)


def test_a_songs_key_token_round_trips_and_moves_with_transposition():
    vocabulary = Vocabulary()
    song = vocabulary.encode_song(line([57, 60, 64, 69]).sorted(), parse_key("A minor"))
    assert vocabulary.token_name(int(song[0])) == "key_A_minor"
    assert vocabulary.song_key(song) == parse_key("A minor")
    assert [n.pitch for n in vocabulary.decode(song).notes] == [57, 60, 64, 69]  # the key token is no note
    assert vocabulary.song_key(vocabulary.transpose(song, 3)) == parse_key("C minor")
    assert vocabulary.song_key(vocabulary.transpose(song, -2)) == parse_key("G minor")


def test_every_window_starts_with_the_key_and_windows_cover_each_event_once():
    vocabulary = Vocabulary()
    song = vocabulary.encode_song(line([60, 62, 64, 65, 67] * 8).sorted(), parse_key("C major"))
    windows = [vocabulary.window(song, start, 16) for start in vocabulary.window_starts(song, 16)]
    assert all(w[0] == song[0] and len(w) <= 17 for w in windows)
    assert windows[0][1] == BOS
    targets = np.concatenate([w[1:] for w in windows])
    assert np.array_equal(targets[targets != BOS], song[1:])


def test_a_vocabulary_saved_before_key_tokens_loads_without_them_and_refuses_a_key(tmp_path):
    old = Vocabulary(TokenizerConfig(key_tokens=False))
    stored = old.to_json()
    del stored["config"]["key_tokens"]  # as vocabularies were saved before keys
    (tmp_path / "old.json").write_text(json.dumps(stored))
    loaded = Vocabulary.load(tmp_path / "old.json")
    assert loaded.size == old.size == Vocabulary().size - 25 and not loaded.config.key_tokens
    song = loaded.encode_song(line([60, 64, 67]).sorted())
    assert not loaded.is_key(song).any() and loaded.split_key(song)[0].size == 0
    with pytest.raises(BadInputError, match="no key tokens"):
        loaded.key_token(parse_key("A minor"))


def test_the_any_key_token_comes_last_is_no_key_and_stays_put_under_transposition():
    vocabulary = Vocabulary()
    assert vocabulary.any_key == vocabulary.size - 1 and vocabulary.token_name(vocabulary.any_key) == "key_any"
    song = vocabulary.encode_song(line([57, 60, 64, 69]).sorted(), parse_key("A minor"))
    window = np.concatenate([[vocabulary.any_key], song[1:]]).astype(np.int32)
    assert not vocabulary.is_key(window[:1]).any()  # "no key given" is none of the 24
    moved = vocabulary.transpose(window, 3)
    assert moved[0] == vocabulary.any_key and [n.pitch for n in vocabulary.decode(moved).notes] == [60, 63, 67, 72]


def test_a_vocabulary_saved_before_the_any_key_token_keeps_its_ids_and_has_none(tmp_path):
    stored = Vocabulary().to_json()
    del stored["config"]["any_key_token"]  # as vocabularies were saved before key dropout
    stored["size"] -= 1
    stored["tokens"].pop()
    (tmp_path / "old.json").write_text(json.dumps(stored))
    loaded = Vocabulary.load(tmp_path / "old.json")
    assert loaded.size == Vocabulary().size - 1 and loaded.config.key_tokens and not loaded.has_any_key
    assert loaded.key_token(parse_key("B minor")) == Vocabulary().key_token(parse_key("B minor"))
    with pytest.raises(BadInputError, match="no any-key token"):
        _ = loaded.any_key
