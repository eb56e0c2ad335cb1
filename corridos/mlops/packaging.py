"""The trained generator as an MLflow model whose `predict` generates music, and loading it back.

`predict` takes one row per request: sampling settings in, MIDI bytes (base64) out; it is what
`mlflow.pyfunc.load_model` (e.g. `mlflow models serve`, batch scoring) runs. The generation
service does not go through it: it loads the logged model folder with `load` and batches requests
from many clients itself (serving/service.py).
"""

from __future__ import annotations

import base64
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from corridos.errors import ModelError
from corridos.generation.sampling import REQUEST_SETTINGS, SETTINGS, SampleConfig

if TYPE_CHECKING:
    from corridos.symbolic.tokenizer import Vocabulary

ARTIFACT_PATH = "generator"
# The pyfunc's input columns and their MLflow types: the settings a remote request may set, and
# the primer as base64 MIDI bytes.
_COLUMN_TYPES = {float: "double", int: "long", str: "string"}
_REQUEST_COLUMNS = {name: _COLUMN_TYPES[SETTINGS[name].type] for name in REQUEST_SETTINGS} | {"primer_midi": "string"}
_REQUIREMENTS = ("keras", "tensorflow-cpu", "note-seq", "numpy", "pandas", "mlflow", "pretty-midi")


class CorridosGenerator(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from corridos.generation.sampling import Sampler

        self.sampler = Sampler(*load(context.artifacts["model"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return pd.DataFrame([self.generate_one(row) for row in model_input.to_dict("records")])

    def generate_one(self, request: dict) -> dict:
        settings = {k: v for k, v in request.items() if k in _REQUEST_COLUMNS and not _missing(v)}
        with tempfile.TemporaryDirectory() as folder:
            primer = settings.pop("primer_midi", None)
            if primer:
                path = Path(folder) / "primer.mid"
                path.write_bytes(base64.b64decode(primer))
                settings["primer"] = str(path)
            config = SampleConfig(**_typed(settings))
            sequence = self.sampler.generate(config)[0]
        return {
            "midi": base64.b64encode(midi_bytes(sequence)).decode(),
            "notes": len(sequence.notes),
            "seconds": round(sequence.total_time, 3),
        }


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _typed(settings: dict) -> dict:
    """A DataFrame column with a gap turns ints into floats; give the integer fields theirs back."""
    return {k: int(v) if _REQUEST_COLUMNS.get(k) == "long" else v for k, v in settings.items()}


def signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = [ColSpec(kind, name, required=False) for name, kind in _REQUEST_COLUMNS.items()]
    outputs = [ColSpec("string", "midi"), ColSpec("long", "notes"), ColSpec("double", "seconds")]
    return ModelSignature(Schema(inputs), Schema(outputs))


def midi_bytes(sequence) -> bytes:
    from corridos.symbolic.sequences import write_midi

    with tempfile.TemporaryDirectory() as folder:
        return write_midi(sequence, Path(folder) / "piece.mid").read_bytes()


def write_sample(sequence, stem: Path, audio: bool = True) -> list[Path]:
    """A generated piece as MIDI, a piano-roll PNG and (FluidSynth, nylon guitar) a WAV."""
    from corridos.audio.synthesis import render_sequence
    from corridos.symbolic import pianoroll
    from corridos.symbolic.sequences import write_midi

    stem = Path(stem)
    paths = [
        write_midi(sequence, stem.with_suffix(".mid")),
        pianoroll.save([(stem.name, sequence)], stem.with_suffix(".png")),
    ]
    if audio and len(sequence.notes):
        paths.append(render_sequence(sequence, stem.with_suffix(".wav")))
    return paths


def log(model_dir: Path):
    """Log the saved model folder as this run's pyfunc generator (registry.register registers it)."""
    return mlflow.pyfunc.log_model(
        name=ARTIFACT_PATH,
        python_model=CorridosGenerator(),
        artifacts={"model": str(model_dir)},
        pip_requirements=[f"{name}=={metadata.version(name)}" for name in _REQUIREMENTS],
        signature=signature(),
    )


def resolve(reference: str | Path) -> Path:
    """A saved model folder from a local path or any MLflow model URI (models:/NAME@champion,
    runs:/ID/generator, models:/m-ID)."""
    from corridos.generation.models import MODEL_CONFIG

    local = Path(reference)
    if (local / MODEL_CONFIG).is_file():
        return local
    if ":/" not in str(reference):
        raise ModelError(f"{reference}: neither a saved model folder nor an MLflow model URI")
    from corridos.mlops import tracking

    tracking.configure()
    try:
        downloaded = Path(mlflow.artifacts.download_artifacts(artifact_uri=str(reference)))
    except MlflowException as error:
        raise ModelError(f"{reference}: not in the registry at {mlflow.get_tracking_uri()}: {error.message}") from error
    # MLflow stores the logged folder under artifacts/<its own name>
    folders = sorted(p.parent for p in downloaded.glob(f"artifacts/*/{MODEL_CONFIG}"))
    if len(folders) != 1:
        raise ModelError(f"{reference}: an MLflow model, but not a corridos generator (no saved model inside)")
    return folders[0]


def load(reference: str | Path) -> tuple[Any, Vocabulary]:
    """(model, vocabulary) from a local folder or an MLflow model URI."""
    from corridos.generation.models import load_model
    from corridos.symbolic.tokenizer import Vocabulary

    folder = resolve(reference)
    try:
        model = load_model(folder)
    except OSError as error:  # h5py's error for truncated or corrupt weights
        raise ModelError(f"{reference}: its weights cannot be read ({error})") from error
    return model, Vocabulary.load(folder / "vocabulary.json")
