import re
import xml.etree.ElementTree as ET

import pytest

from corridos.tablature.ascii import ascii_tab
from corridos.tablature.fingering import finger
from corridos.tablature.grid import STEPS_PER_BAR, STEPS_PER_QUARTER, columns
from corridos.tablature.guitarpro import note_values, write_gp5
from corridos.tablature.instrument import GUITAR, REQUINTO
from corridos.tablature.musicxml import write_musicxml
from corridos.tablature.picture import write_picture
from tests.helpers import band, melody, notes


@pytest.fixture(scope="module")
def tab():
    """Chords, runs, a note held across a bar line and a capo: what the writers must all carry."""
    return finger(band(7, 40), REQUINTO, capo=2)


def test_columns_keep_order_and_every_event(tab):
    placed = columns(tab)
    assert [c.notes for c in placed] == tab.events
    assert all(b.step > a.step for a, b in zip(placed, placed[1:]))
    assert all(c.length >= 1 and (c is placed[-1] or c.step + c.length <= n.step) for c, n in zip(placed, placed[1:]))
    # onsets 10 ms apart still get a column each, in order
    close = finger(notes((0.0, 0.1, 60, 80), (0.05, 0.1, 62, 80), (0.06, 0.2, 64, 80)))
    assert [c.step for c in columns(close)] == [0, 1]


def musicxml_notes(score):
    """(column onset, sorted pitches, sorted (string, fret)) per struck chord or note, as music21 reads it.
    music21 gathers a chord's technicals on the chord, in no fixed order, so they are compared sorted."""
    from music21 import articulations

    found = []
    for element in score.recurse().notes:
        if element.tie is not None and element.tie.type != "start":
            continue
        members = list(element.notes) if element.isChord else [element]
        marks = list(element.articulations) + [a for m in members if m is not element for a in m.articulations]
        strings = [a.number for a in marks if isinstance(a, articulations.StringIndication)]
        frets = [a.number for a in marks if isinstance(a, articulations.FretIndication)]
        onset = round(float(element.getOffsetInHierarchy(score)) * STEPS_PER_QUARTER)
        found.append((onset, sorted(m.pitch.midi for m in members), sorted(zip(strings, frets))))
    return found


def test_musicxml_read_back_by_music21_has_the_same_pitches_strings_and_frets(tab, tmp_path):
    from music21 import converter

    path = write_musicxml(tab, tmp_path / "tab.musicxml")
    expected = [
        (c.step, sorted(n.pitch for n in c.notes), sorted((n.string, n.fret) for n in c.notes)) for c in columns(tab)
    ]
    assert musicxml_notes(converter.parse(path)) == expected
    # every written note, tied halves and chord members too, carries its string and fret
    root = ET.parse(path).getroot()
    sounding = [n for n in root.iter("note") if n.find("pitch") is not None]
    assert all(n.find("notations/technical/string") is not None for n in sounding)
    assert any(n.find("chord") is not None for n in sounding) and any(n.find("tie") is not None for n in sounding)


def test_musicxml_staff_details_carry_tuning_and_capo(tab, tmp_path):
    details = ET.parse(write_musicxml(tab, tmp_path / "tab.musicxml")).getroot().find(".//staff-details")
    assert details.findtext("staff-lines") == "6"
    assert details.findtext("capo") == "2"
    tuning = [
        (t.get("line"), t.findtext("tuning-step"), t.findtext("tuning-alter"), t.findtext("tuning-octave"))
        for t in details.findall("staff-tuning")
    ]
    assert tuning == [
        ("1", "A", None, "2"),
        ("2", "D", None, "3"),
        ("3", "G", None, "3"),
        ("4", "C", None, "4"),
        ("5", "E", None, "4"),
        ("6", "A", None, "4"),
    ]


def test_gp5_read_back_by_pyguitarpro_has_the_same_notes(tab, tmp_path):
    import guitarpro

    song = guitarpro.parse(str(write_gp5(tab, tmp_path / "tab.gp5")))
    track = song.tracks[0]
    assert [(s.number, s.value) for s in track.strings] == [(1, 69), (2, 64), (3, 60), (4, 55), (5, 50), (6, 45)]
    assert (track.offset, track.fretCount, song.tempo) == (2, 19, 120)
    struck, ties = [], []
    ticks_per_step = guitarpro.Duration.quarterTime // STEPS_PER_QUARTER
    for measure in track.measures:
        for beat in measure.voices[0].beats:
            step = (beat.start - guitarpro.Duration.quarterTime) // ticks_per_step
            for note in beat.notes:
                (ties if note.type == guitarpro.NoteType.tie else struck).append((step, note.string, note.value))
    assert struck == [(c.step, n.string, n.fret) for c in columns(tab) for n in c.notes]
    assert ties and {s for _, s, _ in ties} <= {n.string for n in tab.notes}
    bar_ticks = STEPS_PER_BAR * ticks_per_step
    assert all(sum(b.duration.time for b in m.voices[0].beats) == bar_ticks for m in track.measures)


@pytest.mark.parametrize("steps", range(1, 40))
def test_note_values_are_writable_and_add_up(steps):
    values = note_values(steps)
    assert sum(values) == steps and all(v in (32, 24, 16, 12, 8, 6, 4, 3, 2, 1) for v in values)


@pytest.mark.parametrize("width", [120, 250])
def test_ascii_tab_has_one_line_per_string_and_every_fret_at_its_step(tab, width):
    text = ascii_tab(tab, width=width)
    labels = ["A4", "E4", "C4", "G3", "D3", "A2"]  # the tuning, highest string first
    rows = [line for line in text.splitlines() if "|" in line]
    assert len(rows) % 6 == 0 and rows
    found = set()
    cell = 3  # some frets have two digits
    first_bar = 0
    for row_index in range(0, len(rows), 6):
        system = rows[row_index : row_index + 6]
        assert [line.split("|")[0] for line in system] == labels
        assert len({len(line) for line in system}) == 1 and max(map(len, system)) <= width
        for string, line in enumerate(system, start=1):
            cells = "".join(line.split("|")[1:])
            for match in re.finditer(r"\d+", cells):
                found.add((first_bar * STEPS_PER_BAR + match.start() // cell, string, int(match.group())))
        first_bar += system[0].count("|") - 1
    assert found == {(c.step, n.string, n.fret) for c in columns(tab) for n in c.notes}


def test_ascii_tab_lists_the_notes_not_played_as_written():
    text = ascii_tab(finger(notes((0.0, 0.5, 30, 80), (0.5, 1.0, 64, 80)), GUITAR))
    assert text.startswith("Guitar tab, strings labelled by their tuning, no capo;")
    assert "1 note(s) not played as written" in text
    assert "F#1 (octave): moved up 1 octave(s) to F#2: below the lowest note E2" in text


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_picture_is_written(suffix, magic, tmp_path):
    path = write_picture(finger(melody(3, 60)), tmp_path / f"tab{suffix}")
    assert path.read_bytes().startswith(magic)
