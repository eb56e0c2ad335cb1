"""Synthetic band mixtures rendered with FluidSynth: the separator's training data and the audio
stages' test set, with the true requinto stem and notes for every mixture.

A mixture is an excerpt of a corpus song: its cleaned lead line played by a nylon or steel guitar
(the requinto), over an accompaniment made of the notes the cleaning removed (low notes on a bass
instrument, the rest on a harmony instrument: guitar, accordion or brass). Each excerpt draws its
SoundFonts and programs (corridos.audio.soundfonts), a transposition, tempo change and stem gains,
and, when `augmentation.enabled`, random effects (corridos.audio.augmentation: detune, vibrato,
room, EQ tilt, level, noise, MP3), seeded per mixture.
A mixture with the held-out font is a "test" mixture: never in train.csv or validation.csv.
Runs in the main environment (note-seq, pedalboard).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from corridos import config as config_io
from corridos import storage
from corridos.audio import io as audio_io
from corridos.audio import soundfonts
from corridos.audio.augmentation import AugmentationConfig, augment
from corridos.audio.soundfonts import (
    BASS_PROGRAMS,
    HARMONY_PROGRAMS,
    NYLON_GUITAR,
    PLAYBACK_FONT,
    REQUINTO_PROGRAMS,
    SoundFont,
)
from corridos.constants import AUDIO_SAMPLE_RATE, MIDI_SUFFIXES
from corridos.errors import BadInputError, ConfigError, CorridosError
from corridos.symbolic.cleaning import CleaningConfig, clean
from corridos.symbolic.sequences import NoteArrays, from_midi_bytes, from_parts, to_arrays, write_midi
from corridos.tablature.instrument import REQUINTO

STEMS = ("mix", "requinto", "accompaniment")
REFERENCE_DIR = "reference"
MIXTURES_MANIFEST = "mixtures.json"
# The split of mixtures rendered with the held-out font: evaluation only.
HELD_OUT_SPLIT = "test"
# Shorter notes are not written: at MIDI's resolution their note-off can land on their note-on's
# tick, sorted before it, leaving the note on for ever; a sustained program (brass, accordion,
# bowed bass) then never falls silent and FluidSynth renders without end (seen: 500 MB of WAV).
SHORTEST_NOTE_SECONDS = 0.01
# FluidSynth renders at about 30x real time; a render this much longer than its notes has hung.
RENDER_TIMEOUT_SECONDS = 60.0


@dataclasses.dataclass
class MixtureConfig:
    seconds: float = 12.0
    # Mixtures rendered from each song the separator may hear, each its own excerpt, fonts and
    # effects: a corpus of a few hundred songs is otherwise too little for a separator to
    # generalise from. A song drawn for the held-out font keeps one mixture (it is only scored).
    excerpts_per_song: int = 1
    # Silence after the last onset, so note releases are not cut off.
    tail_seconds: float = 1.0
    validation_fraction: float = 0.25
    max_transpose_semitones: int = 2
    tempo_factor_range: tuple[float, float] = (0.9, 1.1)
    requinto_gain_db_range: tuple[float, float] = (-3.0, 3.0)
    accompaniment_gain_db_range: tuple[float, float] = (-6.0, 0.0)
    # Removed notes at or below this pitch are played by the bass.
    bass_pitch_max: int = 47
    # Names of corridos.audio.soundfonts fonts; the requinto and the band each draw one per mixture.
    soundfonts: tuple[str, ...] = dataclasses.field(
        default_factory=lambda: tuple(f.name for f in soundfonts.training_fonts())
    )
    requinto_programs: tuple[int, ...] = REQUINTO_PROGRAMS
    bass_programs: tuple[int, ...] = BASS_PROGRAMS
    harmony_programs: tuple[int, ...] = HARMONY_PROGRAMS
    seed: int = 0
    cleaning: CleaningConfig = dataclasses.field(default_factory=CleaningConfig)
    augmentation: AugmentationConfig = dataclasses.field(default_factory=AugmentationConfig)


@dataclasses.dataclass
class Song:
    """A song split into the requinto line and what the cleaning took out of it."""

    name: str
    lead: NoteArrays
    accompaniment: NoteArrays


@dataclasses.dataclass
class Instrumentation:
    """Which font and GM program play each part of one mixture."""

    requinto_font: str
    requinto_program: int
    band_font: str
    bass_program: int
    harmony_program: int

    def held_out(self) -> bool:
        return soundfonts.is_held_out(self.requinto_font) or soundfonts.is_held_out(self.band_font)


@dataclasses.dataclass
class Mixture:
    name: str
    song: str
    split: str
    instruments: Instrumentation
    transpose: int
    tempo_factor: float
    requinto_gain_db: float
    accompaniment_gain_db: float
    lead_notes: int
    seconds: float
    # The effects drawn for this mixture (corridos.audio.augmentation), none when it is off.
    effects: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class MixtureSet:
    out_dir: Path
    mixtures: list[Mixture]

    def paths(self, stem: str, split: str | None = None) -> list[Path]:
        return [self.out_dir / stem / f"{m.name}.wav" for m in self.mixtures if split in (None, m.split)]

    def references(self, split: str | None = None) -> list[Path]:
        return [self.out_dir / REFERENCE_DIR / f"{m.name}.mid" for m in self.mixtures if split in (None, m.split)]


def corpus_songs(
    corpus: str | Path, count: int, cleaning: CleaningConfig = CleaningConfig(), seed: int = 0
) -> list[Song]:
    """`count` usable songs drawn (seeded) from a MIDI folder or s3:// prefix, split by `clean`."""
    uris = [u for u in storage.list_files(corpus) if u.lower().endswith(MIDI_SUFFIXES)]
    rng = np.random.default_rng(seed)
    songs = []
    for uri in rng.permutation(uris):
        try:
            result = clean(from_midi_bytes(storage.read_bytes(uri), storage.file_name(uri)), cleaning)
        except BadInputError:
            continue
        if result.rejected is None:
            songs.append(Song(storage.file_name(uri).rsplit(".", 1)[0], result.kept_notes, result.removed_notes))
        if len(songs) == count:
            return songs
    raise BadInputError(str(corpus), f"only {len(songs)} usable song(s) of the {count} asked for")


