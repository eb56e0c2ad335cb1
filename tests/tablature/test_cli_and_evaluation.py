import json
import subprocess
import sys

import pytest

from corridos.symbolic.cleaning import CleaningConfig
from corridos.tablature.evaluation import compare_folder
from tests.helpers import band, melody

CLI = [sys.executable, "-m", "corridos.cli", "tab"]


@pytest.fixture
def folder(tmp_path, write):
    """Two good MIDI files (one in a sub-folder) and one that only has the name of one."""
    write(melody(1, 80), "Band - One.mid")
    write(band(2, 60), "live/Band - Two.mid")
    (tmp_path / "midi" / "Band - Broken.mid").write_bytes(b"not midi at all")
    return tmp_path / "midi"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True)


def test_cli_writes_each_format_and_skips_a_bad_file_in_a_folder(folder, tmp_path):
    out = tmp_path / "tabs"
    result = run(str(folder), "--format", "gp5", "--format", "ascii", "--capo", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "skipped Band - Broken.mid: not a MIDI file (no MThd header)" in result.stdout
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "Band - One.gp5",
        "Band - One.txt",
        "live/Band - Two.gp5",
        "live/Band - Two.txt",
        "tabs.json",
    ]
    report = json.loads((out / "tabs.json").read_text())
    assert report["capo"] == 2 and report["skipped"] == {"Band - Broken.mid": "not a MIDI file (no MThd header)"}
    assert report["tabs"]["live/Band - Two.mid"]["adjustments"]  # the band's bass is moved or dropped, and listed


@pytest.mark.parametrize(
    "args,message",
    [
        (["{folder}/Band - Broken.mid"], "Band - Broken.mid: not a MIDI file (no MThd header)"),
        (["{folder}/Band - One.mid", "--capo", "8"], "capo 8: the requinto takes a capo at frets 0-7"),
        (["{folder}/Band - One.mid", "--capo", "-1"], "capo -1: the requinto takes a capo at frets 0-7"),
        (["{empty}"], "no MIDI files (.mid, .midi) in this folder"),
        (["{folder}/nothing.mid"], "nothing.mid: no such file or folder"),
        (["{folder}/Band - One.mid", "--format", "pdf"], "format pdf: expected 'all' or musicxml, gp5"),
        (["{folder}/Band - One.mid", "--instrument", "banjo"], "instrument 'banjo': expected one of requinto, guitar"),
    ],
)
def test_cli_refuses_bad_input_with_one_line(args, message, folder, tmp_path):
    (tmp_path / "empty").mkdir()
    filled = [a.format(folder=folder, empty=tmp_path / "empty") for a in args]
    result = run(*filled, "--out", str(tmp_path / "tabs"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_evaluation_compares_viterbi_with_the_baseline_and_records_skips(folder):
    comparison = compare_folder(folder, capo=1)
    assert comparison.pieces == 2
    assert comparison.skipped == {"Band - Broken.mid": "not a MIDI file (no MThd header)"}
    assert comparison.viterbi.notes == comparison.baseline.notes > 0
    assert comparison.cost_ratio < 1
    assert comparison.viterbi.cost_per_note < comparison.baseline.cost_per_note
    assert 0 <= comparison.viterbi.shift_share < comparison.baseline.shift_share <= 1
    assert comparison.viterbi.adjustments["octave"] > 0  # the band's bass is under the requinto's A2
    assert comparison.summary()["adjustments"] == dict(comparison.viterbi.adjustments)
    cleaned = compare_folder(folder, cleaning=CleaningConfig(min_notes=70))
    assert cleaned.skipped["live/Band - Two.mid"].startswith("too few notes left after cleaning")
