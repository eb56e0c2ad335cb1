"""The failures corridos raises on purpose: each message names the input and the reason, in one line.

Pure Python, imported by both environments. The CLI turns these (and USER_ERRORS' library
exceptions) into one `error: ...` line; anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class CorridosError(Exception):
    """A failure the user can act on; `str(error)` is the whole message."""


class BadInputError(CorridosError):
    """An input (a MIDI or audio file, a primer, a source folder) cannot be used; `reason` says why
    in words that also go into the manifests, beside the input's `name`."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason

    def __reduce__(self):
        # pickled with both arguments: it comes back from worker processes (the service's primer parses)
        return type(self), (self.name, self.reason)


class ModelError(CorridosError):
    """A model cannot be loaded or used: missing, empty, truncated, or an unknown models:/ URI."""


class ConfigError(CorridosError):
    """A setting names an unknown field, or holds a value of the wrong type or out of range."""


class AudioEnvError(CorridosError):
    """The audio environment is missing, or a function running in it failed."""


class PipelineTaskError(CorridosError):
    """A task of a local pipeline run failed: which, the last line it wrote, and its log file."""

    def __init__(self, task: str, reason: str, log: Path):
        super().__init__(f"pipeline task {task} failed: {reason} (log: {log})")
        self.task, self.reason, self.log = task, reason, log


class ServerProcessError(CorridosError):
    """A server exited, did not become ready in time, or left processes behind; the message ends
    with the tail of its log."""


# What a user can cause: corridos' own errors, and a path that does not exist.
USER_ERRORS: tuple[type[Exception], ...] = (CorridosError, FileNotFoundError)
