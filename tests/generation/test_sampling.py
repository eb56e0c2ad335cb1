import dataclasses
import subprocess
import sys

import keras
import numpy as np
import pytest

from corridos.errors import BadInputError, ConfigError
from corridos.generation.models import ModelConfig, build_model
from corridos.generation.sampling import DEFAULT_KEY_CANDIDATES, SampleConfig, Sampler, choose
from corridos.symbolic.keys import analyse_key, key_signature, parse_key
from corridos.symbolic.sequences import write_midi
from corridos.symbolic.tokenizer import BOS, SPECIAL_TOKENS, TokenizerConfig, Vocabulary
from tests.helpers import notes


@pytest.fixture(scope="module")
def sampler():
    # seeded weights: an untrained model's key token may barely move its logits, and a test that
    # asks whether it changes the music must not depend on the draw
    keras.utils.set_random_seed(0)
    vocabulary = Vocabulary()
    model = build_model(
        ModelConfig(family="transformer", embedding_dim=16, hidden_dim=32, layers=2, heads=2, context=32, dropout=0),
        vocabulary.size,
    )
    return Sampler(model, vocabulary)


def test_same_seed_same_music_and_another_seed_other_music(sampler):
    config = SampleConfig(seconds=3, seed=7, top_k=40, top_p=0.9)
    first = sampler.sample_tokens(np.zeros(0, np.int32), config, samples=2)
    again = sampler.sample_tokens(np.zeros(0, np.int32), config, samples=2)
    other = sampler.sample_tokens(np.zeros(0, np.int32), SampleConfig(seconds=3, seed=8, top_k=40, top_p=0.9))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], first[1])  # batch rows draw from their own streams
    assert not np.array_equal(first[0], other[0])


def test_one_sampler_takes_batches_of_any_size_in_turn(sampler):
    """Each batch size has its own compiled step and cache (the service warms 1, 2, 4, ... in turn)."""
    for size in (1, 2, 4, 3, 1):
        pieces = sampler.generate_each([SampleConfig(seconds=1, seed=seed) for seed in range(size)])
        assert len(pieces) == size


def test_length_in_seconds_and_in_events(sampler):
    tokens = sampler.sample_tokens(np.zeros(0, np.int32), SampleConfig(seconds=2.0))[0]
    steps = np.where(sampler.vocabulary.is_shift(tokens), tokens - sampler.vocabulary.shift_offset + 1, 0)
    two_seconds = round(2.0 / sampler.vocabulary.config.step_seconds)
    assert steps.sum() >= two_seconds and steps[:-1].sum() < two_seconds  # stops at the shift that reaches 2 s
    assert len(sampler.sample_tokens(np.zeros(0, np.int32), SampleConfig(events=25))[0]) == 25


def test_primer_is_kept_and_continued_and_transpose_moves_everything(sampler, tmp_path):
    primer = write_midi(notes((0, 0.5, 60, 80), (0.5, 1.0, 64, 80), (1.0, 1.5, 67, 80)), tmp_path / "primer.mid")
    config = SampleConfig(seconds=2, primer=str(primer), seed=1, transpose=2)
    piece = sampler.generate(config)[0]
    assert [n.pitch for n in piece.notes[:3]] == [62, 66, 69]
    primer_tokens = sampler.vocabulary.encode(notes((0, 0.5, 60, 80), (0.5, 1.0, 64, 80), (1.0, 1.5, 67, 80)))
    tokens = sampler.sample_tokens(primer_tokens, config)[0]
    assert np.array_equal(tokens[: len(primer_tokens)], primer_tokens) and len(tokens) > len(primer_tokens)


@pytest.mark.parametrize("content, reason", [(b"", "empty file"), (b"RIFF....WAVE", "not a MIDI file")])
def test_bad_primer_file_gets_a_clear_error(sampler, tmp_path, content, reason):
    path = tmp_path / "primer.mid"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=f"primer {path}: {reason}"):
        sampler.generate(SampleConfig(seconds=1, primer=str(path)))


def test_primer_with_nothing_in_range_is_refused(sampler, tmp_path):
    path = write_midi(notes((0, 1, 30, 80), (1, 2, 35, 80)), tmp_path / "bass.mid")
    with pytest.raises(BadInputError, match="no notes left after cleaning: of 2, 2 by the pitch_range rule"):
        sampler.generate(SampleConfig(seconds=1, primer=str(path)))


