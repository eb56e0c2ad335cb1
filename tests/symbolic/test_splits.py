import pytest

from corridos.errors import ConfigError
from corridos.symbolic.splits import SplitConfig, artist_of, assign

NAMES = [f"Artist {a} - Song {s}.mid" for a in range(8) for s in range(6)]
SIZES = {n: 100 + 7 * i for i, n in enumerate(NAMES)}
GROUPS = [
    ["Artist 0 - Song 0.mid", "Artist 5 - Song 3.mid"],
    ["Artist 2 - Song 1.mid", "Artist 7 - Song 5.mid", "Artist 3 - Song 2.mid"],
]


def test_same_seed_same_split_and_another_seed_another():
    first = assign(NAMES, GROUPS, SplitConfig(seed=1), SIZES)
    assert first == assign(list(reversed(NAMES)), GROUPS, SplitConfig(seed=1), SIZES)
    assert first != assign(NAMES, GROUPS, SplitConfig(seed=2), SIZES)


@pytest.mark.parametrize("seed", range(10))
def test_groups_never_straddle_splits(seed):
    split = assign(NAMES, GROUPS, SplitConfig(seed=seed, validation_fraction=0.3), SIZES)
    for group in GROUPS:
        assert len({split[n] for n in group}) == 1


def test_validation_share_is_close_to_the_target():
    split = assign(NAMES, [], SplitConfig(validation_fraction=0.25), SIZES)
    share = sum(SIZES[n] for n in NAMES if split[n] == "validation") / sum(SIZES.values())
    assert 0.2 <= share <= 0.3
    assert set(split.values()) == {"train", "validation"}


def test_artist_split_keeps_each_artist_in_one_split():
    split = assign(NAMES, GROUPS, SplitConfig(by="artist", validation_fraction=0.3, seed=4), SIZES)
    for artist in {artist_of(n) for n in NAMES}:
        # a duplicate group may join two artists, but an artist is never divided
        assert len({split[n] for n in NAMES if artist_of(n) == artist}) == 1
    assert "validation" in split.values()


def test_test_list_holds_out_songs_with_their_groups():
    split = assign(NAMES, GROUPS, SplitConfig(test=("Artist 0 - Song 0", "Artist 4 - Song 4.mid")), SIZES)
    assert {n for n, s in split.items() if s == "test"} == {
        "Artist 0 - Song 0.mid",
        "Artist 5 - Song 3.mid",
        "Artist 4 - Song 4.mid",
    }


def test_unknown_test_song_is_an_error():
    with pytest.raises(ConfigError, match="Nobody - Nothing"):
        assign(NAMES, [], SplitConfig(test=("Nobody - Nothing",)), SIZES)


def test_artist_of():
    assert artist_of("Junior H - El AK.mid") == "Junior H"
    assert artist_of("450 - Junior H - El Padrinox.mid") == "450"
    assert artist_of("prediction.mid") == "prediction"
