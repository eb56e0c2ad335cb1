"""Tablature for fretted instruments, the requinto first: a playable fingering of every note
(string and fret, chosen by a Viterbi search over hand positions) and the files players read it
from: MusicXML with a TAB staff, Guitar Pro 5, plain-text ASCII tab and a PNG/SVG picture."""
