import pytest

from corridos.symbolic.cleaning import CleaningConfig, clean
from corridos.symbolic.sequences import from_arrays
from tests.helpers import notes, rows

ONLY = dict(
    min_velocity=0,
    min_duration_seconds=0,
    pitch_min=0,
    pitch_max=127,
    reonset_seconds=0,
    top_voice_window_seconds=0,
    cut_at_next_onset=False,
    min_notes=0,
    min_in_range_share=0,
)


def only(**rule):
    return CleaningConfig(**{**ONLY, **rule})


def test_velocity_rule_removes_quiet_notes():
    result = clean(notes((0, 0.2, 60, 39), (1, 1.2, 62, 40), (2, 2.2, 64, 100)), only(min_velocity=40))
    assert [n.velocity for n in result.kept.notes] == [40, 100]
    assert result.removed_by_rule["velocity"] == 1
    assert rows(from_arrays(result.removed_notes)) == [(0, 0.2, 60, 39)]


def test_duration_rule_removes_single_frame_notes():
    result = clean(notes((0, 0.032, 60, 80), (1, 1.05, 62, 80), (2, 2.3, 64, 80)), only(min_duration_seconds=0.05))
    assert [n.pitch for n in result.kept.notes] == [62, 64]
    assert result.removed_by_rule["duration"] == 1


def test_pitch_rule_keeps_the_requinto_range():
    result = clean(
        notes((0, 1, 51, 80), (1, 2, 52, 80), (2, 3, 93, 80), (3, 4, 94, 80)), only(pitch_min=52, pitch_max=93)
    )
    assert [n.pitch for n in result.kept.notes] == [52, 93]
    assert result.removed_by_rule["pitch_range"] == 2


def test_reonset_rule_merges_quick_restrikes_of_one_pitch():
    sequence = notes((0.0, 0.05, 60, 80), (0.064, 0.2, 60, 80), (0.3, 0.4, 60, 80), (0.032, 0.1, 62, 80))
    result = clean(sequence, only(reonset_seconds=0.064))
    # The restrike at 64 ms joins the first note (which now lasts to 0.2); the one at 300 ms stays.
    assert rows(result.kept) == [(0.0, 0.2, 60, 80), (0.032, 0.1, 62, 80), (0.3, 0.4, 60, 80)]
    assert result.removed_by_rule["reonset"] == 1


def test_top_voice_keeps_the_highest_note_of_each_onset_group():
    sequence = notes(
        (0.0, 0.5, 60, 80),
        (0.032, 0.5, 67, 80),
        (0.0, 0.5, 64, 80),  # one group, top 67
        (0.5, 0.9, 62, 80),
        (0.6, 0.9, 59, 80),
    )  # 100 ms apart: two groups
    result = clean(sequence, only(top_voice_window_seconds=0.040))
    assert [n.pitch for n in result.kept.notes] == [67, 62, 59]
    assert result.removed_by_rule["top_voice"] == 2


def test_cut_at_next_onset_makes_the_line_monophonic():
    result = clean(notes((0, 1.0, 60, 80), (0.5, 0.7, 62, 80), (0.8, 0.9, 64, 80)), only(cut_at_next_onset=True))
    assert rows(result.kept) == [(0, 0.5, 60, 80), (0.5, 0.7, 62, 80), (0.8, 0.9, 64, 80)]
    assert result.shortened == 1


def test_rules_apply_in_order_and_count_each_note_once():
    sequence = notes((0, 0.02, 40, 10), (1, 1.5, 70, 80), (1.01, 1.5, 65, 80))
    result = clean(sequence, CleaningConfig(min_notes=1, min_in_range_share=0))
    assert result.removed_by_rule == {"velocity": 1, "duration": 0, "pitch_range": 0, "reonset": 0, "top_voice": 1}
    assert result.notes_in == 3 and result.notes_out == 1
    assert len(result.removed_notes) == 2


@pytest.mark.parametrize(
    "sequence, reason",
    [
        (
            notes(*[(i, i + 0.5, 40, 80) for i in range(60)], *[(i, i + 0.5, 70, 80) for i in range(10)]),
            "mostly out of range",
        ),
        (notes(*[(i, i + 0.5, 70, 80) for i in range(10)]), "too few notes"),
    ],
)
def test_quality_filter_rejects_files_that_are_not_a_requinto_line(sequence, reason):
    assert reason in clean(sequence, CleaningConfig(min_notes=20)).rejected


def test_defaults_are_the_measured_ones():
    config = CleaningConfig()
    assert (config.min_velocity, config.min_duration_seconds, config.pitch_min, config.pitch_max) == (40, 0.05, 45, 88)
    assert (config.reonset_seconds, config.top_voice_window_seconds, config.cut_at_next_onset) == (0.064, 0.04, True)
