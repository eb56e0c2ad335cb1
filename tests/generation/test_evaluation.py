import json
import subprocess
import sys

import numpy as np
import pytest

from corridos.generation.evaluation import (
    EvaluationConfig,
    compare_sets,
    evaluate,
    excerpt,
    features,
    in_scale_ratio,
    kl_divergence,
    likelihood,
    overlapped_area,
    repetition_ratio,
)
from corridos.generation.models import ModelConfig, build_model, save_model
from corridos.symbolic.sequences import NoteArrays
from corridos.symbolic.tokenizer import Vocabulary


def line(pitches, step=0.25, length=0.2):
    start = np.arange(len(pitches)) * step
    return NoteArrays(start, start + length, np.array(pitches, np.int16), np.full(len(pitches), 80, np.int16))


C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def test_features_of_a_scale():
    values = features(line(C_MAJOR))
    assert values["pitch_count"] == 8
    assert values["pitch_range"] == 12
    assert values["note_count"] == 8
    assert values["average_pitch_interval"] == pytest.approx(12 / 7)
    assert values["average_inter_onset_interval"] == pytest.approx(0.25)
    assert values["pitch_class_histogram"][0] == pytest.approx(2 / 8)  # C twice
    assert values["pitch_class_histogram"][1] == 0
    assert values["pitch_class_transition_matrix"][0, 2] == pytest.approx(1 / 7)  # C -> D once in 7 steps
    lengths = features(line(C_MAJOR, length=0.22))["note_length_histogram"]
    assert lengths.sum() == pytest.approx(1) and lengths[4] == 1  # the 0.2-0.3 s bin


def test_in_scale_ratio():
    assert in_scale_ratio(line(C_MAJOR)) == 1.0
    assert in_scale_ratio(line(C_MAJOR[:7] + [66])) == pytest.approx(7 / 8)  # C major or G major: one note out
    assert in_scale_ratio(line(list(range(60, 72)))) == pytest.approx(7 / 12)


def test_repetition_ratio_catches_a_stuck_loop():
    loop = line([60, 62] * 50)
    # 93 8-grams, 3 distinct: the two phases of the loop and the last one (its final note's rhythm differs)
    assert repetition_ratio(loop) == pytest.approx(1 - 3 / (100 - 8 + 1))
    assert repetition_ratio(line(list(range(52, 92)))) == 0.0


def test_overlap_and_divergence_of_distributions():
    rng = np.random.default_rng(0)
    same = rng.normal(0, 1, 400)
    assert overlapped_area(same, same) == pytest.approx(1, abs=1e-6)
    assert kl_divergence(same, same) == pytest.approx(0, abs=1e-6)
    far = rng.normal(10, 1, 400)
    assert overlapped_area(same, far) < 0.01
    assert kl_divergence(same, far) > 10


def test_samples_like_the_reference_overlap_more_than_a_degenerate_loop():
    rng = np.random.default_rng(1)
    reference = [line(list(rng.integers(55, 80, 40))) for _ in range(12)]
    similar = [line(list(rng.integers(55, 80, 40))) for _ in range(12)]
    stuck = [line([60, 61] * 20) for _ in range(12)]
    good, bad = compare_sets(similar, reference), compare_sets(stuck, reference)
    assert good["pitch_count"]["overlapped_area"] > bad["pitch_count"]["overlapped_area"]
    assert np.mean([v["overlapped_area"] for v in good.values()]) > np.mean(
        [v["overlapped_area"] for v in bad.values()]
    )


def test_excerpt_takes_the_middle():
    cut = excerpt(line(list(range(60, 100)), step=1.0), 10.0)
    assert cut.start.min() == 0 and len(cut) == 10 and cut.pitch[0] == 75


def test_likelihood_of_a_uniform_model_is_the_vocabulary_size():
    vocabulary = Vocabulary()

    class Uniform:
        config = ModelConfig(context=16)

        def __call__(self, tokens):
            return np.zeros((*tokens.shape, vocabulary.size), np.float32)

    songs = {"a": vocabulary.encode_arrays(line([60, 62, 64] * 5)), "b": vocabulary.encode_arrays(line([70] * 3))}
    result = likelihood(Uniform(), vocabulary, songs)
    assert result["perplexity"] == pytest.approx(vocabulary.size)
    assert result["events"] == sum(len(s) for s in songs.values())
    assert result["notes"] == 18
    assert result["bits_per_note"] == pytest.approx(result["events"] * np.log2(vocabulary.size) / 18)


@pytest.mark.slow
def test_evaluate_compares_models_on_a_midi_folder_and_writes_a_report(tiny_dataset, tmp_path, write):
    from tests.helpers import motif_song

    for seed in range(3):
        write(motif_song(100 + seed), f"Held Out - Song {seed}.mid")
    (tmp_path / "midi" / "broken.mid").write_bytes(b"")
    vocabulary = Vocabulary()
    for family in ("lstm", "wavenet"):
        model = build_model(
            ModelConfig(family=family, embedding_dim=8, hidden_dim=16, layers=2, context=32), vocabulary.size
        )
        save_model(model, tmp_path / family)
        vocabulary.save(tmp_path / family / "vocabulary.json")
    config = EvaluationConfig(samples=3, sample_seconds=4)
    results = evaluate(
        {"lstm": str(tmp_path / "lstm"), "wavenet": str(tmp_path / "wavenet")},
        tmp_path / "midi",
        tmp_path / "eval",
        config,
        log_to_mlflow=False,
    )
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert set(report) == {"lstm", "wavenet"}
    assert report["lstm"]["likelihood"]["perplexity"] > 1
    assert set(report["lstm"]["features"]) >= {"pitch_count", "pitch_class_transition_matrix", "note_length_histogram"}
    assert (tmp_path / "eval" / "comparison.png").is_file()
    assert (tmp_path / "eval" / "wavenet" / "sample-2.mid").is_file()
    assert results["lstm"]["samples"]["repetition_ratio"] >= 0


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