def test_primer_of_too_short_notes_is_blamed_on_the_duration_rule(sampler, tmp_path):
    """Notes of 4 ms in the requinto range: the duration rule removes them, not the pitch range."""
    path = write_midi(notes(*((i * 0.1, i * 0.1 + 0.004, 60 + i, 80) for i in range(8))), tmp_path / "short.mid")
    with pytest.raises(BadInputError, match="of 8, 8 by the duration rule") as raised:
        sampler.generate(SampleConfig(seconds=1, primer=str(path)))
    assert "pitch_range rule" not in str(raised.value)


def test_cli_reports_a_bad_primer_and_exits_non_zero(tmp_path):
    (tmp_path / "primer.mid").write_text("not midi")
    model = tmp_path / "model"
    from corridos.generation.models import save_model

    vocabulary = Vocabulary()
    save_model(build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=8, layers=1), vocabulary.size), model)
    vocabulary.save(model / "vocabulary.json")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "corridos.cli",
            "generate",
            str(model),
            "--primer",
            str(tmp_path / "primer.mid"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert f"primer {tmp_path / 'primer.mid'}: not a MIDI file" in done.stderr


LOGITS = np.log(np.array([[1e-9, 1e-9, 1e-9, 0.5, 0.3, 0.15, 0.05]]))


def test_choose_masks_specials_and_honours_temperature_top_k_and_top_p():
    rng = lambda: [np.random.default_rng(0)]  # noqa: E731
    assert choose(LOGITS, SampleConfig(temperature=0), rng())[0] == 3
    draws = lambda config: {int(choose(LOGITS, config, [np.random.default_rng(s)])[0]) for s in range(300)}  # noqa: E731
    assert draws(SampleConfig()) == {3, 4, 5, 6}  # the default top_p 1 keeps every note
    assert draws(SampleConfig(top_p=0.95)) == {3, 4, 5}  # cuts the 0.05 tail
    assert draws(SampleConfig(top_k=2)) == {3, 4}
    assert draws(SampleConfig(top_p=0.8)) == {3, 4}  # 0.5 + 0.3 reaches 0.8
    assert draws(SampleConfig(top_p=0.81)) == {3, 4, 5}
    assert draws(SampleConfig(top_k=1, temperature=2)) == {3}


def test_top_k_beyond_the_vocabulary_keeps_every_token():
    """top_k may be up to 1000 (the bound), the vocabulary is smaller: no IndexError."""
    draws = {int(choose(LOGITS, SampleConfig(top_k=1000, top_p=1), [np.random.default_rng(s)])[0]) for s in range(300)}
    assert draws == {3, 4, 5, 6}


@pytest.mark.parametrize("top_p", [1e-9, 1e-12, 1e-300])
def test_a_tiny_top_p_samples_the_likeliest_token_never_a_special(top_p):
    rngs = [np.random.default_rng(s) for s in range(50)]
    chosen = choose(np.repeat(LOGITS, 50, axis=0), SampleConfig(top_p=top_p), rngs)
    assert set(chosen.tolist()) == {3}


def test_tiny_top_p_and_huge_top_k_sample_notes_with_a_model(sampler):
    pieces = sampler.generate(SampleConfig(seconds=2, top_p=1e-10, top_k=1000, seed=3))
    tokens = sampler.sample_tokens(np.zeros(0, np.int32), SampleConfig(seconds=2, top_p=1e-10, top_k=1000))[0]
    assert (tokens >= len(SPECIAL_TOKENS)).all() and len(pieces) == 1


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"top_p": 0}, "top_p 0 must be > 0"),
        ({"top_p": 1.01}, "top_p 1.01 must be <= 1"),
        ({"temperature": -1}, "temperature -1 must be >= 0"),
        ({"seconds": 0}, "seconds 0 must be >= 1"),
        ({"seconds": 181}, "seconds 181 must be <= 180"),
        ({"top_k": -3}, "top_k -3 must be >= 0"),
        ({"events": 0}, "events 0 must be >= 1"),
        ({"seed": -1}, "seed -1 must be >= 0"),
        ({"transpose": 13}, "transpose 13 must be <= 12"),
    ],
)
def test_out_of_bounds_settings_are_refused_naming_the_setting(settings, message):
    with pytest.raises(ConfigError, match=message):
        SampleConfig(**settings)


def test_a_key_conditions_the_piece_and_is_written_as_its_key_signature(sampler):
    minor = sampler.generate(SampleConfig(seconds=8, seed=3, key="A minor", transpose=2))[0]
    major = sampler.generate(SampleConfig(seconds=8, seed=3, key="C major", transpose=2))[0]
    assert key_signature(minor) == parse_key("B minor") and key_signature(major) == parse_key("D major")
    assert [n.pitch for n in minor.notes] != [n.pitch for n in major.notes]  # the key token changes the music


