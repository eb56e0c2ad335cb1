import numpy as np

from corridos.symbolic.duplicates import DuplicateConfig, exact_key, find_groups, fingerprint, title_key
from corridos.symbolic.sequences import NoteArrays, to_arrays
from tests.helpers import melody, notes


def arrays(sequence) -> NoteArrays:
    return to_arrays(sequence)


def transposed_and_shifted(sequence, semitones: int, seconds: float, tempo: float = 1.0):
    return notes(
        *[
            ((n.start_time + seconds) * tempo, (n.end_time + seconds) * tempo, n.pitch + semitones, n.velocity)
            for n in sequence.notes
        ]
    )


def group_of(groups, name):
    return [g for g in groups if name in g.members]


def test_transposed_time_shifted_and_faster_copy_is_a_near_duplicate():
    songs = {f"Artist {i} - Song {i}.mid": arrays(melody(i)) for i in range(6)}
    copy = transposed_and_shifted(melody(3), semitones=-5, seconds=7.3, tempo=0.9)
    songs["Someone Else - Renamed.mid"] = arrays(copy)
    config = DuplicateConfig()
    groups = find_groups({n: fingerprint(a, config.ngram) for n, a in songs.items()}, {}, config)
    near = [g for g in groups if g.kind == "near"]
    assert [g.members for g in near] == [["Artist 3 - Song 3.mid", "Someone Else - Renamed.mid"]]
    assert near[0].score == 1.0


def test_a_lightly_edited_copy_still_matches_but_different_songs_do_not():
    original = arrays(melody(1, count=300))
    keep = np.ones(len(original), bool)
    keep[::25] = False  # the transcriber missed every 25th note
    config = DuplicateConfig()
    fingerprints = {
        "a.mid": fingerprint(original, 8),
        "b.mid": fingerprint(original.take(keep), 8),
        "c.mid": fingerprint(arrays(melody(2, count=300)), 8),
    }
    groups = find_groups(fingerprints, {}, config)
    assert [g.members for g in groups if g.kind == "near"] == [["a.mid", "b.mid"]]


def test_exact_key_ignores_time_offset_but_not_pitch():
    sequence = melody(5)
    assert exact_key(arrays(sequence)) == exact_key(arrays(transposed_and_shifted(sequence, 0, 3.0)))
    assert exact_key(arrays(sequence)) != exact_key(arrays(transposed_and_shifted(sequence, 2, 0)))


def test_title_key_matches_live_and_studio_versions():
    assert title_key("Herencia de Patrones - Bladi 420.mid") == title_key(
        "Herencia de Patrones - Bladi420 (En vivo).mid"
    )
    assert title_key("X - El Amigo Del Amigo.mid") == title_key("X - Amigo Del Amigo (En vivo).mid")
    assert title_key("A - El AK.mid") != title_key("A - Mi Cuerno.mid")


def test_same_title_groups_can_be_turned_off():
    songs = {"A - Tema.mid": fingerprint(arrays(melody(1)), 8), "B - Tema.mid": fingerprint(arrays(melody(2)), 8)}
    assert [g.kind for g in find_groups(songs, {}, DuplicateConfig())] == ["title"]
    assert find_groups(songs, {}, DuplicateConfig(group_same_title=False)) == []
