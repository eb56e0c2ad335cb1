"""The separator presets: each resolves, passes the checks `train_separator` makes before Spleeter
starts, and trains a step of Spleeter's own graph in the audio env (benchmarks/separator.py);
bad settings are refused."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from corridos import config as config_io
from corridos.audio import bridge
from corridos.audio.separation import PRESETS, SeparatorTrainingConfig, check_training_config
from corridos.errors import ConfigError

# The mixtures each preset trains on: the demo's and separator-cpu's 12 s (+1 s of tail),
# separator-gpu's 24 s (Makefile SEPARATOR_SECONDS_*).
MIXTURE_SECONDS = {"tiny": 13.0, "cpu": 13.0, "gpu": 25.0}
# Builds Spleeter's own training graph (model_fn, TRAIN mode) for every preset and steps it.
BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "separator.py"


def _preset(name: str) -> SeparatorTrainingConfig:
    return config_io.from_preset(SeparatorTrainingConfig, PRESETS, name)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_resolves_and_passes_the_training_checks(name):
    check_training_config(_preset(name), MIXTURE_SECONDS[name])


@pytest.mark.parametrize(
    ("changes", "mixture_seconds", "message"),
    [
        ({"frames": 100}, 13.0, "frames=100 is not a multiple of 64"),
        ({"frequency_bins": 1000}, 13.0, "frequency_bins=1000 is not a multiple of 64"),
        ({"loss_type": "L2"}, 13.0, "loss_type='L2' is not one of"),
        ({"conv_filters": (8, 16, 32)}, 13.0, "conv_filters has 3 layers"),
        ({"frames": 512, "chunk_seconds": 8.0}, 13.0, "chunk_seconds=8.0 is shorter than T=512"),
        ({"frames": 512, "chunk_seconds": 20.0}, 8.0, "the shortest mixture lasts 8.0 s"),
    ],
)
def test_settings_spleeter_would_not_train_with_are_refused(changes, mixture_seconds, message):
    with pytest.raises(ConfigError, match=message):
        check_training_config(dataclasses.replace(SeparatorTrainingConfig(), **changes), mixture_seconds)


@pytest.mark.audio
def test_each_preset_trains_a_step_of_spleeters_graph_and_the_gpu_one_is_biggest():
    done = subprocess.run(
        [str(bridge.audio_python()), str(BENCHMARK), "--steps", "1", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {row["preset"]: row for row in map(json.loads, done.stdout.strip().splitlines())}
    assert set(rows) == set(PRESETS)
    assert all(row["finite_loss"] for row in rows.values())
    # The cpu preset is the tiny U-Net trained 35 times longer (it generalised better than a wider one).
    assert rows["tiny"]["parameters"] <= rows["cpu"]["parameters"] < rows["gpu"]["parameters"]
    assert rows["tiny"]["steps"] < rows["cpu"]["steps"] < rows["gpu"]["steps"]