def test_without_a_key_the_sampler_draws_one_from_the_seed(sampler):
    drawn = [key_signature(sampler.generate(SampleConfig(seconds=1, seed=seed))[0]) for seed in range(8)]
    assert drawn == [key_signature(sampler.generate(SampleConfig(seconds=1, seed=seed))[0]) for seed in range(8)]
    assert len(set(drawn)) > 3


def test_an_unknown_key_is_refused_naming_the_value_and_the_form():
    with pytest.raises(BadInputError, match="key: 'H major' is not a key; expected '<tonic> major' or"):
        SampleConfig(key="H major")


def test_a_model_trained_before_keys_samples_and_refuses_a_key():
    vocabulary = Vocabulary(TokenizerConfig(key_tokens=False))
    model = build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=8, layers=1), vocabulary.size)
    old = Sampler(model, vocabulary)
    piece = old.generate(SampleConfig(seconds=1))[0]
    assert key_signature(piece) is None and len(piece.notes)
    with pytest.raises(BadInputError, match="key: A minor: this model's vocabulary has no key tokens"):
        old.generate(SampleConfig(seconds=1, key="A minor"))
    with pytest.raises(BadInputError, match="key_candidates: 3: this model takes no key; only 1 works"):
        old.generate(SampleConfig(seconds=1, key_candidates=3))
    assert old.key_candidates(SampleConfig()) == 1


def test_key_candidates_keep_the_first_heard_in_the_key(sampler):
    """On lines of known keys: the first candidate in the asked key is kept, else the first drawn."""
    vocabulary = sampler.vocabulary
    a_minor = vocabulary.encode(
        notes(*[(i * 0.5, i * 0.5 + 0.5, p, 80) for i, p in enumerate([57, 60, 64, 69, 64, 60, 57])])
    )
    c_major = vocabulary.encode(
        notes(*[(i * 0.5, i * 0.5 + 0.5, p, 80) for i, p in enumerate([60, 64, 67, 72, 67, 64, 60])])
    )
    assert sampler._in_key([a_minor, c_major], parse_key("C major")) is c_major
    assert sampler._in_key([a_minor, c_major], parse_key("A minor")) is a_minor
    assert sampler._in_key([c_major, a_minor], parse_key("F# major")) is c_major  # none: the first


def test_key_candidates_draw_from_the_piece_stream_and_its_spawn(sampler):
    """Candidate 0 draws from the piece's own stream (one candidate: the music as before), the
    others from streams spawned from it; the piece kept is the first heard in its key."""
    key = parse_key("A minor")
    one = dataclasses.replace(SampleConfig(seconds=3, key=key.name), key_candidates=1)
    parent = np.random.default_rng([2, 0])
    alone = [sampler.sample_tokens(np.zeros(0, np.int32), one, 1, [s], [key])[0] for s in (parent, *parent.spawn(3))]
    heard = [analyse_key(sampler.vocabulary.decode_arrays(t)) == key for t in alone]
    assert heard[:2] == [False, True]  # this stream's first candidate misses the key, the second has it
    config = dataclasses.replace(one, key_candidates=4)
    chosen = sampler.sample_tokens(np.zeros(0, np.int32), config, 1, [np.random.default_rng([2, 0])], [key])[0]
    assert np.array_equal(chosen, alone[1])
    assert len({tuple(t) for t in alone}) == 4  # each candidate its own stream
    with pytest.raises(ConfigError, match="key_candidates 9 must be <= 8"):
        SampleConfig(key_candidates=9)


@pytest.fixture(scope="module")
def guided():
    """A sampler of a model trained with key dropout (untrained weights: the guidance's arithmetic
    does not depend on them)."""
    keras.utils.set_random_seed(1)
    vocabulary = Vocabulary()
    config = ModelConfig(embedding_dim=16, hidden_dim=32, layers=2, heads=2, context=32, dropout=0, key_dropout=0.1)
    return Sampler(build_model(config, vocabulary.size), vocabulary)


def _log_probabilities_after(sampler, first_token: int) -> np.ndarray:
    """The model's log-probabilities of the drawable tokens after [first_token, <bos>]."""
    logits = keras.ops.convert_to_numpy(sampler.model(np.array([[first_token, BOS]], np.int32)))[0, -1]
    drawable = logits[len(SPECIAL_TOKENS) : sampler.vocabulary.key_offset].astype(np.float64)
    return drawable - np.logaddexp.reduce(drawable)


