"""Primer uploads, parsed in worker processes: the largest allowed primer takes seconds of pure
Python to parse, and a thread doing that shares the GIL with the event loop (under four at once
/livez took 1.0-1.3 s to answer). A process has a GIL of its own.

This module is what a worker imports (spawned, not forked: the service's process runs TensorFlow's
threads), so it imports nothing heavy: no BentoML, no Keras.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from pathlib import Path

import numpy as np

from corridos.errors import BadInputError
from corridos.generation.sampling import sequence_tokens
from corridos.symbolic.tokenizer import Vocabulary

# A primer is fed through the model token by token before sampling starts: bound its cost.
MAX_PRIMER_BYTES = 512 * 1024  # measured: the parse of 2 MiB of notes took 5-15 s on 2 cores
MAX_PRIMER_SECONDS = 120.0
# Primers parsed at once, one per worker process; more wait in the pool's queue.
PRIMER_WORKERS = 2
UPLOAD_NAME = "primer upload"


def checked_primer(upload: Path):
    """The upload read as a NoteSequence; BadInputError names what is wrong with it."""
    from corridos.symbolic.sequences import from_midi_bytes

    data = upload.read_bytes()
    if len(data) > MAX_PRIMER_BYTES:
        raise BadInputError(UPLOAD_NAME, f"{len(data)} bytes; at most {MAX_PRIMER_BYTES}")
    if not data.startswith(b"MThd"):
        raise BadInputError(UPLOAD_NAME, "not a MIDI file (a Standard MIDI File starts with 'MThd')")
    sequence = from_midi_bytes(data, UPLOAD_NAME)  # parsed from the bytes read once above
    if sequence.total_time > MAX_PRIMER_SECONDS:
        raise BadInputError(UPLOAD_NAME, f"{sequence.total_time:.0f} s long; at most {MAX_PRIMER_SECONDS:.0f} s")
    return sequence


def primer_tokens(upload: str, vocabulary: Vocabulary) -> np.ndarray:
    """The checked upload's tokens for the vocabulary (runs in a worker process)."""
    return sequence_tokens(checked_primer(Path(upload)), vocabulary, UPLOAD_NAME)


def _warm() -> None:
    """Import what a parse needs before the first upload (note_seq takes seconds to import)."""
    from corridos.symbolic.sequences import import_note_seq

    import_note_seq()


class PrimerParser:
    """PRIMER_WORKERS processes that turn uploads into tokens; a worker that dies (killed, out of
    memory) fails its request, and the next request gets a new pool."""

    def __init__(self) -> None:
        self.pool = self._start()

    @staticmethod
    def _start() -> concurrent.futures.ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(PRIMER_WORKERS, mp_context=context)
        for _ in range(PRIMER_WORKERS):
            pool.submit(_warm)
        return pool

    async def tokens(self, upload: Path, vocabulary: Vocabulary) -> np.ndarray:
        """The upload's tokens, parsed in a worker; BadInputError names what is wrong with it."""
        try:
            return await asyncio.wrap_future(self.pool.submit(primer_tokens, str(upload), vocabulary))
        except concurrent.futures.process.BrokenProcessPool:
            self.pool = self._start()
            raise

    def close(self) -> None:
        """Drop the queued parses, wait for the running ones (seconds at most: the size is bounded),
        so the workers and their queues' semaphores are gone when the service stops."""
        self.pool.shutdown(wait=True, cancel_futures=True)
