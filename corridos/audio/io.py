"""Audio files in and out for the audio stages, and the per-file manifest they write.

Runs in both environments: it needs only numpy, soundfile and corridos.storage. Every input is
checked before a model sees it; a bad file becomes a skipped manifest entry, never a crash.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np

from corridos import storage
from corridos.constants import AUDIO_SUFFIXES
from corridos.errors import BadInputError
from corridos.manifest import ManifestEntry, StageResult

MANIFEST = "manifest.json"


@dataclasses.dataclass
class AudioLimits:
    min_seconds: float = 1.0
    max_seconds: float = 900.0
    # Peak below this is silence (or a dead channel): nothing to separate or transcribe.
    silence_dbfs: float = -60.0


@dataclasses.dataclass
class AudioSource(ManifestEntry):
    seconds: float = 0.0
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: int = 0


def list_inputs(sources: list[str]) -> list[str]:
    """Files and every file under folders or s3:// prefixes, in the order given."""
    uris: list[str] = []
    for source in sources:
        uris.extend(storage.list_files(source))
    return uris


def read_audio(uri: str, source: AudioSource, sample_rate: int, limits: AudioLimits) -> np.ndarray:
    """(frames, channels) float32 at `sample_rate`; raises BadInputError for anything unusable."""
    import soundfile

    name = storage.file_name(uri)
    if not name.lower().endswith(AUDIO_SUFFIXES):
        raise BadInputError(name, f"not an audio file name (expected {', '.join(AUDIO_SUFFIXES)})")
    if not storage.is_s3(uri) and Path(uri).is_file() and Path(uri).stat().st_size:
        # A local file's length comes from its header before a byte is read: a 20-minute file is
        # refused unread (its decoded samples alone would take ~800 MB).
        try:
            header = soundfile.info(str(uri))
        except RuntimeError as error:
            raise BadInputError(name, f"unreadable audio: {error}") from error
        except OSError as error:
            raise BadInputError(name, f"unreadable: {error}") from error
        _check_length(name, header.frames / header.samplerate if header.samplerate else 0.0, limits)
    try:
        data = storage.read_bytes(uri)
    except OSError as error:
        raise BadInputError(name, f"unreadable: {error}") from error
    source.sha256 = storage.sha256_hex(data)
    if not data:
        raise BadInputError(name, "empty file")
    try:
        # Length is checked from the header first, so an hour-long file is refused unread.
        info = soundfile.info(io.BytesIO(data))
        seconds = info.frames / info.samplerate
        _check_length(name, seconds, limits)
        waveform, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except RuntimeError as error:  # libsndfile's errors for corrupt or unknown formats
        raise BadInputError(name, f"unreadable audio: {error}") from error
    source.seconds = round(seconds, 3)
    peak = float(np.abs(waveform).max()) if waveform.size else 0.0
    peak_dbfs = 20 * np.log10(peak) if peak > 0 else -np.inf
    if peak_dbfs < limits.silence_dbfs:
        raise BadInputError(name, f"silent: peak {peak_dbfs:.0f} dBFS < {limits.silence_dbfs:.0f} dBFS")
    return resample(waveform, rate, sample_rate)


def _check_length(name: str, seconds: float, limits: AudioLimits) -> None:
    if seconds < limits.min_seconds:
        raise BadInputError(name, f"too short: {seconds:.2f} s < {limits.min_seconds} s")
    if seconds > limits.max_seconds:
        raise BadInputError(name, f"too long: {seconds:.0f} s > {limits.max_seconds:.0f} s")


def resample(waveform: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    if rate == target_rate:
        return waveform
    import soxr

    return soxr.resample(waveform, rate, target_rate).astype(np.float32)


def write_wav(path: Path, waveform: np.ndarray, sample_rate: int) -> Path:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), waveform, sample_rate, subtype="FLOAT")
    return path


def load_wav(path: str | Path) -> tuple[np.ndarray, int]:
    import soundfile

    waveform, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return waveform, rate


def write_manifest(out_dir: Path, stage: str, sources: list[AudioSource], extra: dict) -> StageResult:
    """Write out_dir/manifest.json: the stage, `extra` figures, the seconds of audio used, the
    counts and every file's entry."""
    used = sum(s.status == "used" for s in sources)
    manifest = {
        "stage": stage,
        **extra,
        "audio_seconds": round(sum(s.seconds for s in sources if s.status == "used"), 3),
        "summary": {"files": len(sources), "used": used, "skipped": len(sources) - used},
        "files": [dataclasses.asdict(s) for s in sources],
    }
    path = out_dir / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return StageResult.of_entries(out_dir, manifest, sources)


def read_manifest(out_dir: str | Path) -> dict:
    return json.loads((Path(out_dir) / MANIFEST).read_text())
