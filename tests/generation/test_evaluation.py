import json
import subprocess
import sys

import numpy as np
import pytest

from corridos.errors import BadInputError, ConfigError
from corridos.generation.evaluation import (
    BASELINE,
    CEILING,
    EvaluationConfig,
    evaluate,
    reference_songs,
    sample_pieces,
)
from corridos.generation.models import ModelConfig, build_model, save_model
from corridos.generation.sampling import SampleConfig, Sampler
from corridos.symbolic.dataset import load_dataset
from corridos.symbolic.keys import parse_key
from corridos.symbolic.sequences import read_midi, to_arrays
from corridos.symbolic.tokenizer import TokenizerConfig, Vocabulary
from tests.helpers import melody, motif_song, notes, rows


@pytest.mark.slow
def test_evaluate_compares_models_on_a_midi_folder_and_writes_a_report(tiny_dataset, tmp_path, write):
    for seed in range(3):
        write(motif_song(100 + seed), f"Held Out - Song {seed}.mid")
    (tmp_path / "midi" / "broken.mid").write_bytes(b"")
    vocabulary = Vocabulary()
    for family in ("lstm", "wavenet"):
        model = build_model(
            ModelConfig(family=family, embedding_dim=8, hidden_dim=16, layers=2, context=32), vocabulary.size
        )
        if family == "lstm":  # zero output layer: every token equally likely, a perplexity known in advance
            output = model.layers[-1]
            output.set_weights([np.zeros_like(w) for w in output.get_weights()])
        save_model(model, tmp_path / family)
        vocabulary.save(tmp_path / family / "vocabulary.json")
    config = EvaluationConfig(samples=3, sampling=SampleConfig(seconds=4))
    results = evaluate(
        {"lstm": str(tmp_path / "lstm"), "wavenet": str(tmp_path / "wavenet")},
        tmp_path / "midi",
        tmp_path / "eval",
        config,
        log_to_mlflow=False,
    )
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert set(report) == {"lstm", "wavenet"}
    uniform = report["lstm"]["likelihood"]
    assert uniform["perplexity"] == pytest.approx(vocabulary.size, rel=1e-3)
    assert uniform["nll_per_event"] == pytest.approx(np.log(vocabulary.size), rel=1e-3)
    assert uniform["bits_per_note"] == pytest.approx(
        uniform["events"] * np.log2(vocabulary.size) / uniform["notes"], rel=1e-4
    )
    assert 1 < report["wavenet"]["likelihood"]["perplexity"] < 10 * vocabulary.size
    assert set(report["lstm"]["features"]) >= {"pitch_count", "pitch_class_transition_matrix", "note_length_histogram"}
    assert (tmp_path / "eval" / "comparison.png").is_file()
    # a MIDI folder has no train split: no baseline, ceiling or copy rate, and the table says why
    quality = json.loads((tmp_path / "eval" / "quality.json").read_text())
    assert [row["name"] for row in quality["rows"]] == ["lstm", "wavenet"]
    assert "--training" in quality["absent"] and report["lstm"]["copy_rate"] is None
    assert 0 <= report["lstm"]["c2st"]["auc"] <= 1 and report["lstm"]["c2st"]["windows"][0] == 3
    assert (tmp_path / "eval" / "wavenet" / "sample-2.mid").is_file()
    samples = results["lstm"]["samples"]
    # A uniform model's samples are random notes: no stuck loop (repetition_ratio's own known
    # answers are in test_features.py).
    assert 0 <= samples["repetition_ratio"] < 0.2, samples
    written = [len(read_midi(tmp_path / "eval" / "lstm" / f"sample-{i}.mid").notes) for i in range(3)]
    assert samples["notes_per_second"] == pytest.approx(np.mean(written) / 4)
    assert samples["key_match_rate"] in (0, 1 / 3, 2 / 3, 1)  # 3 samples, each in its asked key or not


