import numpy as np
import pytest

from corridos.errors import BadInputError
from corridos.symbolic.keys import KEYS, Key, analyse_key, key_match_rate, key_signature, parse_key, set_key_signature
from corridos.symbolic.sequences import NoteArrays, to_arrays
from corridos.symbolic.tokenizer import Vocabulary
from tests.helpers import melody, notes

# A line in a known key: the scale run up and down, then the tonic triad held longer.
MAJOR_SCALE, MINOR_SCALE = (0, 2, 4, 5, 7, 9, 11, 12), (0, 2, 3, 5, 7, 8, 11, 12)  # minor: harmonic


def line_in(key: Key, low: int = 57) -> NoteArrays:
    tonic = low + (key.tonic - low) % 12
    scale = MAJOR_SCALE if key.mode == "major" else MINOR_SCALE
    third = 4 if key.mode == "major" else 3
    steps = [*scale, *scale[::-1], 0, third, 7, 12, 7, third, 0]
    lengths = [0.2] * 16 + [0.6] * 7
    start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pitches = np.array([tonic + s for s in steps], np.int16)
    return NoteArrays(start, start + np.array(lengths), pitches, np.full(len(steps), 80, np.int16))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("A minor", Key(9, "minor")),
        ("a MINOR", Key(9, "minor")),
        ("F# major", Key(6, "major")),
        ("Bb major", Key(10, "major")),
        ("B- major", Key(10, "major")),
        ("Db minor", Key(1, "minor")),
    ],
)
def test_key_names_parse_with_sharps_flats_and_any_case(text, expected):
    assert parse_key(text) == expected


def test_names_round_trip_and_there_are_24_keys():
    assert len(KEYS) == 24 and [parse_key(k.name) for k in KEYS] == list(KEYS)
    assert Key(10, "major").name == "Bb major" and Key(1, "minor").name == "C# minor"


@pytest.mark.parametrize("text", ["H major", "A", "A dorian", "minor", "A## minor", ""])
def test_an_unknown_key_is_refused_naming_it_and_the_accepted_form(text):
    with pytest.raises(BadInputError, match=f"key: {text!r} is not a key; expected '<tonic> major' or '<tonic> minor'"):
        parse_key(text)


@pytest.mark.parametrize("key", [Key(0, "major"), Key(9, "minor"), Key(7, "major"), Key(4, "minor")])
def test_key_labels_survive_transposition(key):
    vocabulary = Vocabulary()
    assert analyse_key(line_in(key)) == key
    song = vocabulary.encode_song(line_in(key))
    assert vocabulary.song_key(song) == key
    for semitones in range(-5, 7):
        moved = vocabulary.transpose(song, semitones)
        assert vocabulary.song_key(moved) == key.transposed(semitones)
        assert analyse_key(to_arrays(vocabulary.decode(moved))) == key.transposed(semitones)


def test_the_pitch_class_summary_gives_music21s_answer_for_the_whole_line():
    from music21 import note, stream

    for seed in range(3):
        line = to_arrays(melody(seed, count=120))
        whole = stream.Stream()
        for start, end, pitch in zip(line.start, line.end, line.pitch):
            whole.insert(float(start), note.Note(int(pitch), quarterLength=float(end - start)))
        expected = whole.analyze("key")
        assert analyse_key(line) == Key(expected.tonic.pitchClass, expected.mode)


def test_key_match_rate_counts_pieces_in_the_key_asked_for():
    pieces = [line_in(Key(0, "major")), line_in(Key(9, "minor")), line_in(Key(2, "major"))]
    asked = [Key(0, "major"), Key(9, "minor"), Key(7, "major")]
    assert key_match_rate(pieces, asked) == pytest.approx(2 / 3)
    empty = NoteArrays(np.zeros(0), np.zeros(0), np.zeros(0, np.int16), np.zeros(0, np.int16))
    assert key_match_rate([empty], [Key(0, "major")]) == 0.0
    with pytest.raises(ValueError, match="as many"):
        key_match_rate(pieces, asked[:2])


def test_a_key_signature_is_written_and_read_back():
    sequence = notes((0, 1, 60, 80))
    assert key_signature(sequence) is None
    set_key_signature(sequence, Key(9, "minor"))
    assert key_signature(sequence) == Key(9, "minor")
