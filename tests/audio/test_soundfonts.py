"""The SoundFont registry: every font installs from a package `make system` names and plays every
program a mixture may ask of it; the held-out font is heard by evaluation only."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from corridos.audio import soundfonts, stages
from corridos.audio.soundfonts import BASS_PROGRAMS, HARMONY_PROGRAMS, REQUINTO_PROGRAMS
from corridos.audio.synthesis import HELD_OUT_SPLIT, MixtureConfig, render, render_mixtures, song_from_sequence
from corridos.constants import AUDIO_SAMPLE_RATE
from corridos.errors import BadInputError, ConfigError
from tests.helpers import band, line

REPOSITORY = Path(__file__).resolve().parents[2]


def test_one_font_is_held_out_and_its_family_is_not_trained_on():
    held_out = [f for f in soundfonts.SOUNDFONTS if f.held_out]
    assert held_out == [soundfonts.held_out_font()]
    training = soundfonts.training_fonts()
    assert training and all(f.family != held_out[0].family for f in training)
    assert set(training) | set(held_out) == set(soundfonts.SOUNDFONTS)
    assert soundfonts.is_held_out(held_out[0].name) and not soundfonts.is_held_out(training[0].name)
    assert all(f.name in MixtureConfig().soundfonts for f in training)
    assert held_out[0].name not in MixtureConfig().soundfonts


def test_make_system_and_the_images_install_every_font():
    apt = re.search(r"^APT_PACKAGES := (.*)$", (REPOSITORY / "Makefile").read_text(), re.M)
    assert apt is not None
    base, light = ((REPOSITORY / "docker" / f"{name}.Dockerfile").read_text().split() for name in ("base", "light"))
    assert soundfonts.font_named(soundfonts.PLAYBACK_FONT).package in base  # the serving image plays pieces with it
    for font in soundfonts.SOUNDFONTS:
        assert font.package in apt.group(1).split(), font
        assert font.package in base + light, font  # the light image renders the mixtures


def test_an_unknown_font_is_refused_by_name():
    with pytest.raises(ConfigError, match="'nope': expected one of fluidr3"):
        soundfonts.font_named("nope")


@pytest.mark.parametrize("font", soundfonts.SOUNDFONTS, ids=lambda f: f.name)
def test_every_font_plays_every_program(font):
    programs = sorted(set(REQUINTO_PROGRAMS + BASS_PROGRAMS + HARMONY_PROGRAMS))
    # One second per program, one after the other, each in the pitches its part plays.
    parts = []
    for index, program in enumerate(programs):
        pitches = [40, 43, 45] if program in BASS_PROGRAMS else [50, 57, 64]
        notes = line(pitches, step=0.3, length=0.25)
        notes.start += index
        notes.end += index
        parts.append((notes, program))
    audio = render(parts, font).mean(axis=1)
    for index, program in enumerate(programs):
        second = audio[index * AUDIO_SAMPLE_RATE : (index + 1) * AUDIO_SAMPLE_RATE]
        rms_db = 20 * np.log10(np.sqrt(np.mean(second**2)) + 1e-12)
        assert rms_db > -50, (font.name, program, rms_db)


def test_the_held_out_font_never_reaches_training_or_tuning(tmp_path):
    songs = [song_from_sequence(band(seed, count=30), f"song{seed}") for seed in range(12)]
    config = MixtureConfig(seconds=2.0, excerpts_per_song=2, soundfonts=("fluidr3", soundfonts.held_out_font().name))
    mixtures = render_mixtures(songs, tmp_path, config, progress=False)
    held_out = {m.name for m in mixtures.mixtures if m.instruments.held_out()}
    assert held_out and len(held_out) < len(songs)  # the seed draws both kinds
    for song in songs:
        drawn = [m for m in mixtures.mixtures if m.song == song.name]
        (split,) = {m.split for m in drawn}  # a song's excerpts share one split
        # A song the separator may hear renders two excerpts, a held-out-font one only its scored one.
        assert len(drawn) == (1 if split == HELD_OUT_SPLIT else 2), (song.name, split)
        assert len({m.tempo_factor for m in drawn}) == len(drawn)  # each excerpt draws its own
    manifest = json.loads((tmp_path / "mixtures.json").read_text())["mixtures"]
    for entry in manifest:
        fonts = {entry["instruments"]["requinto_font"], entry["instruments"]["band_font"]}
        heard = not any(soundfonts.is_held_out(f) for f in fonts)
        assert (entry["split"] != HELD_OUT_SPLIT) == heard, entry
    for table in ("train.csv", "validation.csv"):
        with (tmp_path / table).open() as stream:
            rows = list(csv.DictReader(stream))
        assert rows and not {Path(r["mix_path"]).stem for r in rows} & held_out
    with pytest.raises(BadInputError, match="held-out font.*evaluation only"):
        stages.tune_transcription(tmp_path, [0.5], [0.3], split=HELD_OUT_SPLIT, progress=False)


def test_excerpts_per_song_below_one_is_refused(tmp_path):
    song = song_from_sequence(band(0, count=30), "song0")
    with pytest.raises(ConfigError, match="excerpts_per_song 0"):
        render_mixtures([song], tmp_path, MixtureConfig(excerpts_per_song=0), progress=False)
