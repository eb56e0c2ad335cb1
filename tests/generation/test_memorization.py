import math

import pytest

from corridos.generation.memorization import copy_rate
from tests.helpers import line

RISING = list(range(60, 80))  # 20 notes: 13 8-grams


def test_a_copy_and_an_original():
    assert copy_rate([line(RISING)], [line(RISING)]) == 1.0
    assert copy_rate([line(RISING)], [line([40, 41] * 20)]) == 0.0


def test_a_known_fraction():
    # the training song holds 60..69 only: the 8-grams starting at 60, 61 and 62 of 13
    assert copy_rate([line(RISING)], [line(list(range(60, 70)) + [50] * 10)]) == pytest.approx(3 / 13)
    # pooled over pieces with their repeats: 13 copied 8-grams and 13 new ones
    assert copy_rate([line(RISING), line([r + 30 for r in RISING])], [line(RISING)]) == pytest.approx(0.5)


def test_the_melody_is_the_top_voice():
    chords = line(RISING)
    below = line([p - 12 for p in RISING])
    from corridos.symbolic.sequences import NoteArrays

    assert copy_rate([NoteArrays.concatenate([chords, below])], [line(RISING)]) == 1.0


def test_pieces_too_short_to_judge_give_nan():
    assert math.isnan(copy_rate([line([60, 62, 64])], [line(RISING)]))
