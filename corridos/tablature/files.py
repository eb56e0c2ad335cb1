"""The tab formats by name, and reading the MIDI pieces a tab is made from (one file or a folder)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from corridos.constants import MIDI_SUFFIXES
from corridos.errors import BadInputError, ConfigError
from corridos.symbolic.cleaning import CleaningConfig, clean
from corridos.symbolic.sequences import read_midi
from corridos.tablature.ascii import write_ascii
from corridos.tablature.fingering import Tab, finger
from corridos.tablature.guitarpro import write_gp5
from corridos.tablature.instrument import REQUINTO, Instrument
from corridos.tablature.musicxml import write_musicxml
from corridos.tablature.picture import write_picture


def _picture(tab: Tab, path: Path, title: str) -> Path:
    return write_picture(tab, path)


def _ascii(tab: Tab, path: Path, title: str) -> Path:
    return write_ascii(tab, path)


# name -> (file suffix, writer(tab, path, title))
FORMATS: dict[str, tuple[str, Callable[[Tab, Path, str], Path]]] = {
    "musicxml": (".musicxml", write_musicxml),
    "gp5": (".gp5", write_gp5),
    "ascii": (".txt", _ascii),
    "png": (".png", _picture),
    "svg": (".svg", _picture),
}


# What `corridos generate` writes beside each MIDI: a player opens the first two in MuseScore and
# TuxGuitar (or Guitar Pro) and reads the third anywhere.
GENERATED_FORMATS = ("musicxml", "gp5", "ascii")


def format_names(requested: list[str]) -> list[str]:
    """The formats asked for ('all' means every one), or ValueError naming the unknown one."""
    names = list(FORMATS) if "all" in requested else list(dict.fromkeys(requested))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise ConfigError(f"format {', '.join(unknown) or '(none)'}: expected 'all' or {', '.join(FORMATS)}")
    return names


def write_tab(tab: Tab, stem: Path, format_name: str, title: str = "") -> Path:
    """Write `tab` in one format at `stem` plus the format's suffix."""
    suffix, writer = FORMATS[format_name]
    return writer(tab, stem.with_name(stem.name + suffix), title)


def write_tabs(
    sequence, stem: Path, formats: Iterable[str], instrument: Instrument = REQUINTO, capo: int = 0, title: str = ""
) -> tuple[Tab, list[Path]]:
    """Finger `sequence` once and write its tab in each format at `stem` plus the format's suffix."""
    tab = finger(sequence, instrument, capo)
    return tab, [write_tab(tab, stem, format_name, title) for format_name in formats]


def midi_files(source: Path) -> dict[str, Path]:
    """name -> path of `source` itself, or of every MIDI file under the folder `source` (named by
    their path in it, so two songs of one name in two sub-folders stay apart); ValueError when none."""
    if source.is_file():
        return {source.name: source}
    if not source.is_dir():
        raise BadInputError(str(source), "no such file or folder")
    found = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)
    if not found:
        raise BadInputError(str(source), f"no MIDI files ({', '.join(MIDI_SUFFIXES)}) in this folder")
    return {str(path.relative_to(source)): path for path in found}


def read_piece(path: Path, cleaning: CleaningConfig | None = None):
    """The NoteSequence of one MIDI file, cleaned into a requinto line when `cleaning` is given.
    Raises BadInputError naming the file and the reason (not MIDI, corrupt, rejected by cleaning)."""
    sequence = read_midi(path)
    if cleaning is None:
        return sequence
    cleaned = clean(sequence, cleaning)
    if cleaned.rejected:
        raise BadInputError(str(path), cleaned.rejected)
    return cleaned.kept
