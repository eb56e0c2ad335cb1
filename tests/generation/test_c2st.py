import numpy as np
import pytest

from corridos.errors import ConfigError
from corridos.generation.c2st import FEATURE_COUNT, c2st_auc, key_of, window_features, windows
from corridos.symbolic.sequences import NoteArrays, to_arrays
from tests.helpers import line, melody, motif_song

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def random_walks(seeds: range) -> list[NoteArrays]:
    return [to_arrays(melody(seed)) for seed in seeds]


def test_two_halves_of_one_set_are_indistinguishable():
    result = c2st_auc(random_walks(range(0, 30)), random_walks(range(30, 60)))
    assert abs(result.auc - 0.5) < 0.2, result
    assert result.windows == (30, 30) and result.spread >= 0


def test_an_obviously_different_set_is_told_apart():
    motifs = [to_arrays(motif_song(seed)) for seed in range(20)]
    result = c2st_auc(motifs, random_walks(range(20)))
    assert result.auc > 0.95, result


def test_windows_of_long_songs_and_short_pieces():
    song = line([60, 62] * 200)  # 100 s: three full windows, the 10 s tail dropped
    parts = windows(song)
    assert len(parts) == 3 and all(part.start.min() == 0 and part.start.max() < 30 for part in parts)
    assert len(windows(line(C_MAJOR))) == 1  # 2 s: shorter than a window, the whole piece


def test_key_is_found_and_features_are_key_normalised():
    assert key_of(line(C_MAJOR * 4))[:2] == (0, False)
    a_minor = [57, 59, 60, 62, 64, 65, 67, 69, 64, 69, 57, 64]
    assert key_of(line(a_minor * 4))[:2] == (9, True)
    piece = line(C_MAJOR * 4)
    up = NoteArrays(piece.start, piece.end, piece.pitch + 5, piece.velocity)
    ours, theirs = window_features(piece), window_features(up)
    assert ours.shape == (FEATURE_COUNT,)
    # transposed: everything equal but the register (the last five features)
    np.testing.assert_allclose(ours[:-5], theirs[:-5])
    assert theirs[-5] == pytest.approx(ours[-5] + 5)


def test_c2st_needs_two_pieces_on_each_side():
    with pytest.raises(ConfigError, match="at least 2 pieces"):
        c2st_auc(random_walks(range(1)), random_walks(range(5)))
