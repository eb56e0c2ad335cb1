"""Audio image smoke test, run inside the image: make two tiny synthetic songs (a plucked
requinto-like line over a noise accompaniment), train a separator for a few steps, separate one
mixture and transcribe the separation, calling the audio-env functions in-process (smoke.sh then
calls them from the main env across the bridge). Checks that the stages run and write their
artifacts; quality is the test suite's business."""

import csv
import logging
import sys
from pathlib import Path

import numpy as np
import soundfile

from corridos.audio.separation import SeparatorTrainingConfig, separate_files, train_separator
from corridos.audio.transcription import transcribe_files

RATE = 44100
# tf.estimator logs a deprecation notice per training hook, basic_pitch one per model backend it
# lacks; only errors say something here.
logging.getLogger().setLevel(logging.ERROR)
logging.getLogger("tensorflow").setLevel(logging.ERROR)
work = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/smoke")
data = work / "mixtures"
rng = np.random.default_rng(0)


def song(seconds: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * RATE)) / RATE
    line = np.zeros_like(t)
    for start in np.arange(0, seconds - 0.3, 0.25):  # a note every 250 ms, decaying like a pluck
        pitch = rng.integers(60, 84)
        hz = 440 * 2 ** ((pitch - 69) / 12)
        span = (t >= start) & (t < start + 0.25)
        line[span] += 0.4 * np.sin(2 * np.pi * hz * t[span]) * np.exp(-8 * (t[span] - start))
    accompaniment = 0.05 * rng.standard_normal(len(t))
    return line, accompaniment


rows = {"train": [], "validation": []}
for index, split in enumerate(["train", "train", "validation"]):
    name = f"song{index}"
    requinto, accompaniment = song()
    for stem, wave in (("requinto", requinto), ("accompaniment", accompaniment), ("mix", requinto + accompaniment)):
        (data / stem).mkdir(parents=True, exist_ok=True)
        soundfile.write(data / stem / f"{name}.wav", np.stack([wave, wave], axis=1), RATE)
    rows[split].append([f"mix/{name}.wav", f"requinto/{name}.wav", f"accompaniment/{name}.wav", 6.0])
for split, split_rows in rows.items():
    with (data / f"{split}.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([["mix_path", "requinto_path", "accompaniment_path", "duration"], *split_rows])


model = work / "separator"
train_separator(data, model, SeparatorTrainingConfig(steps=3, chunk_seconds=5.0), progress=False)
separate_files([str(data / "mix" / "song2.wav")], str(model), work / "separated", progress=False)
transcribe_files([str(work / "separated")], work / "transcribed", progress=False)
midi = sorted((work / "transcribed").rglob("*.mid"))
stems = sorted((work / "separated").rglob("*.wav"))
assert stems and midi, f"missing artifacts: stems {stems}, midi {midi}"
print(f"audio smoke test passed: {len(stems)} stems, {len(midi)} MIDI files")
