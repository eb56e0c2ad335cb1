"""Run an audio-env function across the process boundary.

Spleeter and Basic Pitch need TensorFlow 2.12, which cannot share an environment with the main
env's TensorFlow 2.21, Keras 3, kfp and MLflow. So the main env calls

    bridge.call("corridos.audio.separation:separate_files", inputs=[...], model=..., out_dir=...,
                config=SeparationConfig(...), progress=True)

which writes the call as a JSON request and starts `<audio env>/bin/python -m corridos.audio.bridge
REQUEST.json`. The child imports the function, turns the JSON arguments back into the types its
annotations name (dataclass configs, paths), runs it and writes the JSON of its result. Its output
(progress bars included) is relayed as it comes. A CorridosError in the child comes back as an
AudioEnvError with the same one-line message; any other failure with the tail of the child's output.
"""

from __future__ import annotations

import codecs
import dataclasses
import importlib
import inspect
import json
import logging
import os
import subprocess
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any

from corridos import config as config_io
from corridos.constants import AUDIO_ENV_DIR
from corridos.errors import USER_ERRORS, AudioEnvError
from corridos.processes import QUIET_TENSORFLOW

# Where a cluster image or a custom setup keeps the audio env's interpreter.
PYTHON_VARIABLE = "CORRIDOS_AUDIO_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The child exits with this code after writing the message of a failure it understands.
KNOWN_FAILURE_EXIT = 2
_TAIL_CHARACTERS = 4000
_SHOWN_TAIL_CHARACTERS = 1500


@dataclasses.dataclass
class _Request:
    target: str  # "package.module:function"
    kwargs: dict[str, Any]
    result: str  # where the child writes {"value": ...} or {"error": "..."}


def audio_python() -> Path:
    """The audio env's interpreter: $CORRIDOS_AUDIO_PYTHON, else the repository's .venv-audio."""
    explicit = os.environ.get(PYTHON_VARIABLE)
    python = Path(explicit) if explicit else REPO_ROOT / AUDIO_ENV_DIR / "bin" / "python"
    if not python.is_file():
        raise AudioEnvError(
            f"{python}: the audio environment (TensorFlow 2.12, Spleeter, Basic Pitch) is missing; "
            f"build it with `make envs`, or set {PYTHON_VARIABLE} to its python"
        )
    return python


def call(target: str, **kwargs: Any) -> Any:
    """Run `target` ("module:function") in the audio env with `kwargs`; returns its result as plain
    JSON values (dataclasses as mappings, paths as strings). AudioEnvError on failure."""
    python = audio_python()
    with tempfile.TemporaryDirectory(prefix="corridos-bridge-") as folder:
        request_path, result_path = Path(folder) / "request.json", Path(folder) / "result.json"
        request = _Request(target, config_io.to_dict(kwargs), str(result_path))
        request_path.write_text(json.dumps(dataclasses.asdict(request)))
        code, tail = _run([str(python), "-m", __name__, str(request_path)])
        outcome = json.loads(result_path.read_text()) if result_path.is_file() else {}
    if code == 0 and "value" in outcome:
        return outcome["value"]
    if code == KNOWN_FAILURE_EXIT and "error" in outcome:
        raise AudioEnvError(outcome["error"])
    raise AudioEnvError(f"{target} failed with exit code {code}:\n{tail[-_SHOWN_TAIL_CHARACTERS:]}")


def _run(command: list[str]) -> tuple[int, str]:
    """Run the child, relaying its output; (exit code, the tail of its output)."""
    env = {
        **os.environ,
        **QUIET_TENSORFLOW,
        # TF 2.12 and resampy print deprecation warnings on import that say nothing about the run.
        "PYTHONWARNINGS": "ignore",
    }
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tail = _relay(process.stdout)
    return process.wait(), tail


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


def serve(request_path: Path) -> int:
    """The child's side: run the request's function and write its outcome; the exit code."""
    request = config_io.from_dict(_Request, json.loads(request_path.read_text()), str(request_path))
    function = _resolve(request.target)
    try:
        value = function(**_typed_arguments(function, request.kwargs))
    except USER_ERRORS as error:
        Path(request.result).write_text(json.dumps({"error": str(error)}))
        return KNOWN_FAILURE_EXIT
    Path(request.result).write_text(json.dumps({"value": config_io.to_dict(value)}))
    return 0


def _resolve(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _typed_arguments(function, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The JSON arguments as the types the function's annotations name."""
    hints = typing.get_type_hints(function)
    inspect.signature(function).bind(**kwargs)  # a wrong or missing argument fails here, named
    return {name: config_io.from_plain(hints.get(name), value, name) for name, value in kwargs.items()}


if __name__ == "__main__":
    # Library loggers (TensorFlow's deprecation notices, basic_pitch's note about every model
    # backend it lacks) speak at import; only errors are worth relaying.
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    sys.exit(serve(Path(sys.argv[1])))
