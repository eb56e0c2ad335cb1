import numpy as np
import pytest

from corridos.generation.features import (
    compare_sets,
    excerpt,
    features,
    in_scale_ratio,
    kl_divergence,
    overlapped_area,
    repetition_ratio,
)
from tests.helpers import line

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def test_features_of_a_scale():
    values = features(line(C_MAJOR))
    assert values["pitch_count"] == 8
    assert values["pitch_range"] == 12
    assert values["note_count"] == 8
    assert values["average_pitch_interval"] == pytest.approx(12 / 7)
    assert values["average_inter_onset_interval"] == pytest.approx(0.25)
    assert values["pitch_class_histogram"][0] == pytest.approx(2 / 8)  # C twice
    assert values["pitch_class_histogram"][1] == 0
    assert values["pitch_class_transition_matrix"][0, 2] == pytest.approx(1 / 7)  # C -> D once in 7 steps
    lengths = features(line(C_MAJOR, length=0.22))["note_length_histogram"]
    assert lengths.sum() == pytest.approx(1) and lengths[4] == 1  # the 0.2-0.3 s bin


def test_in_scale_ratio():
    assert in_scale_ratio(line(C_MAJOR)) == 1.0
    assert in_scale_ratio(line(C_MAJOR[:7] + [66])) == pytest.approx(7 / 8)  # C major or G major: one note out
    assert in_scale_ratio(line(list(range(60, 72)))) == pytest.approx(7 / 12)


def test_repetition_ratio_catches_a_stuck_loop():
    loop = line([60, 62] * 50)
    # 93 8-grams, 3 distinct: the two phases of the loop and the last one (its final note's rhythm differs)
    assert repetition_ratio(loop) == pytest.approx(1 - 3 / (100 - 8 + 1))
    assert repetition_ratio(line(list(range(52, 92)))) == 0.0


def test_overlap_and_divergence_of_distributions():
    rng = np.random.default_rng(0)
    same = rng.normal(0, 1, 400)
    assert overlapped_area(same, same) == pytest.approx(1, abs=1e-6)
    assert kl_divergence(same, same) == pytest.approx(0, abs=1e-6)
    far = rng.normal(10, 1, 400)
    assert overlapped_area(same, far) < 0.01
    assert kl_divergence(same, far) > 10


def test_samples_like_the_reference_overlap_more_than_a_degenerate_loop():
    rng = np.random.default_rng(1)
    reference = [line(list(rng.integers(55, 80, 40))) for _ in range(12)]
    similar = [line(list(rng.integers(55, 80, 40))) for _ in range(12)]
    stuck = [line([60, 61] * 20) for _ in range(12)]
    good, bad = compare_sets(similar, reference), compare_sets(stuck, reference)
    assert good["pitch_count"]["overlapped_area"] > bad["pitch_count"]["overlapped_area"]
    assert np.mean([v["overlapped_area"] for v in good.values()]) > np.mean(
        [v["overlapped_area"] for v in bad.values()]
    )


def test_excerpt_takes_the_middle():
    cut = excerpt(line(list(range(60, 100)), step=1.0), 10.0)
    assert cut.start.min() == 0 and len(cut) == 10 and cut.pitch[0] == 75
