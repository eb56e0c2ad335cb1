from collections import Counter

import numpy as np
import pytest

from corridos.errors import ConfigError
from corridos.tablature.fingering import FingeringConfig, finger
from corridos.tablature.instrument import GUITAR, REQUINTO, Instrument, instrument_named
from tests.helpers import band, melody, notes


def chords(seed: int, count: int = 60):
    """Random two- to four-note chords anywhere from E2 to C7, some out of the requinto's range."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        start = round(index * 0.25, 2)
        for pitch in set(rng.integers(40, 97, rng.integers(2, 5)).tolist()):
            rows.append((start + float(rng.integers(0, 3)) * 0.01, start + 0.2, pitch, 80))
    return notes(*rows)


PIECES = [melody(1), melody(2, low=48, high=96), band(3), chords(4), chords(5)]
DROP_D = Instrument("drop-D guitar", open_pitches=(38, 45, 50, 55, 59, 64), frets=22, max_capo=9)
SETUPS = [(REQUINTO, 0), (REQUINTO, 3), (REQUINTO, 7), (GUITAR, 2), (DROP_D, 9)]


@pytest.mark.parametrize("instrument,capo", SETUPS)
@pytest.mark.parametrize("piece", range(len(PIECES)))
def test_every_note_sounds_its_pitch_within_the_frets(piece, instrument, capo):
    tab = finger(PIECES[piece], instrument, capo)
    assert tab.notes
    for note in tab.notes:
        assert instrument.open_pitch(note.string) + capo + note.fret == note.pitch
        assert 0 <= note.fret <= instrument.frets - capo
        assert 1 <= note.string <= instrument.strings


@pytest.mark.parametrize("piece", range(len(PIECES)))
def test_no_note_is_lost_without_a_report(piece):
    sequence = PIECES[piece]
    tab = finger(sequence, REQUINTO, 2)
    expected = Counter(int(n.pitch) for n in sequence.notes)
    for adjustment in tab.adjustments:
        if adjustment.kind == "octave":
            expected[adjustment.pitch] -= 1
            expected[adjustment.played_pitch] += 1
    for adjustment in tab.adjustments:
        if adjustment.kind in ("merged", "dropped"):
            # these name the pitch as it reached the chord, after any octave move
            expected[adjustment.pitch] -= 1
    assert +expected == Counter(n.pitch for n in tab.notes)


@pytest.mark.parametrize("piece", range(len(PIECES)))
def test_one_note_per_string_at_a_time(piece):
    tab = finger(PIECES[piece], REQUINTO, 0)
    for event in tab.events:
        assert len({n.string for n in event}) == len(event)
    for string in range(1, REQUINTO.strings + 1):
        on_string = sorted((n for n in tab.notes if n.string == string), key=lambda n: n.start)
        for note, following in zip(on_string, on_string[1:]):
            assert note.start < note.end <= following.start


@pytest.mark.parametrize("seed", range(6))
def test_viterbi_never_costs_more_than_the_lowest_fret_baseline(seed):
    for sequence in (melody(seed), band(seed, 80), chords(seed)):
        for instrument, capo in SETUPS:
            viterbi = finger(sequence, instrument, capo)
            baseline = finger(sequence, instrument, capo, method="lowest")
            assert viterbi.cost <= baseline.cost + 1e-9
            assert [len(e) for e in viterbi.events] == [len(e) for e in baseline.events]


def test_viterbi_beats_the_baseline_on_a_run_up_the_top_string():
    # A4 to E5 and back: at the lowest frets all on the top string, the hand climbing 2-3-5-7;
    # across the two top strings the run fits one position.
    line = [69, 71, 72, 74, 76, 74, 72, 71] * 4
    sequence = notes(*[(i * 0.12, i * 0.12 + 0.1, p, 80) for i, p in enumerate(line)])
    viterbi, baseline = finger(sequence), finger(sequence, method="lowest")
    assert viterbi.cost < baseline.cost
    assert viterbi.shifts < baseline.shifts


def test_a_chord_no_hand_span_holds_keeps_its_top_note_and_reports_the_rest():
    # A#2 only exists at fret 1 of the low string, E6 only at fret 19 of the top one.
    tab = finger(notes((0.0, 1.0, 88, 80), (0.0, 1.0, 46, 80), (0.0, 1.0, 64, 80)))
    assert [(n.pitch, n.string, n.fret) for n in tab.notes] == [(88, 1, 19), (64, 2, 0)]
    (dropped,) = tab.adjustments
    assert (dropped.kind, dropped.pitch, dropped.played_pitch) == ("dropped", 46, None)
    assert "no hand span" in dropped.reason


def test_a_chord_of_more_notes_than_strings_is_reduced_with_a_report():
    pitches = [45, 50, 55, 60, 64, 69, 74]
    tab = finger(notes(*[(0.0, 1.0, p, 80) for p in pitches]))
    assert len(tab.notes) <= REQUINTO.strings
    dropped = [a.pitch for a in tab.adjustments if a.kind == "dropped"]
    assert sorted(dropped + [n.pitch for n in tab.notes]) == pitches
    assert max(n.pitch for n in tab.notes) == 74


def test_out_of_range_notes_move_by_octaves_and_are_reported():
    tab = finger(notes((0.0, 0.5, 30, 80), (1.0, 1.5, 100, 80)), REQUINTO, capo=5)
    assert [n.pitch for n in tab.notes] == [54, 88]
    assert [(a.kind, a.pitch, a.played_pitch) for a in tab.adjustments] == [("octave", 30, 54), ("octave", 100, 88)]
    assert "capo 5" in tab.adjustments[0].reason


def test_spread_chord_within_the_window_is_one_event():
    window = FingeringConfig().chord_window_seconds
    tab = finger(notes((0.0, 1.0, 64, 80), (window * 0.9, 1.0, 69, 80), (window * 2.5, 1.0, 72, 80)))
    assert [len(e) for e in tab.events] == [2, 1]


def test_capo_and_instrument_are_checked():
    with pytest.raises(ConfigError, match="capo 8: the requinto takes a capo at frets 0-7"):
        finger(melody(0), REQUINTO, 8)
    with pytest.raises(ConfigError, match="instrument 'banjo'"):
        instrument_named("banjo")
    with pytest.raises(ConfigError, match="under an octave"):
        Instrument("ukulele stub", open_pitches=(67,), frets=4, max_capo=0)
    assert REQUINTO.open_pitches == (45, 50, 55, 60, 64, 69)
    assert GUITAR.open_pitches == (40, 45, 50, 55, 59, 64)