@pytest.mark.slow
def test_a_model_trained_on_motifs_needs_fewer_bits_per_note_for_new_motif_songs_than_for_random_lines(
    trained_tiny, tmp_path, write
):
    """Music like the training data costs fewer bits per note than music unlike it: held-out motif
    songs (a note every 4 frames) against random lines in the same pitch range, a note every 5 or
    6 frames (measured 14.5 and 21.5 bits per note). The tiny model does not learn the motifs'
    order in its 36 steps (on the 10 ms tokens the same notes shuffled measured 13.45 bits, the
    motifs 13.46), so order is not what this checks."""
    model = trained_tiny("transformer").model_dir
    for seed in range(3):
        write(motif_song(100 + seed), f"motifs/Held Out - Song {seed}.mid")
        write(melody(seed, count=240, step=5), f"random/Random - Line {seed}.mid")
    evaluation = EvaluationConfig(samples=2, sampling=SampleConfig(seconds=2))
    bits = {
        folder: evaluate({"model": str(model)}, tmp_path / "midi" / folder, tmp_path / folder, evaluation, False)[
            "model"
        ]["likelihood"]["bits_per_note"]
        for folder in ("motifs", "random")
    }
    assert bits["motifs"] < 0.8 * bits["random"], bits


@pytest.mark.slow
def test_evaluate_on_a_dataset_frames_models_between_the_markov_baseline_and_real_songs(tiny_dataset, tmp_path):
    vocabulary = Vocabulary()
    save_model(
        build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=8, layers=1), vocabulary.size),
        tmp_path / "m",
    )
    vocabulary.save(tmp_path / "m" / "vocabulary.json")
    config = EvaluationConfig(samples=3, sampling=SampleConfig(seconds=4))
    results = evaluate({"untrained": str(tmp_path / "m")}, tiny_dataset, tmp_path / "eval", config, log_to_mlflow=False)
    quality = json.loads((tmp_path / "eval" / "quality.json").read_text())
    rows = {row["name"]: row for row in quality["rows"]}
    assert list(rows) == [BASELINE, CEILING, "untrained"] and quality["absent"] is None
    assert rows[BASELINE]["bits_per_note"] is None and rows["untrained"]["bits_per_note"] > 0
    # every song is its own random motif: held-out songs share no 8 notes in a row with training songs
    assert rows[CEILING]["copy_rate"] == 0.0
    assert 0 <= rows[BASELINE]["copy_rate"] <= 1
    assert results["untrained"]["c2st"]["auc"] == rows["untrained"]["c2st_auc"]
    assert all(0 <= row["c2st_auc"] <= 1 and row["c2st_spread"] >= 0 for row in rows.values())
    assert (tmp_path / "eval" / "quality.png").is_file()


def test_a_dataset_is_read_in_another_vocabulary_only_when_that_encodes_the_same_music(tiny_dataset):
    dataset = load_dataset(tiny_dataset)
    songs = dataset.songs("validation")
    finer = Vocabulary(TokenizerConfig(step_seconds=0.01, max_shift_seconds=1.0))  # 32 ms frames land on distinct steps
    read = reference_songs(tiny_dataset, finer)
    assert read.keys() == songs.keys()
    for name, tokens in read.items():
        assert finer.song_key(tokens) == dataset.vocabulary.song_key(songs[name])
        assert rows(finer.decode(tokens)) != rows(dataset.vocabulary.decode(songs[name]))  # times rounded to 10 ms
        assert len(finer.decode(tokens).notes) == len(dataset.vocabulary.decode(songs[name]).notes)
    coarser = Vocabulary(TokenizerConfig(step_seconds=0.1))
    with pytest.raises(BadInputError, match=r"Motif \d+\.mid.*time step 0.1 s does not encode its timing exactly"):
        reference_songs(tiny_dataset, coarser)


