"""Requinto transcription with Basic Pitch: audio -> monophonic-ish MIDI in the requinto's range.

Runs in the AUDIO environment, called from the main environment through corridos.audio.bridge.
The model is the ONNX export shipped in the basic-pitch wheel, run with onnxruntime (on 2 cores
3x faster than its TF SavedModel, with the same notes), loaded once per batch. Model activations
and note decoding are separate steps, so thresholds can be tuned on one inference.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

import numpy as np

from corridos import config as config_io
from corridos import storage
from corridos.audio import io as audio_io
from corridos.audio.io import AudioLimits, AudioSource
from corridos.constants import NYLON_GUITAR_PROGRAM
from corridos.errors import BadInputError, ModelError
from corridos.manifest import StageResult
from corridos.tablature.instrument import REQUINTO

MIDI_DIR = "midi"
# Basic Pitch's own onset and frame thresholds (basic_pitch.inference.predict's defaults).
BASIC_PITCH_THRESHOLDS = (0.5, 0.3)
# Windows of audio sent to onnxruntime per call: batching amortises the per-call overhead.
WINDOWS_PER_CALL = 8


@dataclasses.dataclass
class TranscriptionConfig:
    # Chosen on the training SoundFonts only (corridos.audio.soundfonts; never the held-out one):
    # `benchmarks/audio.py` tunes onset 0.3-0.9 x frame 0.2-0.7 on the solo renders of 9 songs
    # (nylon and steel programs, range 45-88): 0.75/0.6 scores mean note F1 0.986, 0.001 below
    # the grid's best (0.8/0.6), so they stay. Shortest note 30-80 ms was tried by hand. Basic
    # Pitch's defaults (0.5, 0.3, 128 ms) add octave ghosts and drop the requinto's runs, whose
    # notes are 100-130 ms apart. Held-out-font figures: README, "Audio stages".
    onset_threshold: float = 0.75
    frame_threshold: float = 0.6
    min_note_seconds: float = 0.05
    # The requinto's whole range, open low A string to the top fret (the tablature's numbers).
    pitch_min: int = REQUINTO.lowest_pitch(0)
    pitch_max: int = REQUINTO.highest_pitch()
    # Basic Pitch's "melodia trick": extends notes through weak frames, removes spurious blips.
    melodia_trick: bool = True
    limits: AudioLimits = dataclasses.field(default_factory=AudioLimits)


@dataclasses.dataclass
class TranscribedNote:
    start: float
    end: float
    pitch: int
    velocity: int


class RequintoTranscriber:
    """Basic Pitch's ONNX model in one onnxruntime session."""

    def __init__(self):
        # Imported here, not on the first file: basic_pitch.inference imports TensorFlow (seconds).
        import basic_pitch.inference  # noqa: F401
        import basic_pitch.note_creation  # noqa: F401
        import onnxruntime
        from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
        from basic_pitch.constants import AUDIO_SAMPLE_RATE

        path = build_icassp_2022_model_path(FilenameSuffix.onnx)
        if not path.is_file():
            raise ModelError(f"{path}: Basic Pitch's ONNX model is missing; rebuild the audio env with `make envs`")
        self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.sample_rate = AUDIO_SAMPLE_RATE

    def activations(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        """Note, onset and contour activations (frames x bins) of mono audio at `sample_rate`."""
        from basic_pitch.constants import AUDIO_N_SAMPLES, FFT_HOP
        from basic_pitch.inference import unwrap_output, window_audio_file

        # Basic Pitch's own framing: 30 overlapping output frames between windows.
        overlapping_frames = 30
        overlap = overlapping_frames * FFT_HOP
        padded = np.concatenate([np.zeros(overlap // 2, np.float32), waveform.astype(np.float32)])
        windows = np.stack([w for w, _ in window_audio_file(padded, AUDIO_N_SAMPLES - overlap)])
        outputs: dict[str, list] = {"note": [], "onset": [], "contour": []}
        for first in range(0, len(windows), WINDOWS_PER_CALL):
            batch = windows[first : first + WINDOWS_PER_CALL]
            contour, note, onset = self._session.run(
                ["StatefulPartitionedCall:0", "StatefulPartitionedCall:1", "StatefulPartitionedCall:2"],
                {"serving_default_input_2:0": batch},
            )
            for key, value in (("note", note), ("onset", onset), ("contour", contour)):
                outputs[key].append(value)
        return {k: unwrap_output(np.concatenate(v), len(waveform), overlapping_frames) for k, v in outputs.items()}


def decode_notes(activations: dict[str, np.ndarray], config: TranscriptionConfig) -> list[TranscribedNote]:
    """Notes from Basic Pitch activations, with `config`'s thresholds and pitch range."""
    import pretty_midi
    from basic_pitch.constants import ANNOTATIONS_FPS
    from basic_pitch.note_creation import model_output_to_notes

    _, events = model_output_to_notes(
        activations,
        onset_thresh=config.onset_threshold,
        frame_thresh=config.frame_threshold,
        min_note_len=max(1, int(round(config.min_note_seconds * ANNOTATIONS_FPS))),
        min_freq=pretty_midi.note_number_to_hz(config.pitch_min - 0.5),
        max_freq=pretty_midi.note_number_to_hz(config.pitch_max + 0.5),
        include_pitch_bends=False,
        melodia_trick=config.melodia_trick,
    )
    notes = [
        TranscribedNote(float(start), float(end), int(pitch), int(np.clip(round(127 * amplitude), 1, 127)))
        for start, end, pitch, amplitude, _ in events
        if config.pitch_min <= pitch <= config.pitch_max
    ]
    return sorted(notes, key=lambda n: (n.start, -n.pitch))


def write_midi(notes: list[TranscribedNote], path: Path) -> Path:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    guitar = pretty_midi.Instrument(program=NYLON_GUITAR_PROGRAM, name="requinto")
    guitar.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
    midi.instruments.append(guitar)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))
    return path


def transcribe_files(
    inputs: list[str],
    out_dir: Path,
    config: TranscriptionConfig = TranscriptionConfig(),
    stem: str = "requinto",
    progress: bool = True,
) -> StageResult:
    """Transcribe every input into `out_dir/midi/<song>.mid`; bad files are skipped and recorded
    in the manifest, the result's report.

    An input may be a separation output folder: its `stem` WAV of each song is transcribed, under
    the song's name. The midi/ folder is a valid source for the dataset stage.
    """
    from tqdm import tqdm

    transcriber = RequintoTranscriber()
    sources, model_seconds, seen = [], 0.0, set()
    for song, uri in tqdm(named_inputs(inputs, stem), desc="transcribe", unit="file", disable=not progress):
        source = AudioSource(name=song, uri=uri)
        sources.append(source)
        try:
            if song in seen:
                raise BadInputError(song, "an earlier input has the same name")
            waveform = audio_io.read_audio(uri, source, transcriber.sample_rate, config.limits).mean(axis=1)
        except BadInputError as error:
            source.skip(error.reason)
            continue
        seen.add(song)
        started = time.perf_counter()
        notes = decode_notes(transcriber.activations(waveform), config)
        model_seconds += time.perf_counter() - started
        source.outputs["midi"] = str(write_midi(notes, out_dir / MIDI_DIR / f"{song}.mid"))
        source.notes = len(notes)
    extra = {"config": config_io.to_dict(config), "transcription_seconds": round(model_seconds, 3)}
    return audio_io.write_manifest(out_dir, "transcribe", sources, extra)


def named_inputs(inputs: list[str], stem: str) -> list[tuple[str, str]]:
    """(song name, uri) pairs: separation folders give their `stem` per song, files their own name."""
    pairs: list[tuple[str, str]] = []
    for source in inputs:
        if not storage.is_s3(source) and (Path(source) / audio_io.MANIFEST).is_file():
            manifest = audio_io.read_manifest(source)
            if manifest.get("stage") == "separate":
                if stem not in manifest["instruments"]:
                    raise BadInputError(source, f"its stems are {', '.join(manifest['instruments'])}, not {stem!r}")
                pairs.extend(
                    (f["name"].rsplit(".", 1)[0], f["outputs"][stem])
                    for f in manifest["files"]
                    if f["status"] == "used"
                )
                continue
        pairs.extend((storage.file_name(u).rsplit(".", 1)[0], u) for u in audio_io.list_inputs([source]))
    return pairs


@dataclasses.dataclass
class ThresholdNotes(AudioSource):
    """One input transcribed at several threshold pairs: (onset, offset, pitch) rows per pair."""

    rows: list[list[list[float]]] = dataclasses.field(default_factory=list)


def transcribe_at_thresholds(
    inputs: list[str],
    thresholds: list[tuple[float, float]],
    config: TranscriptionConfig = TranscriptionConfig(),
    progress: bool = True,
) -> list[ThresholdNotes]:
    """The notes of every input at each (onset, frame) threshold pair, the model run once per
    file; bad files are skipped with the reason."""
    from tqdm import tqdm

    transcriber = RequintoTranscriber()
    entries = []
    for uri in tqdm(audio_io.list_inputs(inputs), desc="transcribe", unit="file", disable=not progress):
        entry = ThresholdNotes(name=storage.file_name(uri), uri=uri)
        entries.append(entry)
        try:
            waveform = audio_io.read_audio(uri, entry, transcriber.sample_rate, config.limits).mean(axis=1)
        except BadInputError as error:
            entry.skip(error.reason)
            continue
        activations = transcriber.activations(waveform)
        entry.rows = [_rows(decode_notes(activations, _at(config, *pair))).tolist() for pair in thresholds]
        entry.notes = len(entry.rows[0]) if entry.rows else 0
    return entries


def _at(config: TranscriptionConfig, onset: float, frame: float) -> TranscriptionConfig:
    return dataclasses.replace(config, onset_threshold=onset, frame_threshold=frame)


def tune_thresholds(
    pairs: list[tuple[str, str]],
    onset_thresholds: list[float],
    frame_thresholds: list[float],
    config: TranscriptionConfig = TranscriptionConfig(),
    progress: bool = True,
) -> list[dict]:
    """Mean note F1 over (audio, reference MIDI) pairs for every threshold pair, best first.

    The model runs once per file; only the note decoding is repeated per threshold pair.
    """
    from tqdm import tqdm

    from corridos.audio import metrics as audio_metrics

    transcriber = RequintoTranscriber()
    files = []
    for audio, reference in tqdm(pairs, desc="activations", unit="file", disable=not progress):
        waveform, rate = audio_io.load_wav(audio)
        waveform = audio_io.resample(waveform, rate, transcriber.sample_rate).mean(axis=1)
        files.append(
            (transcriber.activations(waveform), audio_metrics.midi_notes(reference, config.pitch_min, config.pitch_max))
        )
    results = []
    for onset, frame in itertools.product(onset_thresholds, frame_thresholds):
        candidate = _at(config, onset, frame)
        scores = [
            audio_metrics.note_scores(reference, _rows(decode_notes(activations, candidate)))["f1"]
            for activations, reference in files
        ]
        results.append({"onset_threshold": onset, "frame_threshold": frame, "f1": round(float(np.mean(scores)), 4)})
    return sorted(results, key=lambda r: -r["f1"])


def _rows(notes: list[TranscribedNote]) -> np.ndarray:
    return np.array([(n.start, n.end, n.pitch) for n in notes], dtype=np.float64).reshape(-1, 3)
