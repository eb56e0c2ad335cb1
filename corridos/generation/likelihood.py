"""How likely a generator finds real songs: NLL per event, bits per note and perplexity."""

from __future__ import annotations

import numpy as np

from corridos.symbolic.tokenizer import BOS, PAD, Vocabulary

# Windows scored per forward pass: enough to keep the model busy, small enough for a CPU's memory.
BATCH_SIZE = 32


def likelihood(model, vocabulary: Vocabulary, songs: dict[str, np.ndarray], window: int = 0) -> dict[str, float]:
    """NLL per event (nats), bits per note (note-ons) and perplexity over all songs.

    Songs are cut into consecutive windows of `window` tokens (0: the model's context), each
    starting fresh, as in validation during training.
    """
    from keras import ops
    from scipy.special import log_softmax

    inputs, targets = _windows(songs, window or model.config.context, vocabulary)
    total = 0.0
    for start in range(0, len(inputs), BATCH_SIZE):
        logits = ops.convert_to_numpy(model(inputs[start : start + BATCH_SIZE])).astype(np.float64)
        log_probs = log_softmax(logits, axis=-1)
        batch_targets = targets[start : start + BATCH_SIZE]
        valid = batch_targets >= 0
        picked = np.take_along_axis(log_probs, np.maximum(batch_targets, 0)[..., None], axis=-1)[..., 0]
        total -= picked[valid].sum()
    events = int((targets >= 0).sum())
    notes = int(vocabulary.is_note_on(targets[targets >= 0]).sum())
    nll = total / events
    return {
        "nll_per_event": nll,
        "bits_per_note": total / np.log(2) / max(notes, 1),
        "perplexity": float(np.exp(nll)),
        "events": events,
        "notes": notes,
    }


def _windows(songs: dict[str, np.ndarray], window: int, vocabulary: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets), each (windows, window): each song cut into consecutive windows, each
    starting with the song's key token when it has one; the inputs padded with PAD and the targets
    with -1 (not scored), as is the <bos> after a key token (an event is scored, not the start)."""
    input_rows, target_rows = [], []
    for song in songs.values():
        for start in vocabulary.window_starts(song, window):
            piece = vocabulary.window(song, start, window)
            targets = np.where(piece[1:] == BOS, -1, piece[1:])
            input_rows.append(np.pad(piece[:-1], (0, window + 1 - len(piece)), constant_values=PAD))
            target_rows.append(np.pad(targets, (0, window + 1 - len(piece)), constant_values=-1))
    return np.stack(input_rows), np.stack(target_rows)
