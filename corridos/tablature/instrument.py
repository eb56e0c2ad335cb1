"""The fretted instruments a tab is written for: tuning, frets and capo range.

This is the one place for the requinto's tuning and range; everything that fingers, writes or
checks a tab reads it from here.
"""

from __future__ import annotations

import dataclasses

from corridos.errors import ConfigError

_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclasses.dataclass(frozen=True)
class Instrument:
    """A fretted instrument.

    `open_pitches` are the MIDI pitches of the open strings from the lowest string to the highest.
    Tabs number strings the player's way (MusicXML and Guitar Pro do too): string 1 is the highest.
    Frets in a tab count from the capo, so a note sounds open pitch + capo + fret.
    """

    name: str
    open_pitches: tuple[int, ...]
    frets: int
    max_capo: int

    def __post_init__(self) -> None:
        # Notes out of range are moved by octaves, so the range with the highest capo must hold one.
        if self.highest_pitch() - self.lowest_pitch(self.max_capo) < 11:
            raise ConfigError(f"instrument {self.name}: its range with capo {self.max_capo} is under an octave")
        if list(self.open_pitches) != sorted(self.open_pitches):
            raise ConfigError(f"instrument {self.name}: open strings must go from the lowest to the highest")

    def check_capo(self, capo: int) -> None:
        """Raise ValueError naming the instrument when `capo` is not a fret it takes a capo at."""
        if not 0 <= capo <= self.max_capo:
            raise ConfigError(f"capo {capo}: the {self.name} takes a capo at frets 0-{self.max_capo}")

    def frets_above_capo(self, capo: int) -> int:
        """The highest fret, counted from the capo."""
        return self.frets - capo

    def lowest_pitch(self, capo: int) -> int:
        return self.open_pitches[0] + capo

    def highest_pitch(self) -> int:
        """The top string at its last fret; a capo does not change it."""
        return self.open_pitches[-1] + self.frets

    @property
    def strings(self) -> int:
        return len(self.open_pitches)

    def string_number(self, index: int) -> int:
        """The player's string number (1 = highest) of the string at `index` (0 = lowest)."""
        return self.strings - index

    def open_pitch(self, string: int) -> int:
        """Open pitch of the player's string number `string` (1 = highest), without capo."""
        return self.open_pitches[self.strings - string]


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch: 45 -> 'A2', 61 -> 'C#4'."""
    return f"{_NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


# The requinto: a small six-string guitar a fourth above the guitar, nineteen frets.
REQUINTO = Instrument("requinto", open_pitches=(45, 50, 55, 60, 64, 69), frets=19, max_capo=7)
GUITAR = Instrument("guitar", open_pitches=(40, 45, 50, 55, 59, 64), frets=19, max_capo=7)
INSTRUMENTS = {instrument.name: instrument for instrument in (REQUINTO, GUITAR)}


def instrument_named(name: str) -> Instrument:
    """The instrument called `name`, or ValueError listing the known ones."""
    if name not in INSTRUMENTS:
        raise ConfigError(f"instrument {name!r}: expected one of {', '.join(INSTRUMENTS)}")
    return INSTRUMENTS[name]
