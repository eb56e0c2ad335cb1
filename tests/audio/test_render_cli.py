"""`corridos audio render --held-out`: the held-out font is drawn too and its mixtures become the
test split, which Spleeter's training tables never list; effects are recorded per mixture."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from corridos.audio import soundfonts
from corridos.audio.synthesis import HELD_OUT_SPLIT
from corridos.cli import app
from tests.helpers import band


def test_render_held_out_scores_other_songs_and_records_the_effects(write, tmp_path):
    corpus = write(band(0), "Artist - Song0.mid").parent
    for seed in range(1, 8):
        write(band(seed), f"Artist - Song{seed}.mid")
    out = tmp_path / "mixtures"
    result = CliRunner().invoke(
        app,
        ["audio", "render", str(corpus), "--out", str(out), "--songs", "8", "--held-out"]
        + ["--set", "seconds=2", "--set", "augmentation.enabled=true", "--set", "soundfonts=[fluidr3]"],
    )
    assert result.exit_code == 0, result.output
    mixtures = json.loads((out / "mixtures.json").read_text())["mixtures"]
    tested = {m["name"] for m in mixtures if m["split"] == HELD_OUT_SPLIT}
    assert tested and len(tested) < len(mixtures), result.output  # seed 0 draws both kinds
    assert f"{len(tested)} {HELD_OUT_SPLIT}" in result.output
    for m in mixtures:
        fonts = {m["instruments"]["requinto_font"], m["instruments"]["band_font"]}
        assert (m["name"] in tested) == (soundfonts.held_out_font().name in fonts)
        assert "gain" in m["effects"]  # the level is drawn for every mixture when effects are on
    for table in ("train.csv", "validation.csv"):
        with (out / table).open() as stream:
            assert not {row["mix_path"].split("/")[1][:-4] for row in csv.DictReader(stream)} & tested
