import json

import pytest

from corridos.errors import ConfigError, ModelError
from corridos.generation.sampling import DEFAULT_KEY_CANDIDATES
from corridos.generation.train import preset
from corridos.mlops import packaging, registry, release
from corridos.mlops.release import MAX_RELEASE_BYTES, MODEL_CARD, RELEASE_JSON
from tests.helpers import TINY_MODEL, strong_model, weak_baseline

NAME = "release-test-generator"


@pytest.mark.slow
def test_a_release_is_a_model_folder_with_its_card_and_becomes_the_first_champion(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    # What happens around the gate, not the gate (tests/mlops/test_registry.py): a 2-epoch model on
    # 3 songs may or may not pass it, so here every model wins and the baseline always loses.
    monkeypatch.setattr(registry, "score_markov_baseline", weak_baseline)
    monkeypatch.setattr(registry, "score_model", strong_model)
    config = preset("tiny", "transformer", {**TINY_MODEL, "epochs": 2})
    built = release.build_release(tiny_dataset, tmp_path / "work", tmp_path / "released", config, samples=2)

    folder = built.folder
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) <= MAX_RELEASE_BYTES
    model, vocabulary = packaging.load(folder)  # what `corridos generate models/released` loads
    assert model.config.context == 64
    figures = json.loads((folder / RELEASE_JSON).read_text())
    assert set(figures["minutes"]) == {"0-1", "2-3"}  # 180 s pieces: the first and the last minute
    assert figures["training"]["steps_run"] == figures["training"]["epochs_run"] * config.steps_per_epoch
    assert figures["data"]["validation_artists"] and figures["config"]["seed"] == config.seed
    card = (folder / MODEL_CARD).read_text()
    assert "make release-model" in card and f"{figures['metrics']['eval_bits_per_note']:.4g}" in card
    # scored as users sample it: plain, the first of the default candidates heard in its key
    assert figures["key_guidance"] == 1 and figures["key_candidates"] == DEFAULT_KEY_CANDIDATES
    assert f"key guidance 1, each piece\nthe first of {DEFAULT_KEY_CANDIDATES} candidates" in card

    # re-scored beside another model without training again: its row joins the card's table
    rescored = release.score_release(folder, tiny_dataset, tmp_path / "work", 2, {"other": str(folder)}).figures
    assert [row["name"] for row in rescored["quality"]["rows"]][-2:] == ["released", "other"]
    assert rescored["training"] == figures["training"] and "- other: `" in (folder / MODEL_CARD).read_text()

    version, message = release.register_release(folder, tiny_dataset, NAME)
    assert version == "1" and f"{NAME} version 1" in message
    again, message = release.register_release(folder, tiny_dataset, NAME)
    assert again is None and "already has a champion" in message


def test_a_folder_without_its_release_figures_is_not_rescored(tiny_dataset, tmp_path):
    with pytest.raises(ModelError, match="no release.json to take the training figures from"):
        release.score_release(tmp_path, tiny_dataset, tmp_path / "work")


def test_a_compared_model_may_not_take_the_releases_row(tiny_dataset, tmp_path):
    with pytest.raises(ConfigError, match="model name released is the release's own row"):
        release.score_release(tmp_path, tiny_dataset, tmp_path / "work", compare={"released": str(tmp_path)})
