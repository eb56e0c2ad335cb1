"""The model registry and the promotion gate that decides which generator is the champion.

Every trained generator becomes a version of one registered model. The gate scores the candidate
and the current champion on the same songs, and moves the `champion` alias only when the
candidate is better by the configured margin and its samples pass the sanity checks. The decision
and its reasons are written on the candidate version as tags, promoted or not.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from corridos.errors import BadInputError, ModelError
from corridos.mlops.cluster import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from corridos.symbolic.sequences import NoteArrays, to_arrays


@dataclasses.dataclass
class PromotionConfig:
    # Bits per note: comparable across vocabularies, and for one vocabulary it ranks models
    # exactly as NLL per event does (same events, same notes).
    margin_bits_per_note: float = 0.05
    samples: int = 4
    sample_seconds: float = 20.0
    seed: int = 0
    # Sanity checks on the candidate's samples: no stuck loops, not silent, not a blur of notes.
    max_repetition_ratio: float = 0.5
    min_notes_per_second: float = 0.5
    max_notes_per_second: float = 25.0
    model_name: str = REGISTERED_MODEL_NAME


@dataclasses.dataclass
class Decision:
    promoted: bool
    reasons: list[str]
    candidate_version: str
    champion_version: str | None
    candidate_bits_per_note: float
    champion_bits_per_note: float | None
    sanity: dict[str, float]


def register(run_id: str, model_name: str = REGISTERED_MODEL_NAME) -> str:
    """Register the run's logged generator as a new version; returns the version number."""
    import mlflow

    from corridos.mlops import tracking
    from corridos.mlops.packaging import ARTIFACT_PATH

    tracking.configure()
    version = mlflow.register_model(f"runs:/{run_id}/{ARTIFACT_PATH}", model_name)
    return str(version.version)


@dataclasses.dataclass(frozen=True)
class RegisteredVersion:
    version: str  # MLflow gives an int from a database store, a str from a server: always a str here
    run_id: str | None  # the run that logged it (None for a model registered from outside a run)


