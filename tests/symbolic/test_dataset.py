import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from corridos.errors import BadInputError
from corridos.symbolic.cleaning import clean
from corridos.symbolic.dataset import DatasetConfig, build_dataset, load_dataset
from corridos.symbolic.keys import analyse_key
from corridos.symbolic.sequences import to_arrays
from corridos.symbolic.splits import SplitConfig
from tests.helpers import CORPUS, band, notes, rows


def transposed(sequence, semitones, seconds):
    return notes(
        *[(n.start_time + seconds, n.end_time + seconds, n.pitch + semitones, n.velocity) for n in sequence.notes]
    )


@pytest.fixture
def corpus(write, tmp_path):
    for seed in range(8):
        write(band(seed), f"Artist {seed % 3} - Song {seed}.mid")
    folder = tmp_path / "midi"
    shutil.copy(folder / "Artist 1 - Song 4.mid", folder / "Artist 2 - Renamed Copy.mid")
    write(transposed(band(6), -3, 4.0), "Other - Cover.mid")
    (folder / "empty.mid").write_bytes(b"")
    (folder / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02garbage")
    (folder / "lyrics.mid").write_text("not midi at all")
    (folder / "notes.txt").write_text("hello")
    write(notes(*[(i, i + 0.5, 40, 80) for i in range(100)]), "bass only.mid")
    return folder


def test_build_skips_bad_files_with_reasons_and_keeps_the_rest(corpus, tmp_path):
    result = build_dataset(corpus, tmp_path / "ds", progress=False)
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    by_name = {f["name"]: f for f in manifest["files"]}
    assert by_name["empty.mid"]["reason"] == "empty file"
    assert by_name["corrupt.mid"]["reason"].startswith("corrupt MIDI")
    assert by_name["lyrics.mid"]["reason"] == "not a MIDI file (no MThd header)"
    assert by_name["notes.txt"]["reason"].startswith("not a MIDI file name")
    assert by_name["bass only.mid"]["reason"].startswith("mostly out of range")
    assert by_name["Artist 2 - Renamed Copy.mid"]["reason"] == "exact duplicate of Artist 1 - Song 4.mid"
    assert result.report["files"] == {"total": 15, "used": 9, "skipped": 6}
    assert result.used == 9 and result.skipped == {n: f["reason"] for n, f in by_name.items() if f["reason"]}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    assert manifest["config"]["cleaning"]["min_velocity"] == 40
    assert manifest["code_version"].startswith("0.1.0")


def test_near_copy_is_grouped_and_shares_a_split(corpus, tmp_path):
    for seed in range(3):
        config = DatasetConfig(split=SplitConfig(seed=seed, validation_fraction=0.4))
        result = build_dataset(corpus, tmp_path / f"ds{seed}", config, progress=False)
        manifest = json.loads((result.out_dir / "manifest.json").read_text())
        near = [g for g in manifest["duplicate_groups"] if g["kind"] == "near"]
        assert [g["members"] for g in near] == [["Artist 0 - Song 6.mid", "Other - Cover.mid"]]
        split = {f["name"]: f["split"] for f in manifest["files"]}
        assert split["Artist 0 - Song 6.mid"] == split["Other - Cover.mid"]


def test_shards_hold_the_cleaned_lines_and_decode_back(corpus, tmp_path):
    result = build_dataset(corpus, tmp_path / "ds", progress=False)
    dataset = load_dataset(result.out_dir)
    songs = {**dataset.songs("train"), **dataset.songs("validation")}
    assert len(songs) == 9 and not dataset.songs("test")
    expected = clean(band(3), DatasetConfig().cleaning).kept
    decoded = dataset.vocabulary.decode(songs["Artist 0 - Song 3.mid"])
    assert rows(decoded) == rows(expected)  # the fixture's times sit on the frame grid
    totals = result.report["splits"]
    assert totals["train"]["tokens"] + totals["validation"]["tokens"] == sum(len(t) for t in songs.values())
    assert list((result.out_dir / "pianorolls").glob("*.png"))


def test_each_songs_key_is_in_the_manifest_and_opens_its_tokens(corpus, tmp_path):
    result = build_dataset(corpus, tmp_path / "ds", progress=False)
    dataset = load_dataset(result.out_dir)
    songs = {**dataset.songs("train"), **dataset.songs("validation")}
    used = [f for f in dataset.manifest["files"] if f["status"] == "used"]
    for entry in used:
        line = to_arrays(dataset.vocabulary.decode(songs[entry["name"]]))
        assert entry["key"] == analyse_key(line).name == dataset.vocabulary.song_key(songs[entry["name"]]).name
    assert sum(result.report["keys"].values()) == len(used) == 9


def test_same_input_same_version_and_rebuild_replaces(corpus, tmp_path):
    first = build_dataset(corpus, tmp_path / "ds", progress=False)
    second = build_dataset(corpus, tmp_path / "ds", progress=False)
    assert first.report["version"] == second.report["version"]
    other = build_dataset(corpus, tmp_path / "ds2", DatasetConfig(split=SplitConfig(seed=9)), progress=False)
    assert other.report["version"] != first.report["version"]


def test_refuses_to_overwrite_a_folder_that_is_not_a_dataset(corpus, tmp_path):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("x")
    with pytest.raises(BadInputError, match="refusing to overwrite"):
        build_dataset(corpus, tmp_path / "precious", progress=False)


def test_nothing_usable_is_an_error_naming_the_reasons(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.mid").write_bytes(b"")
    (tmp_path / "bad" / "b.mid").write_text("nope")
    with pytest.raises(BadInputError, match="no usable MIDI among 2 file.*empty file.*no MThd header"):
        build_dataset(tmp_path / "bad", tmp_path / "out", progress=False)


def test_cli_builds_and_fails_clearly(corpus, tmp_path):
    cli = [sys.executable, "-m", "corridos.cli", "dataset", "build"]
    ok = subprocess.run(
        [*cli, str(corpus), "--out", str(tmp_path / "ds"), "--set", "split.seed=3"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "9 used, 6 skipped" in ok.stdout
    assert json.loads((tmp_path / "ds" / "manifest.json").read_text())["config"]["split"]["seed"] == 3
    missing = subprocess.run([*cli, str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 1 and "no such folder" in missing.stderr
    bad_key = subprocess.run([*cli, str(corpus), "--set", "cleaning.loudness=3"], capture_output=True, text=True)
    assert bad_key.returncode == 1 and "unknown field(s) loudness" in bad_key.stderr


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not beside this checkout")
def test_whole_corpus_with_a_test_list(tmp_path):
    config = DatasetConfig(split=SplitConfig(test=("Herencia de Patrones - Bladi 420",)))
    result = build_dataset(CORPUS, tmp_path / "ds", config, progress=False)
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    split = {f["name"]: f["split"] for f in manifest["files"]}
    assert split["Herencia de Patrones - Bladi420 (En vivo).mid"] == "test"
    assert split["Arsenal Efectivo - Seguiremos Trabajando.mid"] == ""  # the exact copy is dropped
    cleaning = result.report["cleaning"]
    assert 0.86 < cleaning["pitch_range"]["share_left"] < 0.88  # measured on the corpus, range 45-88 (docs/FACTS.md)
    assert 0.33 < cleaning["top_voice"]["share_left"] < 0.40
    assert result.report["splits"]["train"]["hours"] > 5
    tokens = np.concatenate(list(load_dataset(result.out_dir).songs("validation").values()))
    assert tokens.min() >= 3 and tokens.max() < load_dataset(result.out_dir).vocabulary.size


def test_several_sources_merge_and_same_names_stay_distinct(write, tmp_path):
    from corridos.symbolic.sequences import write_midi

    for seed in range(4):
        write(band(seed), f"Artist - Song {seed}.mid")
    write_midi(band(9), tmp_path / "transcribed" / "Artist - Song 1.mid")
    result = build_dataset([tmp_path / "midi", tmp_path / "transcribed"], tmp_path / "ds", progress=False)
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    names = [f["name"] for f in manifest["files"]]
    assert "Artist - Song 1 (2).mid" in names and len(set(names)) == 5
    split = {f["name"]: f["split"] for f in manifest["files"]}
    assert split["Artist - Song 1 (2).mid"] == split["Artist - Song 1.mid"]  # one title, one split
