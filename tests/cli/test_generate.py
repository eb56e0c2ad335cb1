"""`corridos generate` writes a requinto tab beside each MIDI, in the formats asked for."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from corridos.cli import app
from corridos.symbolic.sequences import read_midi
from corridos.tablature.fingering import finger
from corridos.tablature.instrument import REQUINTO
from tests.helpers import uniform_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A generator of random notes: all a tab needs."""
    return uniform_model(tmp_path_factory.mktemp("generate-model"))


def generate(model, out, *options: str):
    # in events: the uniform model's time shifts average 0.5 s, and most of its notes never end
    arguments = ["generate", str(model), "--out", str(out), "--no-audio", "--events", "300", "--seed", "5", *options]
    return CliRunner().invoke(app, arguments)


def test_generate_writes_musicxml_gp5_and_ascii_tabs_of_the_midi_it_writes(model, tmp_path):
    import guitarpro
    from music21 import converter

    result = generate(model, tmp_path, "--capo", "2")
    assert result.exit_code == 0, result.output
    stem = tmp_path / "piece-seed5-0"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        stem.name + suffix for suffix in (".mid", ".png", ".musicxml", ".gp5", ".txt")
    )
    tab = finger(read_midi(stem.with_suffix(".mid")), REQUINTO, capo=2)
    pitches = sorted(n.pitch for n in tab.notes)
    assert pitches
    score = converter.parse(stem.with_suffix(".musicxml"))
    struck = [n for n in score.recurse().notes if n.tie is None or n.tie.type == "start"]
    assert sorted(p.midi for n in struck for p in n.pitches) == pitches
    track = guitarpro.parse(str(stem.with_suffix(".gp5"))).tracks[0]
    assert track.offset == 2
    assert "capo 2" in stem.with_suffix(".txt").read_text()


def test_generate_writes_the_formats_asked_for_or_none(model, tmp_path):
    assert generate(model, tmp_path / "one", "--tab", "ascii").exit_code == 0
    assert sorted(p.suffix for p in (tmp_path / "one").iterdir()) == [".mid", ".png", ".txt"]
    assert generate(model, tmp_path / "none", "--tab", "none").exit_code == 0
    assert sorted(p.suffix for p in (tmp_path / "none").iterdir()) == [".mid", ".png"]


@pytest.mark.parametrize(
    "options, message",
    [(["--capo", "8"], "capo 8: the requinto takes a capo at frets 0-7"), (["--tab", "pdf"], "format pdf")],
)
def test_generate_refuses_a_bad_capo_or_format_before_writing(model, tmp_path, options, message):
    result = generate(model, tmp_path / "out", *options)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
