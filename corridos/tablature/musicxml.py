"""MusicXML with a TAB staff, made with music21 and completed where its exporter stops.

music21 10.5 keeps a string and fret on every note of the score, but its exporter writes them only
for single notes: a chord writes the chord's own technicals on its first note and none for its
members, and the tied second half of a note split at a bar line gets none. Its <staff-details>
has no tuning and no capo either (both TODO in m21ToXml). So after music21 writes the file, the
staff's tuning and capo and every missing <technical> are added here (checked with music21 10.5).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from corridos.tablature.fingering import Tab
from corridos.tablature.grid import BEATS_PER_BAR, STEPS_PER_QUARTER, TEMPO_BPM, Column, columns


def tab_score(tab: Tab, title: str = ""):
    """A music21 Score of one TAB part; each note carries its string and fret as technicals."""
    from music21 import articulations, chord, clef, layout, metadata, meter, note, stream, tempo

    part = stream.Part()
    part.partName = tab.instrument.name.capitalize()
    part.insert(0, clef.TabClef())
    part.insert(0, layout.StaffLayout(staffLines=tab.instrument.strings))
    part.insert(0, meter.TimeSignature(f"{BEATS_PER_BAR}/4"))
    part.insert(0, tempo.MetronomeMark(number=TEMPO_BPM))
    for column in columns(tab):
        members = []
        for tab_note in column.notes:
            member = note.Note(midi=tab_note.pitch)
            member.articulations = [
                articulations.StringIndication(tab_note.string),
                articulations.FretIndication(tab_note.fret),
            ]
            members.append(member)
        element = members[0] if len(members) == 1 else chord.Chord(members)
        element.quarterLength = column.length / STEPS_PER_QUARTER
        part.insert(column.step / STEPS_PER_QUARTER, element)
    score = stream.Score([part])
    score.metadata = metadata.Metadata(title=title or f"{part.partName} tab")
    return score


def write_musicxml(tab: Tab, path: str | Path, title: str = "") -> Path:
    """Write `tab` as MusicXML: a TAB staff with the instrument's tuning and capo, string and
    fret on every note."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    text = GeneralObjectExporter(tab_score(tab, title)).parse().decode("utf-8")
    # ElementTree drops the XML declaration and DOCTYPE: keep them as music21 wrote them.
    prolog, body = text.split("<score-partwise", 1)
    root = ET.fromstring("<score-partwise" + body)
    _write_staff_details(root, tab)
    _write_technicals(root, columns(tab))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(prolog + ET.tostring(root, encoding="unicode") + "\n", encoding="utf-8")
    return path


def _write_staff_details(root: ET.Element, tab: Tab) -> None:
    """Tuning (line 1 is the lowest string) and capo, in the <staff-details> music21 began."""
    from music21 import pitch

    details = root.find("part/measure/attributes/staff-details")
    if details is None:
        raise RuntimeError("music21 wrote no <staff-details> for the TAB staff")
    for line, open_pitch in enumerate(tab.instrument.open_pitches, start=1):
        spelled = pitch.Pitch(midi=open_pitch)
        tuning = ET.SubElement(details, "staff-tuning", line=str(line))
        ET.SubElement(tuning, "tuning-step").text = spelled.step
        if spelled.accidental is not None:
            ET.SubElement(tuning, "tuning-alter").text = str(int(spelled.accidental.alter))
        ET.SubElement(tuning, "tuning-octave").text = str(spelled.octave)
    ET.SubElement(details, "capo").text = str(tab.capo)


def _write_technicals(root: ET.Element, tab_columns: list[Column]) -> None:
    """Give every sounding <note> its <string> and <fret>, where music21 left them out.

    Notes come in the columns' order: a note without <chord/> starts the next column, or, when it
    ends a tie, starts the column it continues again; <chord/> notes are its next members.
    """
    column, member = -1, 0
    for element in root.iter("note"):
        if element.find("pitch") is None:
            continue
        if element.find("chord") is not None:
            member += 1
        else:
            continuing = element.find("tie[@type='stop']") is not None
            column, member = (column if continuing else column + 1), 0
        tab_note = tab_columns[column].notes[member]
        _check_pitch(element, tab_note.pitch)
        notations = element.find("notations")
        if notations is None:
            notations = ET.SubElement(element, "notations")
        if notations.find("technical") is None:
            technical = ET.SubElement(notations, "technical")
            ET.SubElement(technical, "string").text = str(tab_note.string)
            ET.SubElement(technical, "fret").text = str(tab_note.fret)


def _check_pitch(element: ET.Element, expected: int) -> None:
    """The walk above relies on music21's note order; a different order must fail loudly."""
    from music21 import pitch

    name = f"{element.findtext('pitch/step')}{element.findtext('pitch/octave')}"
    alter = float(element.findtext("pitch/alter") or 0)
    if round(pitch.Pitch(name).midi + alter) != expected:
        raise RuntimeError(f"MusicXML note {name} (alter {alter}) is not the tab's pitch {expected}")
