"""The SoundFonts synthetic mixtures are rendered with, the GM programs each part may play, and
the one font held out for evaluation.

Every font comes from a Debian package (the Makefile's APT_PACKAGES installs them all). Fonts that
share samples are one `family`: MuseScore General's guitars are FluidR3's (nylon-guitar renders
correlate 0.97 with FluidR3_GM's), csound's sf_GMbank is TimGM6mb's (0.93), docs/FACTS.md. The
held-out font's family is used for nothing else, so what is scored on it was never heard in
training or threshold tuning; sf_GMbank is therefore left out altogether, and so is FluidR3 Mono
(FluidR3_GM's own samples in mono, correlation 1.00: nothing new, and a slow .sf3).
Runs in both environments (standard library and corridos constants only).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from corridos.constants import NYLON_GUITAR_PROGRAM
from corridos.errors import ConfigError, CorridosError

# General MIDI programs. The requinto is a nylon- or steel-strung guitar.
NYLON_GUITAR = NYLON_GUITAR_PROGRAM
STEEL_GUITAR = 25
CLEAN_ELECTRIC_GUITAR = 27
ACCORDION = 21
ACOUSTIC_BASS = 32
FINGERED_BASS = 33
CONTRABASS = 43
TUBA = 58
BRASS_SECTION = 61

REQUINTO_PROGRAMS = (NYLON_GUITAR, STEEL_GUITAR)
# The band: the low notes on a bass instrument (tololoche, electric bass, tuba), the rest on the
# harmony (bajo sexto or guitar, accordion, brass), as corridos bands are made.
BASS_PROGRAMS = (ACOUSTIC_BASS, FINGERED_BASS, CONTRABASS, TUBA)
HARMONY_PROGRAMS = (STEEL_GUITAR, CLEAN_ELECTRIC_GUITAR, ACCORDION, BRASS_SECTION)


@dataclasses.dataclass(frozen=True)
class SoundFont:
    name: str
    path: Path
    # The Debian package that installs `path`.
    package: str
    # Fonts sharing samples share a family; a held-out font's family is kept out of training.
    family: str
    held_out: bool = False


SOUNDFONTS = (
    SoundFont("fluidr3", Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), "fluid-soundfont-gm", "fluidr3"),
    # The uncompressed (.sf2) MuseScore General: its .sf3 decodes every sample it plays at each
    # FluidSynth start, 2.2 s of CPU a render against 0.13 s, for the same sound (correlation 0.9999).
    SoundFont(
        "musescore",
        Path("/usr/share/sounds/sf2/MuseScore_General_Full.sf2"),
        "musescore-general-soundfont-lossless",
        "fluidr3",
    ),
    # An FM synthesiser's patches, not samples: a third guitar family unlike both others (spectra
    # of one nylon line correlate 0.63 with FluidR3's, 0.60 with TimGM6mb's; those two 0.81), so
    # the separator hears more than one kind of guitar before it meets the held-out one.
    SoundFont("opl3", Path("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2"), "opl3-soundfont", "opl3"),
    SoundFont("timgm6mb", Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), "timgm6mb-soundfont", "timgm6mb", held_out=True),
)
# The font generated pieces are played with (serving, samples): the fullest sf2, quick to load.
PLAYBACK_FONT = "fluidr3"


def font_named(name: str) -> SoundFont:
    """The registered font called `name`; ConfigError listing the known ones otherwise."""
    for font in SOUNDFONTS:
        if font.name == name:
            return font
    raise ConfigError(f"soundfont {name!r}: expected one of {', '.join(f.name for f in SOUNDFONTS)}")


def held_out_font() -> SoundFont:
    """The one font reserved for evaluation."""
    (font,) = (f for f in SOUNDFONTS if f.held_out)
    return font


def training_fonts() -> tuple[SoundFont, ...]:
    """Every font outside the held-out font's family: what training and tuning may hear."""
    return tuple(f for f in SOUNDFONTS if f.family != held_out_font().family)


def is_held_out(name: str) -> bool:
    """Whether the font called `name` belongs to the held-out family (evaluation only)."""
    return font_named(name).family == held_out_font().family


def check_installed(fonts: tuple[SoundFont, ...] | list[SoundFont]) -> None:
    """CorridosError naming the Debian packages to install when fluidsynth or a font is missing."""
    missing = [f for f in fonts if not f.path.is_file()]
    if shutil.which("fluidsynth") is None or missing:
        packages = " ".join(["fluidsynth", *(f.package for f in missing)])
        raise CorridosError(f"fluidsynth or a SoundFont is missing ({packages}); run `make system`")