def _guided_log_probabilities(vocabulary, keyed: np.ndarray, keyless: np.ndarray, guidance: float) -> np.ndarray:
    """The guidance's arithmetic written out over drawable log-probabilities: the note-on pitches
    pushed, log p = u + g (k - u), renormalised to the keyed row's note-on mass; the rest keyed."""
    pitches = slice(vocabulary.note_on_offset - len(SPECIAL_TOKENS), vocabulary.note_off_offset - len(SPECIAL_TOKENS))
    pushed = keyless[pitches] + guidance * (keyed[pitches] - keyless[pitches])
    guided = keyed.copy()
    guided[pitches] = pushed - np.logaddexp.reduce(pushed) + np.logaddexp.reduce(keyed[pitches])
    return guided


def test_key_guidance_pushes_the_keyed_pitch_away_from_the_keyless_one(guided):
    vocabulary = guided.vocabulary
    keyless = _log_probabilities_after(guided, vocabulary.any_key)
    for name in ("A minor", "C major", "F# major", "Eb minor"):
        keyed = _log_probabilities_after(guided, vocabulary.key_token(parse_key(name)))
        for guidance in (1.0, 6.0):
            config = SampleConfig(events=1, temperature=0, key=name, key_guidance=guidance)
            first = guided.sample_tokens(np.zeros(0, np.int32), config)[0][0]
            expected = _guided_log_probabilities(vocabulary, keyed, keyless, guidance)
            assert first == np.argmax(expected) + len(SPECIAL_TOKENS), (name, guidance)


@pytest.mark.parametrize("guidance", [0.0, 3.0])
def test_key_guidance_moves_only_the_pitch_of_a_note_on(guided, guidance):
    """On known logits: every token but the note-on pitches keeps the keyed probability, the note-ons
    together too; among them, the pitch follows u + g (k - u) (at 0, the keyless twin alone)."""
    vocabulary, drawable = guided.vocabulary, len(SPECIAL_TOKENS)
    logits = np.random.default_rng(0).normal(0, 2, (2, vocabulary.key_offset))  # keyed row, keyless twin
    probabilities = np.exp(guided._guided(logits, guidance, samples=1)[0, drawable:])
    keyed, keyless = (np.exp(row - np.logaddexp.reduce(row)) for row in logits[:, drawable:])
    pitches = np.zeros(len(keyed), bool)
    pitches[vocabulary.note_on_offset - drawable : vocabulary.note_off_offset - drawable] = True
    assert probabilities.sum() == pytest.approx(1)
    np.testing.assert_allclose(probabilities[~pitches], keyed[~pitches])
    assert probabilities[pitches].sum() == pytest.approx(keyed[pitches].sum())
    pushed = np.log(keyless[pitches]) + guidance * (np.log(keyed[pitches]) - np.log(keyless[pitches]))
    np.testing.assert_allclose(
        probabilities[pitches] / probabilities[pitches].sum(), np.exp(pushed) / np.exp(pushed).sum()
    )


def test_sampling_is_plain_and_chosen_by_key_by_default(guided, sampler):
    """Guidance is a choice, for a model trained with key dropout only; candidates, for a model
    that takes a key."""
    assert guided.key_guidance(SampleConfig()) == sampler.key_guidance(SampleConfig()) == 1
    assert guided.key_candidates(SampleConfig()) == sampler.key_candidates(SampleConfig()) == DEFAULT_KEY_CANDIDATES > 1
    with pytest.raises(BadInputError, match="key_guidance: 2: this model was trained without key dropout"):
        sampler.generate(SampleConfig(seconds=1, key_guidance=2))
    with pytest.raises(ConfigError, match="key_guidance 9 must be <= 8"):
        SampleConfig(key_guidance=9)


def test_cli_options_take_their_defaults_and_bounds_from_sample_config():
    from typer.testing import CliRunner

    from corridos.cli.main import app

    help_text = CliRunner().invoke(app, ["generate", "--help"], env={"COLUMNS": "200"}).output
    assert "[default: 1.0]" in help_text and "[0<=x<=1]" in help_text  # top_p
    assert "[1<=x<=180]" in help_text  # seconds
    refused = CliRunner().invoke(app, ["generate", "no-model", "--seconds", "181"])
    assert refused.exit_code == 2 and "Invalid value for '--seconds'" in refused.output
    unknown_key = CliRunner().invoke(app, ["generate", "no-model", "--key", "H major"])
    assert unknown_key.exit_code != 0 and "key: 'H major' is not a key" in unknown_key.output
    assert len(unknown_key.output.strip().splitlines()) == 1