def song_from_sequence(sequence, name: str, cleaning: CleaningConfig = CleaningConfig()) -> Song:
    result = clean(sequence, cleaning)
    return Song(name, result.kept_notes, result.removed_notes)


def render_mixtures(
    songs: list[Song], out_dir: str | Path, config: MixtureConfig = MixtureConfig(), progress: bool = True
) -> MixtureSet:
    """`config.excerpts_per_song` mixtures per song (one per held-out-font song) under `out_dir`:
    mix/, requinto/, accompaniment/ WAVs, reference/ MIDI, Spleeter's train.csv and validation.csv
    (split by song) and mixtures.json."""
    from tqdm import tqdm

    if config.excerpts_per_song < 1:
        raise ConfigError(f"excerpts_per_song {config.excerpts_per_song}: at least 1")
    soundfonts.check_installed([soundfonts.font_named(name) for name in config.soundfonts])
    out_dir = Path(out_dir)
    rng = np.random.default_rng(config.seed)
    plans = [_instrumentation(config, rng) for _ in songs]
    # Splits are drawn per song, so a song's excerpts never straddle train, validation and test.
    splits = _splits([plan.held_out() for plan in plans], config.validation_fraction)
    heard_fonts = tuple(f for f in config.soundfonts if not soundfonts.is_held_out(f))
    heard = dataclasses.replace(config, soundfonts=heard_fonts)
    jobs = []
    for song, plan, split in zip(songs, plans, splits):
        jobs.append((song, plan, split))
        if split != HELD_OUT_SPLIT:
            jobs += [(song, _instrumentation(heard, rng), split) for _ in range(config.excerpts_per_song - 1)]
    mixtures = []
    for index, (song, plan, split) in enumerate(tqdm(jobs, desc="render", unit="mixture", disable=not progress)):
        mixtures.append(_render_mixture(song, f"{index:03d}", split, plan, out_dir, config, rng))
    _write_csvs(out_dir, mixtures)
    manifest = {"config": config_io.to_dict(config), "mixtures": [dataclasses.asdict(m) for m in mixtures]}
    (out_dir / MIXTURES_MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return MixtureSet(out_dir, mixtures)


def load_mixtures(out_dir: str | Path) -> MixtureSet:
    out_dir = Path(out_dir)
    path = out_dir / MIXTURES_MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{out_dir}: no {MIXTURES_MANIFEST}; render mixtures first (`corridos audio render`)")
    return MixtureSet(
        out_dir, [config_io.from_dict(Mixture, m, str(path)) for m in json.loads(path.read_text())["mixtures"]]
    )


def _instrumentation(config: MixtureConfig, rng) -> Instrumentation:
    def pick(options: tuple) -> Any:
        return options[int(rng.integers(len(options)))]

    return Instrumentation(
        requinto_font=pick(config.soundfonts),
        requinto_program=int(pick(config.requinto_programs)),
        band_font=pick(config.soundfonts),
        bass_program=int(pick(config.bass_programs)),
        harmony_program=int(pick(config.harmony_programs)),
    )


def _splits(held_out: list[bool], validation_fraction: float) -> list[str]:
    """HELD_OUT_SPLIT for held-out mixtures; of the others, the last `validation_fraction` (at
    least one, when there are two or more) are "validation", the rest "train"."""
    heard = held_out.count(False)
    validation = max(1, round(heard * validation_fraction)) if heard > 1 else 0
    splits, seen = [], 0
    for is_held_out in held_out:
        if is_held_out:
            splits.append(HELD_OUT_SPLIT)
            continue
        seen += 1
        splits.append("validation" if seen > heard - validation else "train")
    return splits


def _render_mixture(
    song: Song, index: str, split: str, plan: Instrumentation, out_dir: Path, config: MixtureConfig, rng
) -> Mixture:
    tempo = float(rng.uniform(*config.tempo_factor_range))
    # Cut `seconds * tempo` of the song so that it lasts `seconds` once played `tempo` times faster.
    start = _excerpt_start(song.lead, config.seconds * tempo, rng)
    lead = _excerpt(song.lead, start, config.seconds * tempo, tempo)
    accompaniment = _excerpt(song.accompaniment, start, config.seconds * tempo, tempo)
    semitones = _transposition(lead, config.max_transpose_semitones, rng)
    lead, accompaniment = _transpose(lead, semitones), _transpose(accompaniment, semitones)
    gains = (
        float(rng.uniform(*config.requinto_gain_db_range)),
        float(rng.uniform(*config.accompaniment_gain_db_range)),
    )
    frames = int((config.seconds + config.tail_seconds) * AUDIO_SAMPLE_RATE)
    low = accompaniment.pitch <= config.bass_pitch_max
    requinto_part = [(lead, plan.requinto_program)]
    band_parts = [(accompaniment.take(low), plan.bass_program), (accompaniment.take(~low), plan.harmony_program)]
    requinto = _fit(render(requinto_part, soundfonts.font_named(plan.requinto_font)), frames) * _db(gains[0])
    band = _fit(render(band_parts, soundfonts.font_named(plan.band_font)), frames) * _db(gains[1])
    # Seeded by the mixture, not drawn from `rng`: turning effects on or off keeps the excerpts.
    augmented = augment(requinto, band, AUDIO_SAMPLE_RATE, config.augmentation, [config.seed, int(index)])
    # One factor for all three, so the stems still add up to the mix exactly.
    headroom = min(1.0, 0.9 / max(float(np.abs(augmented.mix).max()), 1e-9))
    name = f"{index}-{_safe(song.name)}"
    stems = (("mix", augmented.mix), ("requinto", augmented.requinto), ("accompaniment", augmented.accompaniment))
    for stem, audio in stems:
        audio_io.write_wav(out_dir / stem / f"{name}.wav", audio * headroom, AUDIO_SAMPLE_RATE)
    write_notes_midi(requinto_part, out_dir / REFERENCE_DIR / f"{name}.mid")
    return Mixture(
        name,
        song.name,
        split,
        plan,
        semitones,
        round(tempo, 4),
        round(gains[0], 2),
        round(gains[1], 2),
        len(lead),
        config.seconds + config.tail_seconds,
        augmented.effects,
    )


def _excerpt_start(lead: NoteArrays, span: float, rng) -> float:
    """A lead onset from which `span` seconds of the song remain (the first one if none)."""
    candidates = lead.start[lead.start + span <= lead.end.max()]
    return float(rng.choice(candidates)) if len(candidates) else float(lead.start.min())


def _excerpt(notes: NoteArrays, start: float, span: float, tempo: float) -> NoteArrays:
    """Notes with onsets in [start, start + span), moved to time 0 and played `tempo` times faster."""
    inside = notes.take((notes.start >= start) & (notes.start < start + span))
    end = np.minimum(inside.end, start + span)
    return NoteArrays(
        (inside.start - start) / tempo, (end - start) / tempo, inside.pitch.copy(), inside.velocity.copy()
    )


def _transposition(lead: NoteArrays, largest: int, rng) -> int:
    """A random shift of at most `largest` semitones that keeps the lead in the requinto's range."""
    if not len(lead):
        return 0
    low = max(-largest, REQUINTO.lowest_pitch(0) - int(lead.pitch.min()))
    high = min(largest, REQUINTO.highest_pitch() - int(lead.pitch.max()))
    return int(rng.integers(low, high + 1)) if low <= high else 0


def _transpose(notes: NoteArrays, semitones: int) -> NoteArrays:
    return NoteArrays(notes.start, notes.end, (notes.pitch + semitones).astype(np.int16), notes.velocity)


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    if len(audio) >= frames:
        return audio[:frames]
    return np.pad(audio, ((0, frames - len(audio)), (0, 0)))


def _db(gain_db: float) -> float:
    return float(10 ** (gain_db / 20))


def _safe(name: str) -> str:
    # Spaces stay, so "Artist - Title" keeps the separator the dataset stage reads artist and title from.
    return "".join(c if c.isalnum() or c in "-_ " else "_" for c in name)[:60]


def _write_csvs(out_dir: Path, mixtures: list[Mixture]) -> None:
    """Spleeter's training tables: paths relative to `out_dir`, duration in seconds."""
    for split in ("train", "validation"):
        with (out_dir / f"{split}.csv").open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow([f"{stem}_path" for stem in STEMS] + ["duration"])
            for m in mixtures:
                if m.split == split:
                    writer.writerow([f"{stem}/{m.name}.wav" for stem in STEMS] + [m.seconds])


def write_notes_midi(parts: list[tuple[NoteArrays, int]], path: Path) -> Path:
    """A MIDI file with one instrument per (notes, GM program) part, notes under
    SHORTEST_NOTE_SECONDS left out."""
    audible = [(notes.take(notes.end - notes.start >= SHORTEST_NOTE_SECONDS), program) for notes, program in parts]
    return write_midi(from_parts(audible), path, program=None)


def render(
    parts: list[tuple[NoteArrays, int]], font: SoundFont | None = None, sample_rate: int = AUDIO_SAMPLE_RATE
) -> np.ndarray:
    """Render (notes, GM program) parts with FluidSynth and `font` (the playback font when None) to
    a (frames, 2) float32 array."""
    font = font or soundfonts.font_named(PLAYBACK_FONT)
    with tempfile.TemporaryDirectory(prefix="corridos-render-") as folder:
        midi = write_notes_midi(parts, Path(folder) / "notes.mid")
        wav = Path(folder) / "notes.wav"
        command = [
            "fluidsynth",
            "-ni",
            "-q",
            # Load only the samples the parts play, not the whole font (FluidR3: 47 MB of memory
            # and 0.8 s a render here, against 174 MB and 1.2 s).
            "-o",
            "synth.dynamic-sample-loading=1",
            "-r",
            str(sample_rate),
            "-O",
            "float",
            "-T",
            "wav",
            "-F",
            str(wav),
            str(font.path),
            str(midi),
        ]
        seconds = max((float(notes.end.max()) for notes, _ in parts if len(notes)), default=0.0)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT_SECONDS + seconds)
        except subprocess.TimeoutExpired as error:
            raise CorridosError(
                f"fluidsynth did not finish {seconds:.0f} s of notes in {error.timeout:.0f} s"
            ) from error
        if done.returncode != 0 or not wav.is_file():
            raise CorridosError(f"fluidsynth failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        audio, _ = audio_io.load_wav(wav)
    return audio


def render_sequence(sequence, path: str | Path, program: int = NYLON_GUITAR) -> Path:
    """A NoteSequence played on one GM program, written as a WAV file."""
    return audio_io.write_wav(Path(path), render([(to_arrays(sequence), program)]), AUDIO_SAMPLE_RATE)
