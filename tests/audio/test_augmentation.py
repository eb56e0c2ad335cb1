"""The separator's training-mixture effects: seeded, length- and alignment-keeping, each effect
audible, the stems still summing to the mixture. Plain numpy tones, no FluidSynth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from corridos.audio.augmentation import AugmentationConfig, augment
from corridos.constants import AUDIO_SAMPLE_RATE

SECONDS = 2.0
PROBABILITIES = (
    "detune_probability",
    "vibrato_probability",
    "reverb_probability",
    "tilt_probability",
    "noise_probability",
    "mp3_probability",
)


def _notes(pitches: list[int], gain: float) -> np.ndarray:
    """Plucked harmonic tones, one every quarter second, stereo: sharp onsets to align on."""
    frames = int(SECONDS * AUDIO_SAMPLE_RATE)
    step = frames // len(pitches)
    time = np.arange(step) / AUDIO_SAMPLE_RATE
    audio = np.zeros(frames)
    for index, pitch in enumerate(pitches):
        hertz = 440 * 2 ** ((pitch - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * hertz * time) / k for k in range(1, 5)) * np.exp(-6 * time)
        audio[index * step : (index + 1) * step] = gain * tone
    return np.repeat(audio[:, None], 2, axis=1).astype(np.float32)


REQUINTO = _notes([64, 67, 71, 76, 74, 69, 72, 65], 0.3)
BAND = _notes([40, 45, 43, 40, 38, 45, 43, 40], 0.2)


def _only(effect: str | None) -> AugmentationConfig:
    """Effects on, every random effect off but `effect` (always drawn)."""
    config = AugmentationConfig(enabled=True, **{p: 0.0 for p in PROBABILITIES})
    return dataclasses.replace(config, **{f"{effect}_probability": 1.0}) if effect else config


def _all() -> AugmentationConfig:
    return AugmentationConfig(enabled=True, **{p: 1.0 for p in PROBABILITIES})


def _lag(reference: np.ndarray, estimate: np.ndarray) -> int:
    """Frames by which `estimate` trails `reference` (mono cross-correlation peak, FFT)."""
    a, b = reference.mean(axis=1), estimate.mean(axis=1)
    size = 2 * len(a)
    correlation = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lag = int(np.argmax(correlation))
    return lag if lag < len(a) else lag - size


def test_the_same_seed_gives_the_same_audio_and_another_seed_other_audio():
    first, again = (
        augment(REQUINTO, BAND, AUDIO_SAMPLE_RATE, _all(), [0, 1]),
        augment(REQUINTO, BAND, AUDIO_SAMPLE_RATE, _all(), [0, 1]),
    )
    other = augment(REQUINTO, BAND, AUDIO_SAMPLE_RATE, _all(), [0, 2])
    for stem in ("mix", "requinto", "accompaniment"):
        np.testing.assert_array_equal(getattr(first, stem), getattr(again, stem))
    assert first.effects == again.effects
    assert first.effects != other.effects
    assert not np.allclose(first.mix, other.mix)


def test_disabled_changes_nothing():
    out = augment(REQUINTO, BAND, AUDIO_SAMPLE_RATE, AugmentationConfig(enabled=False), [0, 0])
    np.testing.assert_array_equal(out.requinto, REQUINTO)
    np.testing.assert_array_equal(out.accompaniment, BAND)
    np.testing.assert_array_equal(out.mix, REQUINTO + BAND)
    assert out.effects == {}


@pytest.mark.parametrize("effect", ["detune", "vibrato", "reverb", "tilt", "noise", "mp3", None])
def test_each_effect_changes_the_mixture_and_keeps_length_alignment_and_the_sum(effect):
    out = augment(REQUINTO, BAND, AUDIO_SAMPLE_RATE, _only(effect), [3, 4])
    assert set(out.effects) == {"gain"} | ({effect} if effect else set())
    for stem in (out.mix, out.requinto, out.accompaniment):
        assert stem.shape == REQUINTO.shape
    np.testing.assert_allclose(out.requinto + out.accompaniment, out.mix, atol=1e-6)
    # Scaled back to the input's level, the mixture differs from the plain one beyond rounding,
    # except with the level alone (the gain that every run draws).
    level = np.abs(REQUINTO + BAND).max() / np.abs(out.mix).max()
    change = np.abs(out.mix * level - (REQUINTO + BAND)).max()
    assert change > 1e-3 if effect else change < 1e-5
    # Onsets stay where the reference notes put them: the target trails the plain requinto by
    # under a millisecond, and the target and the mixture agree.
    assert abs(_lag(REQUINTO, out.requinto)) <= AUDIO_SAMPLE_RATE // 1000
    assert _lag(out.requinto, out.mix) == 0


def test_instrument_effects_leave_the_band_alone():
    config = dataclasses.replace(_only("detune"), vibrato_probability=1.0)
    out = augment(REQUINTO, BAND, AUDIO_SAMPLE_RATE, config, [5, 6])
    level = float(np.sum(out.accompaniment * BAND) / np.sum(BAND * BAND))  # the gain, the only change
    np.testing.assert_allclose(out.accompaniment, BAND * level, atol=1e-5)
    assert np.abs(out.requinto - REQUINTO * level).max() > 1e-2