def champion(model_name: str = REGISTERED_MODEL_NAME) -> RegisteredVersion:
    """The version behind the champion alias; ModelError saying why when there is none, or the
    store cannot be read."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        found = mlflow.MlflowClient().get_model_version_by_alias(model_name, CHAMPION_ALIAS)
        return RegisteredVersion(str(found.version), found.run_id)
    except MlflowException as error:
        raise ModelError(
            f"no model behind models:/{model_name}@{CHAMPION_ALIAS} at {mlflow.get_tracking_uri()}: {error.message}"
        ) from error


def set_champion(version: str, model_name: str = REGISTERED_MODEL_NAME) -> None:
    """Point the champion alias at `version`. `promote` calls it when the gate lets a candidate
    through; called directly, it skips the gate (a store the gate has not filled: tests, demos)."""
    import mlflow

    mlflow.MlflowClient().set_registered_model_alias(model_name, CHAMPION_ALIAS, str(version))


def promote(
    candidate_version: str, reference: list[NoteArrays], config: PromotionConfig = PromotionConfig()
) -> Decision:
    """Score candidate and champion on `reference` songs; move the alias if the candidate wins."""
    import mlflow

    from corridos.mlops import packaging, tracking

    tracking.configure()
    client = mlflow.MlflowClient()
    candidate = packaging.load(f"models:/{config.model_name}/{candidate_version}")
    candidate_bits = bits_per_note(*candidate, reference)
    sanity = sample_sanity(*candidate, config)
    reasons = sanity_problems(sanity, config)
    try:
        current: str | None = champion(config.model_name).version
    except ModelError:
        current = None
    champion_bits = None
    if current == str(candidate_version):
        reasons.append(f"version {candidate_version} is already the champion")
    elif current is not None:
        champion_bits = bits_per_note(*packaging.load(f"models:/{config.model_name}@{CHAMPION_ALIAS}"), reference)
        if candidate_bits > champion_bits - config.margin_bits_per_note:
            reasons.append(
                f"not better by the margin: {candidate_bits:.4f} bits/note vs the champion's "
                f"{champion_bits:.4f} (margin {config.margin_bits_per_note})"
            )
    promoted = not reasons
    if promoted:
        reasons.append(
            "no champion yet"
            if current is None
            else f"better than version {current}: {candidate_bits:.4f} < {champion_bits:.4f} bits/note"
        )
        set_champion(candidate_version, config.model_name)
    decision = Decision(promoted, reasons, str(candidate_version), current, candidate_bits, champion_bits, sanity)
    _record(client, config.model_name, decision)
    return decision


def bits_per_note(model, vocabulary, reference: list[NoteArrays]) -> float:
    """Bits per note of `reference` under the model, each song encoded with the model's own
    vocabulary (notes outside its pitch range dropped; its key token first when it has keys)."""
    from corridos.generation.likelihood import likelihood

    low, high = vocabulary.config.pitch_min, vocabulary.config.pitch_max
    songs = {
        str(i): vocabulary.encode_song(notes.take((notes.pitch >= low) & (notes.pitch <= high)))
        for i, notes in enumerate(reference)
    }
    return float(likelihood(model, vocabulary, songs)["bits_per_note"])


def sample_sanity(model, vocabulary, config: PromotionConfig) -> dict[str, float]:
    from corridos.generation.features import repetition_ratio
    from corridos.generation.sampling import SampleConfig, Sampler

    pieces = Sampler(model, vocabulary).generate(
        SampleConfig(seconds=config.sample_seconds, seed=config.seed), config.samples
    )
    notes = [to_arrays(p) for p in pieces]
    return {
        "repetition_ratio": float(np.max([repetition_ratio(n) for n in notes])),
        "min_notes_per_second": float(np.min([len(n) / config.sample_seconds for n in notes])),
        "max_notes_per_second": float(np.max([len(n) / config.sample_seconds for n in notes])),
    }


def sanity_problems(sanity: dict[str, float], config: PromotionConfig) -> list[str]:
    problems = []
    if sanity["repetition_ratio"] > config.max_repetition_ratio:
        problems.append(
            f"degenerate samples: repetition ratio {sanity['repetition_ratio']:.2f} > {config.max_repetition_ratio}"
        )
    if sanity["min_notes_per_second"] < config.min_notes_per_second:
        problems.append(
            f"near-silent samples: {sanity['min_notes_per_second']:.2f} notes/s < {config.min_notes_per_second}"
        )
    if sanity["max_notes_per_second"] > config.max_notes_per_second:
        problems.append(
            f"note blur in samples: {sanity['max_notes_per_second']:.2f} notes/s > {config.max_notes_per_second}"
        )
    return problems


def _record(client, model_name: str, decision: Decision) -> None:
    tags = {
        "promotion.decision": "promoted" if decision.promoted else "refused",
        "promotion.reasons": json.dumps(decision.reasons),
        "promotion.candidate_bits_per_note": f"{decision.candidate_bits_per_note:.6f}",
        "promotion.champion_version": decision.champion_version or "",
        "promotion.champion_bits_per_note": ""
        if decision.champion_bits_per_note is None
        else f"{decision.champion_bits_per_note:.6f}",
        "promotion.sanity": json.dumps(decision.sanity),
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, decision.candidate_version, key, value)


def reference_from_dataset(dataset_dir, split: str = "validation") -> list[NoteArrays]:
    """The notes of a dataset split's songs: what both candidate and champion are scored on."""
    from corridos.symbolic.dataset import load_dataset

    dataset = load_dataset(dataset_dir)
    songs = dataset.songs(split)
    if not songs:
        raise BadInputError(str(dataset_dir), f"no songs in the {split} split to compare models on")
    return [to_arrays(dataset.vocabulary.decode(tokens)) for tokens in songs.values()]
