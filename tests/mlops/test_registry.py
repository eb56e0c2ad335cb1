import json

import mlflow
import pytest

from corridos.errors import ModelError
from corridos.generation.models import ModelConfig, build_model, save_model
from corridos.generation.train import preset, train
from corridos.mlops import packaging, registry, tracking
from corridos.mlops.registry import PromotionConfig
from corridos.symbolic.tokenizer import Vocabulary
from tests.helpers import TINY_MODEL

NAME = "gate-test-generator"


def log_untrained(tmp_path) -> str:
    """A run holding an untrained generator: a model that must never beat a trained one."""
    vocabulary = Vocabulary()
    folder = save_model(
        build_model(ModelConfig(family="lstm", embedding_dim=8, hidden_dim=8, layers=1), vocabulary.size),
        tmp_path / "untrained",
    )
    vocabulary.save(folder / "vocabulary.json")
    with mlflow.start_run() as run:
        packaging.log(folder)
    return run.info.run_id


@pytest.mark.slow
def test_gate_promotes_a_better_model_and_refuses_a_worse_one(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = PromotionConfig(model_name=NAME, samples=2, sample_seconds=5, max_repetition_ratio=1.0)
    reference = registry.reference_from_dataset(tiny_dataset)

    trained = train(
        tiny_dataset, tmp_path / "good", preset("tiny", "wavenet", {**TINY_MODEL, "epochs": 3}), progress=False
    )
    first = registry.register(trained.run_id, NAME)
    decision = registry.promote(first, reference, config)
    assert decision.promoted and decision.reasons == ["no champion yet"]
    assert registry.champion(NAME).version == first

    worse = registry.register(log_untrained(tmp_path), NAME)
    decision = registry.promote(worse, reference, config)
    assert not decision.promoted
    assert "not better by the margin" in decision.reasons[0]
    assert decision.champion_version == first and decision.champion_bits_per_note < decision.candidate_bits_per_note
    assert registry.champion(NAME).version == first  # the alias did not move

    tags = mlflow.MlflowClient().get_model_version(NAME, worse).tags
    assert tags["promotion.decision"] == "refused"
    assert "not better by the margin" in json.loads(tags["promotion.reasons"])[0]
    assert mlflow.MlflowClient().get_model_version(NAME, first).tags["promotion.decision"] == "promoted"

    again = registry.promote(first, reference, config)
    assert not again.promoted and "already the champion" in again.reasons[0]


def test_champion_lookup_says_why_there_is_none_and_follows_the_alias(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking.configure()
    with pytest.raises(ModelError, match=f"no model behind models:/{NAME}@champion at sqlite:///"):
        registry.champion(NAME)
    run_id = log_untrained(tmp_path)
    first, second = (registry.register(run_id, NAME) for _ in range(2))
    registry.set_champion(second, NAME)
    assert registry.champion(NAME).version == second and registry.champion(NAME).run_id == run_id
    registry.set_champion(first, NAME)
    assert registry.champion(NAME).version == first


def test_sanity_checks_name_what_is_wrong():
    config = PromotionConfig()
    fine = {"repetition_ratio": 0.1, "min_notes_per_second": 3.0, "max_notes_per_second": 8.0}
    assert registry.sanity_problems(fine, config) == []
    stuck = {**fine, "repetition_ratio": 0.9}
    silent = {**fine, "min_notes_per_second": 0.0}
    blur = {**fine, "max_notes_per_second": 60.0}
    assert "degenerate samples" in registry.sanity_problems(stuck, config)[0]
    assert "near-silent" in registry.sanity_problems(silent, config)[0]
    assert "note blur" in registry.sanity_problems(blur, config)[0]
