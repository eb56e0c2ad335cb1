"""Seeded random effects for the separator's training mixtures, with Spotify's pedalboard: the
requinto played slightly out of tune and with vibrato, the band in a random room heard through a
random microphone (EQ tilt), then noise, level and an MP3 round trip. Runs in the main
environment, where corridos.audio.synthesis builds the mixtures (transposition, the capo's
effect, happens there on the notes, before rendering).

What each effect is applied to keeps the training target aligned with the mixture:
- instrument (detune, vibrato): the requinto stem only, before mixing: it is how the instrument
  sounds, so the target carries it too.
- room (reverb, EQ tilt): the same effect, same settings, on each stem; both are linear, so the
  processed stems still add up to the processed mixture. The target is the requinto as heard in
  that room: a separator cannot be asked to remove the room from one source only.
- level (gain): one factor on everything.
- recording (noise, MP3): noise is added to the mixture; the MP3 round trip is applied with the
  same settings to the mixture and to the requinto stem, so the target sounds through the same
  codec. The accompaniment stem is then the rest of the mixture (mixture - requinto): noise and
  the codec's cross-terms belong to "not the requinto", and the stems still sum to the mixture.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Chorus depth gives vibrato in cents in proportion to depth x rate: measured on a 440 Hz sine,
# depth 0.05 at 5 Hz swings +-27 cents, 0.1 +-55 cents.
_VIBRATO_CENTRE_DELAY_MS = 3.0


@dataclasses.dataclass
class AugmentationConfig:
    """Which effects to draw and their ranges; each effect is applied with its probability."""

    enabled: bool = False
    detune_probability: float = 0.5
    detune_cents_range: tuple[float, float] = (-25.0, 25.0)
    vibrato_probability: float = 0.3
    vibrato_rate_hz_range: tuple[float, float] = (4.0, 7.0)
    # Depth 0.01-0.04 at 4-7 Hz is a vibrato of about +-5 to +-30 cents.
    vibrato_depth_range: tuple[float, float] = (0.01, 0.04)
    reverb_probability: float = 0.6
    room_size_range: tuple[float, float] = (0.1, 0.7)
    reverb_wet_range: tuple[float, float] = (0.05, 0.35)
    tilt_probability: float = 0.6
    # dB added below the pivot and taken away above it (a negative tilt brightens).
    tilt_db_range: tuple[float, float] = (-4.0, 4.0)
    tilt_pivot_hz: float = 1000.0
    # The mixture's peak level in dBFS (always applied when enabled); at most -1 dBFS leaves room
    # for the MP3 encoder's overshoot.
    peak_db_range: tuple[float, float] = (-12.0, -1.0)
    noise_probability: float = 0.4
    noise_snr_db_range: tuple[float, float] = (20.0, 45.0)
    mp3_probability: float = 0.4
    # LAME's VBR quality: 0 is the best, 9 the worst.
    mp3_quality_range: tuple[float, float] = (2.0, 8.0)


@dataclasses.dataclass
class Augmented:
    """The three stems of one mixture after the effects, (frames, channels) each, and what was
    applied (effect name -> its drawn settings), for the mixtures manifest."""

    mix: np.ndarray
    requinto: np.ndarray
    accompaniment: np.ndarray
    effects: dict[str, dict[str, float]]


def augment(
    requinto: np.ndarray, accompaniment: np.ndarray, sample_rate: int, config: AugmentationConfig, seed: list[int]
) -> Augmented:
    """The stems (frames, channels) of one mixture with random effects drawn from `seed`; the same
    seed gives the same audio. Lengths are kept. With `config.enabled` false nothing is changed."""
    if not config.enabled:
        return Augmented(requinto + accompaniment, requinto, accompaniment, {})
    rng = np.random.default_rng(seed)
    effects: dict[str, dict[str, float]] = {}
    requinto = _instrument(requinto, sample_rate, config, rng, effects)
    room = _room_board(config, rng, effects)
    requinto, accompaniment = _process(room, requinto, sample_rate), _process(room, accompaniment, sample_rate)
    mix = requinto + accompaniment
    peak_db = _draw(rng, config.peak_db_range)
    effects["gain"] = {"peak_db": peak_db}
    level = 10 ** (peak_db / 20) / max(float(np.abs(mix).max()), 1e-9)
    mix, requinto = mix * level, requinto * level
    if rng.random() < config.noise_probability:
        mix = _add_noise(mix, _draw(rng, config.noise_snr_db_range), rng, effects)
    if rng.random() < config.mp3_probability:
        codec = _mp3(_draw(rng, config.mp3_quality_range), effects)
        mix, requinto = _process(codec, mix, sample_rate), _process(codec, requinto, sample_rate)
    return Augmented(mix, requinto, mix - requinto, effects)


def _instrument(audio: np.ndarray, sample_rate: int, config: AugmentationConfig, rng, effects: dict) -> np.ndarray:
    """Detune (Rubber Band pitch shift by a few cents) and vibrato (a chorus that is all wet: a
    delay line swept by an LFO) on the requinto stem."""
    import pedalboard

    if rng.random() < config.detune_probability:
        cents = _draw(rng, config.detune_cents_range)
        effects["detune"] = {"cents": cents}
        audio = _process(pedalboard.PitchShift(semitones=cents / 100), audio, sample_rate)
    if rng.random() < config.vibrato_probability:
        rate, depth = _draw(rng, config.vibrato_rate_hz_range), _draw(rng, config.vibrato_depth_range)
        effects["vibrato"] = {"rate_hz": rate, "depth": depth}
        chorus = pedalboard.Chorus(
            rate_hz=rate, depth=depth, centre_delay_ms=_VIBRATO_CENTRE_DELAY_MS, feedback=0.0, mix=1.0
        )
        audio = _advance(_process(chorus, audio, sample_rate), round(_VIBRATO_CENTRE_DELAY_MS * sample_rate / 1000))
    return audio


def _room_board(config: AugmentationConfig, rng, effects: dict):
    """One board of linear effects (reverb, EQ tilt), applied alike to every stem."""
    import pedalboard

    board = pedalboard.Pedalboard()
    if rng.random() < config.reverb_probability:
        size, wet = _draw(rng, config.room_size_range), _draw(rng, config.reverb_wet_range)
        effects["reverb"] = {"room_size": size, "wet_level": wet}
        # Freeze mode and damping stay at their defaults: a plain (linear) room.
        board.append(pedalboard.Reverb(room_size=size, wet_level=wet, dry_level=1.0 - wet))
    if rng.random() < config.tilt_probability:
        tilt = _draw(rng, config.tilt_db_range)
        effects["tilt"] = {"db": tilt}
        board.append(pedalboard.LowShelfFilter(cutoff_frequency_hz=config.tilt_pivot_hz, gain_db=tilt / 2))
        board.append(pedalboard.HighShelfFilter(cutoff_frequency_hz=config.tilt_pivot_hz, gain_db=-tilt / 2))
    return board


def _add_noise(mix: np.ndarray, snr_db: float, rng, effects: dict) -> np.ndarray:
    """White noise at `snr_db` below the mixture's power. By hand: pedalboard has no noise source,
    and this is one line of numpy."""
    effects["noise"] = {"snr_db": snr_db}
    power = float(np.mean(mix**2))
    return mix + rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), mix.shape).astype(mix.dtype)


def _mp3(quality: float, effects: dict):
    import pedalboard

    effects["mp3"] = {"vbr_quality": quality}
    return pedalboard.MP3Compressor(vbr_quality=quality)


def _process(board, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Run a pedalboard plugin or board over (frames, channels) audio; pedalboard compensates the
    latency its plugins report, so the output is as long as the input and aligned with it."""
    out = board(np.ascontiguousarray(audio.T, dtype=np.float32), sample_rate)
    return np.ascontiguousarray(out.T)


def _advance(audio: np.ndarray, frames: int) -> np.ndarray:
    """`audio` moved `frames` earlier (zeros at the end): undoes the chorus's centre delay, which
    pedalboard does not report as latency, so onsets stay where the reference notes say."""
    return np.concatenate([audio[frames:], np.zeros((frames, audio.shape[1]), audio.dtype)])


def _draw(rng, bounds: tuple[float, float]) -> float:
    return round(float(rng.uniform(*bounds)), 3)
