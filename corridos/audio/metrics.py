"""Quality figures of the audio stages, as the issue defines them. Runs in both environments
(numpy, mir_eval, pretty_midi).

- Separation: SDR (mir_eval's BSS Eval) of the requinto stem against the true stem, beside the SDR
  of the unprocessed mixture (what doing nothing scores).
- Transcription: note F1 with 50 ms onset tolerance, offsets ignored, pitches within the
  transcriber's range (notes it is built not to report are not counted as misses).
- Transcriptions of real recordings, which have no labels: figures that need none
  (`transcription_statistics`): note density, pitch range used, notes at the range's edges,
  in-scale ratio, polyphony, octave jumps.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from corridos.tablature.instrument import REQUINTO

ONSET_TOLERANCE_SECONDS = 0.05
# A note this close to the transcriber's floor or ceiling counts as at the range's edge: many there
# say the range cuts the instrument off.
RANGE_EDGE_SEMITONES = 2
OCTAVE = 12
UNDEFINED_WITHOUT_NOTES = ("pitch_low", "pitch_high", "edge_share", "in_scale", "polyphony", "octave_jumps")


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SDR in dB of `estimate` against `reference`, both (frames, channels), compared in mono."""
    import mir_eval

    frames = min(len(reference), len(estimate))
    reference, estimate = reference[:frames].mean(axis=1), estimate[:frames].mean(axis=1)
    if not np.any(reference) or not np.any(estimate):
        raise ValueError("SDR is undefined for a silent reference or estimate")
    # bss_eval_sources is marked deprecated in mir_eval 0.8 with no replacement yet; it is the
    # standard BSS Eval v3 SDR the issue asks for.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        values = mir_eval.separation.bss_eval_sources(reference[None], estimate[None])[0]
    return float(values[0])


def midi_notes(
    path: str | Path, pitch_min: int = REQUINTO.lowest_pitch(0), pitch_max: int = REQUINTO.highest_pitch()
) -> np.ndarray:
    """(n, 3) rows of onset, offset, pitch of the pitched notes in a MIDI file, within the range."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(path))
    rows = [(n.start, n.end, n.pitch) for i in midi.instruments if not i.is_drum for n in i.notes]
    notes = np.array(sorted(rows), dtype=np.float64).reshape(-1, 3)
    return notes[(notes[:, 2] >= pitch_min) & (notes[:, 2] <= pitch_max)]


def note_scores(reference: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of estimated notes against reference notes, (n, 3) rows each."""
    import mir_eval

    if not len(reference):
        raise ValueError("note F1 is undefined for an empty reference")
    if not len(estimate):
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        _intervals(reference),
        _hertz(reference),
        _intervals(estimate),
        _hertz(estimate),
        onset_tolerance=ONSET_TOLERANCE_SECONDS,
        offset_ratio=None,
    )
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def _intervals(notes: np.ndarray) -> np.ndarray:
    # mir_eval rejects zero-length intervals; a transcriber's shortest notes can round to that.
    return np.stack([notes[:, 0], np.maximum(notes[:, 1], notes[:, 0] + 1e-3)], axis=1)


def _hertz(notes: np.ndarray) -> np.ndarray:
    return 440.0 * 2 ** ((notes[:, 2] - 69) / 12)


def transcription_statistics(
    notes: np.ndarray,
    seconds: float,
    pitch_min: int = REQUINTO.lowest_pitch(0),
    pitch_max: int = REQUINTO.highest_pitch(),
) -> dict[str, float | None]:
    """Label-free figures of a transcription, (n, 3) rows of onset, offset, pitch, of `seconds` of
    audio transcribed within [pitch_min, pitch_max].

    notes_per_second; pitch_low/pitch_high (the range used); edge_share (notes within
    RANGE_EDGE_SEMITONES of the floor or ceiling); in_scale (share in the best major or minor
    scale); polyphony (mean notes sounding while any sounds); octave_jumps (share of successive
    notes exactly an octave apart, the transcriber's typical error).
    """
    from corridos.generation.features import in_scale_ratio
    from corridos.symbolic.sequences import NoteArrays

    pitch = notes[:, 2].astype(np.int64)
    if not len(pitch):
        return {"notes": 0, "notes_per_second": 0.0} | dict.fromkeys(UNDEFINED_WITHOUT_NOTES)
    edges = (pitch < pitch_min + RANGE_EDGE_SEMITONES) | (pitch > pitch_max - RANGE_EDGE_SEMITONES)
    arrays = NoteArrays(notes[:, 0], notes[:, 1], pitch.astype(np.int16), np.zeros(len(pitch), np.int16)).sorted()
    jumps = np.abs(np.diff(arrays.pitch.astype(np.int64))) == OCTAVE
    return {
        "notes": len(pitch),
        "notes_per_second": round(len(pitch) / seconds, 3),
        "pitch_low": int(pitch.min()),
        "pitch_high": int(pitch.max()),
        "edge_share": round(float(edges.mean()), 4),
        "in_scale": round(in_scale_ratio(arrays), 4),
        "polyphony": round(_polyphony(notes[:, :2]), 3),
        "octave_jumps": round(float(jumps.mean()), 4) if len(jumps) else 0.0,
    }


def _polyphony(intervals: np.ndarray) -> float:
    """Total note time over the time at least one note sounds."""
    sounding, reach = 0.0, -np.inf
    for start, end in intervals[np.argsort(intervals[:, 0])]:
        sounding += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return float((intervals[:, 1] - intervals[:, 0]).sum() / sounding) if sounding else 0.0
