"""Run an audio stage in the audio environment, across a process boundary (main env side).

Spleeter and Basic Pitch need TensorFlow 2.12, the main env has 2.21 (see FINDINGS), so the
main env starts `<audio env>/bin/python -m corridos.<module> ...` and reads back the artifacts it
writes. The child's output (progress bars included) is relayed as it comes.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from pathlib import Path

from corridos.constants import AUDIO_ENV_DIR

# Where a cluster image or a custom setup keeps the audio env's interpreter.
PYTHON_VARIABLE = "CORRIDOS_AUDIO_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The child prints `error: ...` and exits with this code for failures it understands.
KNOWN_FAILURE_EXIT = 2
_TAIL_CHARACTERS = 4000


class AudioEnvError(RuntimeError):
    """The audio environment is missing, or a stage running in it failed."""


def audio_python() -> Path:
    explicit = os.environ.get(PYTHON_VARIABLE)
    python = Path(explicit) if explicit else REPO_ROOT / AUDIO_ENV_DIR / "bin" / "python"
    if not python.is_file():
        raise AudioEnvError(
            f"{python}: the audio environment (TensorFlow 2.12, Spleeter, Basic Pitch) is missing; "
            f"build it with `make envs`, or set {PYTHON_VARIABLE} to its python"
        )
    return python


def run_stage(module: str, args: list[str]) -> None:
    """Run `python -m <module> <args>` in the audio env; AudioEnvError with its reason on failure."""
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # TF 2.12 and resampy print deprecation warnings on import that say nothing about the run.
        "PYTHONWARNINGS": "ignore",
    }
    command = [str(audio_python()), "-m", module, *args]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tail = _relay(process.stdout)
    code = process.wait()
    if code == 0:
        return
    errors = [line for line in tail.splitlines() if line.startswith("error: ")]
    if code == KNOWN_FAILURE_EXIT and errors:
        raise AudioEnvError(errors[-1].removeprefix("error: "))
    raise AudioEnvError(f"{module} failed with exit code {code}:\n{tail[-1500:]}")


def _relay(stream) -> str:
    """Copy the child's output to our stderr as it comes (tqdm redraws with \\r, not newlines)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tail = ""
    while chunk := os.read(stream.fileno(), 4096):
        text = decoder.decode(chunk)
        sys.stderr.write(text)
        sys.stderr.flush()
        tail = (tail + text)[-_TAIL_CHARACTERS:]
    return tail