def test_evaluate_on_a_folder_with_nothing_usable_fails_clearly(tmp_path):
    (tmp_path / "midi").mkdir()
    (tmp_path / "midi" / "a.mid").write_bytes(b"")
    vocabulary = Vocabulary()
    save_model(
        build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=8, layers=1), vocabulary.size),
        tmp_path / "m",
    )
    vocabulary.save(tmp_path / "m" / "vocabulary.json")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "corridos.cli",
            "evaluate",
            str(tmp_path / "midi"),
            "--model",
            str(tmp_path / "m"),
            "--no-mlflow",
        ],
        capture_output=True,
        text=True,
    )
    assert (
        done.returncode == 1 and "no usable MIDI to evaluate on" in done.stderr and "a.mid: empty file" in done.stderr
    )


def test_evaluation_refuses_sampling_settings_that_break_the_per_second_comparison():
    with pytest.raises(ConfigError, match="events and primer do not apply"):
        EvaluationConfig(sampling=SampleConfig(events=100))


def test_the_evaluation_logs_a_requinto_tab_of_a_sample_to_mlflow(tmp_path, write, monkeypatch):
    import mlflow

    from tests.helpers import motif_song, uniform_model

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    write(motif_song(1), "Held Out - Song.mid")
    write(motif_song(2), "Held Out - Other Song.mid")  # the C2ST needs two reference songs
    uniform_model(tmp_path / "m")
    config = EvaluationConfig(samples=2, sampling=SampleConfig(seconds=3))
    evaluate({"m": str(tmp_path / "m")}, tmp_path / "midi", tmp_path / "eval", config)
    [run] = mlflow.search_runs(experiment_names=None, search_all_experiments=True, output_format="list")
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "samples/tab")}
    assert logged == {"samples/tab/sample-0.txt", "samples/tab/sample-0.png"}
    text = (tmp_path / "eval" / "m" / "tab" / "sample-0.txt").read_text()
    assert text.startswith("Requinto tab") and text.count("|") > 6


def test_minutes_compared_scores_the_first_and_the_last_minute_apart():
    from corridos.generation.evaluation import minutes_compared

    vocabulary = Vocabulary()
    model = build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=8, layers=1), vocabulary.size)
    scores = minutes_compared(model, vocabulary, samples=2, seconds=120)
    assert list(scores) == ["0-1", "1-2"]
    for minute in scores.values():
        assert 0 <= minute["in_scale_ratio"] <= 1 and 0 <= minute["repetition_ratio"] <= 1
        assert minute["notes_per_minute"] > 0


def _scale_song(tonic: int, seconds: float = 60.0):
    """Notes of a major scale from `tonic`, up and down, tonic and fifth held longer."""
    degrees = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2]
    rows, time, index = [], 0.0, 0
    while time < seconds:
        degree = degrees[index % len(degrees)]
        length = 0.4 if degree in (0, 7, 12) else 0.2
        rows.append((round(time, 2), round(time + length, 2), tonic + degree, 80))
        time, index = time + length, index + 1
    return to_arrays(notes(*rows))


def test_the_reference_key_match_is_the_real_excerpts_against_their_songs_keys():
    """Two reference songs labelled C major: one in C major, one written in F# major. Their
    excerpts match their labels once in two, whatever the model samples."""
    vocabulary = Vocabulary()
    c_major = parse_key("C major")
    songs = {
        "in its key": vocabulary.encode_song(_scale_song(60), c_major),
        "mislabelled": vocabulary.encode_song(_scale_song(66), c_major),
    }
    model = build_model(ModelConfig(embedding_dim=8, hidden_dim=16, layers=1, context=32), vocabulary.size)
    config = EvaluationConfig(samples=2, sampling=SampleConfig(seconds=4))
    _, report = sample_pieces(Sampler(model, vocabulary), songs, config)
    assert report["reference_key_match_rate"] == 0.5 and report["key_match_rate"] in (0, 0.5, 1)
