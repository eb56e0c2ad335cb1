"""The audio stages as main-env functions: each runs in the audio env (corridos.audio.bridge) and
returns a StageResult; plus the end-to-end evaluation on held-out synthetic mixtures.

    mixtures = synthesis.render_mixtures(synthesis.corpus_songs(CORPUS, 8), "runs/audio/mixtures")
    train_separator("runs/audio/mixtures", "runs/audio/separator")
    separate(["song.mp3"], "runs/audio/separator", "runs/audio/separated")
    transcribe(["runs/audio/separated"], "runs/audio/transcribed")   # midi/ feeds the dataset stage
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from corridos import config as config_io
from corridos.audio import bridge
from corridos.audio import io as audio_io
from corridos.audio import metrics as audio_metrics
from corridos.audio.separation import PRESETS, SeparationConfig, SeparatorTrainingConfig
from corridos.audio.synthesis import REFERENCE_DIR, load_mixtures
from corridos.audio.transcription import BASIC_PITCH_THRESHOLDS, MIDI_DIR, TranscriptionConfig
from corridos.errors import BadInputError
from corridos.manifest import StageResult

EVALUATION = "evaluation.json"
RECORDINGS_REPORT = "report.json"


def train_separator(
    data_dir: str | Path,
    model_dir: str | Path,
    preset: str = "tiny",
    overrides: dict | None = None,
    progress: bool = True,
) -> StageResult:
    """Train a separator on rendered mixtures (train.csv/validation.csv); the report is training.json."""
    config = config_io.from_preset(SeparatorTrainingConfig, PRESETS, preset, overrides)
    return _stage_result(
        "corridos.audio.separation:train_separator",
        data_dir=data_dir,
        model_dir=model_dir,
        config=config,
        progress=progress,
    )


def separate(
    inputs: list[str],
    model: str | Path,
    out_dir: str | Path,
    config: SeparationConfig = SeparationConfig(),
    progress: bool = True,
) -> StageResult:
    """Requinto and accompaniment stems of every input, under out_dir/<song>/; the report is the manifest."""
    return _stage_result(
        "corridos.audio.separation:separate_files",
        inputs=inputs,
        model=model,
        out_dir=out_dir,
        config=config,
        progress=progress,
    )


def transcribe(
    inputs: list[str],
    out_dir: str | Path,
    config: TranscriptionConfig = TranscriptionConfig(),
    stem: str = "requinto",
    progress: bool = True,
) -> StageResult:
    """MIDI of every input (or of each song's `stem` in separation folders) under out_dir/midi/;
    the report is the manifest."""
    return _stage_result(
        "corridos.audio.transcription:transcribe_files",
        inputs=inputs,
        out_dir=out_dir,
        config=config,
        stem=stem,
        progress=progress,
    )


def _stage_result(target: str, **kwargs) -> StageResult:
    return config_io.from_dict(StageResult, bridge.call(target, **kwargs), target)


def tune_transcription(
    mixtures_dir: str | Path,
    onset_thresholds: list[float],
    frame_thresholds: list[float],
    config: TranscriptionConfig = TranscriptionConfig(),
    split: str = "train",
    progress: bool = True,
) -> list[dict]:
    """Note F1 of the solo requinto renders of `split` for each threshold pair, best first.

    Tune on the train split and score on validation (`evaluate`), so the reported F1 is held out;
    mixtures with the held-out font (corridos.audio.soundfonts) are refused.
    """
    mixtures = load_mixtures(mixtures_dir)
    if any(m.instruments.held_out() for m in mixtures.mixtures if m.split == split):
        raise BadInputError(str(mixtures_dir), f"its {split} mixtures use the held-out font: evaluation only")
    pairs = [[str(a), str(r)] for a, r in zip(mixtures.paths("requinto", split), mixtures.references(split))]
    if not pairs:
        raise BadInputError(str(mixtures_dir), f"no {split} mixtures")
    return bridge.call(
        "corridos.audio.transcription:tune_thresholds",
        pairs=pairs,
        onset_thresholds=onset_thresholds,
        frame_thresholds=frame_thresholds,
        config=config,
        progress=progress,
    )


def threshold_pairs(config: TranscriptionConfig) -> dict[str, tuple[float, float]]:
    """The thresholds every comparison reports: `config`'s, then Basic Pitch's own."""
    return {"chosen": (config.onset_threshold, config.frame_threshold), "basic-pitch": BASIC_PITCH_THRESHOLDS}


def report_recordings(
    inputs: list[str],
    out_dir: str | Path,
    config: TranscriptionConfig = TranscriptionConfig(),
    progress: bool = True,
) -> StageResult:
    """Transcribe real recordings at `config`'s thresholds and at Basic Pitch's, and measure what
    needs no labels (audio_metrics.transcription_statistics) per file and thresholds. Writes
    out_dir/report.json; the result's report is its "rows" (one per file and thresholds), bad
    files are skipped with the reason. Nothing here tunes anything: there is no truth to tune to."""
    pairs = threshold_pairs(config)
    entries = bridge.call(
        "corridos.audio.transcription:transcribe_at_thresholds",
        inputs=inputs,
        thresholds=list(pairs.values()),
        config=config,
        progress=progress,
    )
    rows = [
        {
            "name": entry["name"],
            "thresholds": label,
            "onset_threshold": onset,
            "frame_threshold": frame,
            "seconds": entry["seconds"],
            **audio_metrics.transcription_statistics(
                np.array(notes, dtype=np.float64).reshape(-1, 3), entry["seconds"], config.pitch_min, config.pitch_max
            ),
        }
        for entry in entries
        if entry["status"] == "used"
        for label, (onset, frame), notes in zip(pairs, pairs.values(), entry["rows"])
    ]
    skipped = {e["name"]: e["reason"] for e in entries if e["status"] == "skipped"}
    report = {"config": config_io.to_dict(config), "rows": rows, "skipped": skipped}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RECORDINGS_REPORT).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return StageResult(out_dir, report, used=len(entries) - len(skipped), skipped=skipped)


def transcribed_sequences(out_dir: str | Path) -> dict:
    """song -> NoteSequence of every MIDI a transcription wrote."""
    from corridos.symbolic.sequences import read_midi

    manifest = audio_io.read_manifest(out_dir)
    return {f["name"]: read_midi(f["outputs"]["midi"]) for f in manifest["files"] if f["status"] == "used"}


@dataclasses.dataclass
class MixtureScores:
    name: str
    sdr_separated: float
    sdr_mixture: float
    f1_solo: float
    f1_separated: float


def evaluate(
    mixtures_dir: str | Path,
    model: str | Path,
    out_dir: str | Path,
    config: TranscriptionConfig = TranscriptionConfig(),
    split: str = "validation",
    progress: bool = True,
) -> StageResult:
    """Separate and transcribe the held-out mixtures; SDR against the mixture baseline, note F1
    of the solo requinto render and of the separated stem. Writes out_dir/evaluation.json; the
    result's report is its summary."""
    mixtures = load_mixtures(mixtures_dir)
    mixes = [str(p) for p in mixtures.paths("mix", split)]
    if not mixes:
        raise BadInputError(str(mixtures_dir), f"no {split} mixtures")
    out_dir = Path(out_dir)
    separation = separate(mixes, model, out_dir / "separated", progress=progress)
    solo = transcribe([str(p) for p in mixtures.paths("requinto", split)], out_dir / "solo", config, progress=progress)
    after = transcribe([str(out_dir / "separated")], out_dir / "from-separated", config, progress=progress)
    scores = [_score(m.name, mixtures.out_dir, out_dir) for m in mixtures.mixtures if m.split == split]
    summary = {
        "mixtures": len(scores),
        "sdr_separated_db": _mean(scores, "sdr_separated"),
        "sdr_mixture_db": _mean(scores, "sdr_mixture"),
        "f1_solo": _mean(scores, "f1_solo"),
        "f1_separated": _mean(scores, "f1_separated"),
        "separation_rtf": _real_time_factor(separation.report, "separation_seconds"),
        "transcription_rtf": _real_time_factor(solo.report, "transcription_seconds"),
    }
    report = {
        "model": str(model),
        "mixtures_dir": str(mixtures_dir),
        "split": split,
        "config": config_io.to_dict(config),
        "summary": summary,
        "mixtures": [dataclasses.asdict(s) for s in scores],
        "transcription_after_separation": after.report["summary"],
    }
    (out_dir / EVALUATION).write_text(json.dumps(report, indent=1))
    return StageResult(out_dir, summary, used=len(scores))


def threshold_scores(
    mixtures_dir: str | Path,
    evaluation_dir: str | Path,
    split: str = "validation",
    config: TranscriptionConfig = TranscriptionConfig(),
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Mean note F1 of `split`'s solo renders and of `evaluate`'s separated stems (in
    `evaluation_dir`) at each of threshold_pairs(config), from one run of the model per file:
    {label: {"f1_solo": ..., "f1_separated": ...}}. A stem skipped as silent scores 0."""
    mixtures = load_mixtures(mixtures_dir)
    names = [m.name for m in mixtures.mixtures if m.split == split]
    if not names:
        raise BadInputError(str(mixtures_dir), f"no {split} mixtures")
    audio = {
        "f1_solo": [str(mixtures.out_dir / "requinto" / f"{name}.wav") for name in names],
        "f1_separated": [str(Path(evaluation_dir) / "separated" / name / "requinto.wav") for name in names],
    }
    pairs = threshold_pairs(config)
    entries = bridge.call(
        "corridos.audio.transcription:transcribe_at_thresholds",
        inputs=[path for paths in audio.values() for path in paths],
        thresholds=list(pairs.values()),
        config=config,
        progress=progress,
    )
    rows = {entry["uri"]: entry["rows"] for entry in entries}
    references = [audio_metrics.midi_notes(mixtures.out_dir / REFERENCE_DIR / f"{name}.mid") for name in names]

    def f1(reference: np.ndarray, path: str, index: int) -> float:
        notes = rows[path][index] if rows[path] else []
        return audio_metrics.note_scores(reference, np.array(notes, dtype=np.float64).reshape(-1, 3))["f1"]

    return {
        label: {
            kind: round(float(np.mean([f1(r, path, index) for r, path in zip(references, paths)])), 4)
            for kind, paths in audio.items()
        }
        for index, label in enumerate(pairs)
    }


def _real_time_factor(manifest: dict, model_seconds: str) -> float:
    return round(manifest[model_seconds] / manifest["audio_seconds"], 4)


def _score(name: str, mixtures_dir: Path, out_dir: Path) -> MixtureScores:
    truth, _ = audio_io.load_wav(mixtures_dir / "requinto" / f"{name}.wav")
    mix, _ = audio_io.load_wav(mixtures_dir / "mix" / f"{name}.wav")
    separated, _ = audio_io.load_wav(out_dir / "separated" / name / "requinto.wav")
    reference = audio_metrics.midi_notes(mixtures_dir / REFERENCE_DIR / f"{name}.mid")
    return MixtureScores(
        name=name,
        sdr_separated=round(audio_metrics.sdr(truth, separated), 3),
        sdr_mixture=round(audio_metrics.sdr(truth, mix), 3),
        f1_solo=round(_f1(reference, out_dir / "solo" / MIDI_DIR / f"{name}.mid"), 4),
        f1_separated=round(_f1(reference, out_dir / "from-separated" / MIDI_DIR / f"{name}.mid"), 4),
    )


def _f1(reference: np.ndarray, transcribed: Path) -> float:
    return audio_metrics.note_scores(reference, audio_metrics.midi_notes(transcribed))["f1"]


def _mean(scores: list[MixtureScores], field: str) -> float:
    return round(float(np.mean([getattr(s, field) for s in scores])), 4)
