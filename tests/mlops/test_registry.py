import dataclasses
import http.server
import itertools
import json
import math
import threading

import mlflow
import numpy as np
import pytest

from components.model import register_and_promote
from corridos.errors import BadInputError, ConfigError, ModelError
from corridos.generation.evaluation import EvaluationConfig, RealSongs
from corridos.generation.models import ModelConfig, build_model, save_model
from corridos.generation.sampling import SampleConfig
from corridos.generation.train import preset, train
from corridos.mlops import packaging, registry, tracking
from corridos.mlops.registry import MARKOV_BASELINE, PromotionConfig, Scores
from corridos.processes import free_port
from corridos.symbolic.tokenizer import Vocabulary
from serving import local
from tests.helpers import TINY_MODEL, line, registered_versions, weak_baseline

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
    """The real model scorers through a real store: a trained model becomes the first champion (against a
    baseline it surely beats: on 3 validation songs the real chain's C2ST is a coin toss), then an
    untrained one loses to it."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    evaluation = EvaluationConfig(samples=4, sampling=SampleConfig(seconds=10.0))
    config = PromotionConfig(model_name=NAME, evaluation=evaluation, max_repetition_ratio=1.0)
    reference = registry.songs_from_dataset(tiny_dataset, config)

    trained = train(
        tiny_dataset, tmp_path / "good", preset("tiny", "wavenet", {**TINY_MODEL, "epochs": 3}), progress=False
    )
    first = registry.register(trained.run_id, NAME)
    decision = registry.promote(first, reference, config, baseline=weak_baseline)
    assert decision.promoted and decision.reasons[0].startswith(f"no champion yet; beats {MARKOV_BASELINE}")
    assert registry.champion(NAME).version == first

    worse = registry.register(log_untrained(tmp_path), NAME)
    decision = registry.promote(worse, reference, config)
    # refused: worse by the margin, or (an untrained model rarely plays 8 melody notes) a copy rate
    # that cannot be measured
    assert not decision.promoted and decision.reasons
    assert any("not better by the margin" in r or "copy_rate=nan" in r for r in decision.reasons), decision.reasons
    assert decision.champion_version == first
    assert registry.champion(NAME).version == first  # the alias did not move

    tags = mlflow.MlflowClient().get_model_version(NAME, worse).tags
    assert tags["promotion.decision"] == "refused"
    assert json.loads(tags["promotion.reasons"]) == decision.reasons
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
    local.set_champion_bypassing_gate(second, NAME)
    assert registry.champion(NAME).version == second and registry.champion(NAME).run_id == run_id
    local.set_champion_bypassing_gate(first, NAME)
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


# The must-show cases of the gate (issue 11, item 5): promote() on a real sqlite store, with the
# scorers replaced by tables of figures. One store for the module (building one takes seconds);
# each test registers its own model in it.
GOOD = Scores(
    bits_per_note=4.0,
    c2st_auc=0.80,
    in_scale_ratio=0.90,
    copy_rate=0.04,
    sanity={"repetition_ratio": 0.1, "min_notes_per_second": 3.0, "max_notes_per_second": 8.0},
    time_step_seconds=0.032,
)
SONGS = RealSongs(
    reference_tokens={},
    vocabulary=Vocabulary(),
    reference=[line([60, 62, 64])],
    excerpts=[],
    training_tokens=None,
    training_vocabulary=None,
)
MARKOV = dataclasses.replace(GOOD, bits_per_note=None, c2st_auc=0.95, time_step_seconds=None)
MODELS = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path_factory.mktemp('gate') / 'mlflow.db'}")
        tracking.configure()
        yield


class Gate:
    """A registered model of its own with versions 1 to `count`, and scorers that read each
    version's figures from `scores` (the Markov baseline's from `baseline`), counting their calls."""

    def __init__(self, count: int, baseline: Scores = MARKOV):
        mlflow.set_tracking_uri(tracking.tracking_uri())  # the module's store, whatever a test set before
        self.name = f"gate-{next(MODELS)}"
        self.config = PromotionConfig(model_name=self.name)
        self.versions = registered_versions(self.name, count)
        self.scores: dict[str, Scores | BadInputError] = {}
        self.baseline = baseline
        self.calls = 0

    def score(self, uri: str, songs: RealSongs, config: PromotionConfig) -> Scores:
        assert songs is SONGS and config.model_name == self.name and uri.startswith(f"models:/{self.name}/")
        self.calls += 1
        scores = self.scores[uri.rsplit("/", 1)[1]]
        if isinstance(scores, BadInputError):  # a model that cannot be scored on the songs
            raise scores
        return scores

    def score_baseline(self, songs: RealSongs, config: PromotionConfig) -> Scores:
        self.calls += 1
        return self.baseline

    def promote(self, version: str, scores: Scores | BadInputError, **config) -> registry.Decision:
        self.scores[version] = scores
        return registry.promote(
            version, SONGS, dataclasses.replace(self.config, **config), self.score, self.score_baseline
        )

    def crown(self, version: str, scores: Scores = GOOD) -> None:
        """Make `version` the champion through the gate (it beats the baseline)."""
        assert self.promote(version, scores).promoted

    def champion(self) -> str | None:
        return getattr(registry.current_champion(self.name), "version", None)

    def tags(self, version: str) -> dict[str, str]:
        return mlflow.MlflowClient().get_model_version(self.name, version).tags


def assert_refused(gate: Gate, decision: registry.Decision, champion: str | None, *reasons: str) -> None:
    """Refused for `reasons` (each a part of one reason), written on the version, the alias unmoved."""
    assert not decision.promoted
    assert len(decision.reasons) == len(reasons), decision.reasons
    for reason, written in zip(reasons, decision.reasons, strict=True):
        assert reason in written, decision.reasons
    tags = gate.tags(decision.candidate_version)
    assert tags["promotion.decision"] == "refused" and json.loads(tags["promotion.reasons"]) == decision.reasons
    assert gate.champion() == champion


def test_first_model_that_beats_the_markov_baseline_is_promoted_and_the_figures_are_written(store):
    gate = Gate(1)
    decision = gate.promote("1", GOOD)
    assert decision.promoted and decision.champion_version is None and decision.opponent == MARKOV_BASELINE
    assert decision.reasons[0].startswith(f"no champion yet; beats {MARKOV_BASELINE}: C2ST AUC 0.800 vs 0.950")
    assert registry.champion(gate.name).version == "1"
    tags = gate.tags("1")
    assert tags["promotion.decision"] == "promoted" and tags["promotion.opponent"] == MARKOV_BASELINE
    assert json.loads(tags["promotion.candidate_scores"]) == dataclasses.asdict(GOOD)
    assert json.loads(tags["promotion.opponent_scores"]) == dataclasses.asdict(MARKOV)


def test_first_model_that_does_not_beat_the_markov_baseline_is_refused(store):
    """Beating means a lower C2ST AUC than the chain's: a tie is refused, as is a worse in-scale ratio."""
    gate = Gate(2, baseline=dataclasses.replace(MARKOV, c2st_auc=GOOD.c2st_auc))
    decision = gate.promote("1", GOOD)
    assert_refused(gate, decision, None, f"does not beat {MARKOV_BASELINE}: C2ST AUC 0.800 vs its 0.800")
    gate.baseline = dataclasses.replace(MARKOV, in_scale_ratio=0.95)
    decision = gate.promote("2", GOOD)
    assert_refused(gate, decision, None, f"in-scale ratio worse: 0.900 vs {MARKOV_BASELINE}'s 0.950")


WORSE = {
    "loss": ({"bits_per_note": 4.0}, "bits/note not better by the margin: 4.0000 vs version 1's 4.0000 (margin 0.05)"),
    "c2st": ({"c2st_auc": 0.83}, "C2ST AUC worse: 0.830 vs version 1's 0.800 (tolerance 0.02)"),
    "in-scale": ({"in_scale_ratio": 0.87}, "in-scale ratio worse: 0.870 vs version 1's 0.900 (tolerance 0.02)"),
    "copy-rate": ({"copy_rate": 0.11}, "copies its training songs: 8-gram copy rate 0.110 > 0.1"),
    "sanity": ({"sanity": {**GOOD.sanity, "repetition_ratio": 0.9}}, "degenerate samples: repetition ratio 0.90 > 0.5"),
    # a coarser time grid would buy lower bits/note: not comparable, however low
    "time-step": (
        {"bits_per_note": 1.0, "time_step_seconds": 0.5},
        "bits/note not comparable: time step 0.5 s vs version 1's 0.032 s",
    ),
}


def test_a_candidate_worse_on_any_count_is_refused(store):
    """One refusal reason per case; the other figures better than the champion's."""
    gate = Gate(1 + len(WORSE))
    gate.crown("1")
    for version, (change, reason) in zip(gate.versions[1:], WORSE.values(), strict=True):
        worse = dataclasses.replace(GOOD, **{"bits_per_note": 3.5, **change})
        assert_refused(gate, gate.promote(version, worse), "1", reason)


def test_within_the_tolerances_and_at_the_margin_a_candidate_is_promoted(store):
    """Exactly at the margin passes ("better by at least the margin"); a hair above it does not.
    0.25 and 3.75 are exact in binary, so `4.0 - 0.25 == 3.75` holds exactly."""
    gate = Gate(3)
    gate.crown("1")
    above = dataclasses.replace(GOOD, bits_per_note=float(np.nextafter(3.75, 4.0)))
    decision = gate.promote("2", above, margin_bits_per_note=0.25)
    assert_refused(gate, decision, "1", "bits/note not better by the margin")
    at = dataclasses.replace(GOOD, bits_per_note=3.75, c2st_auc=0.82, in_scale_ratio=0.88, copy_rate=0.1)
    decision = gate.promote("3", at, margin_bits_per_note=0.25, c2st_tolerance=0.125, in_scale_tolerance=0.25)
    assert decision.promoted and decision.reasons[0].startswith("better than version 1: 3.7500 vs 4.0000")
    assert gate.champion() == "3"


def test_a_candidate_score_that_is_not_finite_is_refused(store):
    fields = ("bits_per_note", "c2st_auc", "in_scale_ratio", "copy_rate", "repetition_ratio")
    cases = [(field, value) for field in fields for value in (math.nan, math.inf, -math.inf)]
    gate = Gate(1 + len(cases))
    gate.crown("1")
    for version, (field, value) in zip(gate.versions[1:], cases, strict=True):
        if field == "repetition_ratio":
            broken = dataclasses.replace(GOOD, bits_per_note=1.0, sanity={**GOOD.sanity, field: value})
        else:
            broken = dataclasses.replace(GOOD, **{"bits_per_note": 1.0, field: value})
        decision = gate.promote(version, broken)
        assert_refused(gate, decision, "1", f"scores not finite: the candidate's {field}={value}")


def test_a_model_that_cannot_be_judged_on_the_songs_is_refused(store):
    """A vocabulary that cannot encode the reference songs exactly (score_model's BadInputError):
    the candidate is refused, or, when the champion cannot be judged, nothing is compared."""
    unencodable = BadInputError("the reference songs: a.mid", "the model's time step 0.5 s does not encode its timing")
    gate = Gate(3)
    gate.crown("1")
    decision = gate.promote("2", unencodable)
    assert_refused(gate, decision, "1", f"the candidate cannot be judged on these songs: {unencodable}")
    gate.scores["1"] = unencodable  # the champion's model no longer reads the songs
    decision = gate.promote("3", dataclasses.replace(GOOD, bits_per_note=1.0))
    assert_refused(gate, decision, "1", "version 1 cannot be judged on these songs, so nothing to compare with")


def test_a_champion_or_baseline_score_that_is_not_finite_is_refused(store):
    gate = Gate(3)
    gate.crown("1", dataclasses.replace(GOOD, bits_per_note=3.0))
    gate.scores["1"] = dataclasses.replace(GOOD, bits_per_note=math.nan)  # the champion's model now scores NaN
    decision = gate.promote("2", dataclasses.replace(GOOD, bits_per_note=1.0))
    assert_refused(gate, decision, "1", "scores not finite: version 1's bits_per_note=nan")

    first = Gate(1, baseline=dataclasses.replace(MARKOV, c2st_auc=math.nan))
    decision = first.promote("1", GOOD)
    assert_refused(first, decision, None, f"scores not finite: {MARKOV_BASELINE}'s c2st_auc=nan")


@pytest.mark.parametrize("field", ["margin_bits_per_note", "c2st_tolerance", "in_scale_tolerance", "max_copy_rate"])
@pytest.mark.parametrize("value", [-0.05, math.nan, math.inf])
def test_a_negative_or_not_finite_margin_or_tolerance_is_refused_when_the_config_is_built(field, value):
    with pytest.raises(ConfigError, match=f"promotion {field} {value}: must be a finite number >= 0"):
        PromotionConfig(**{field: value})


def test_the_pipeline_step_fails_on_a_negative_margin_before_registering_anything(store):
    name = f"gate-{next(MODELS)}"
    with pytest.raises(ConfigError, match="promotion margin_bits_per_note -0.5: must be a finite number >= 0"):
        register_and_promote(
            run_id="unused", dataset=None, margin_bits_per_note=-0.5, model_name=name, parent_run_id=""
        )
    assert mlflow.MlflowClient().search_registered_models(filter_string=f"name = '{name}'") == []


class Failing(http.server.BaseHTTPRequestHandler):
    """An MLflow server having a bad moment: every request answers 503."""

    def do_GET(self):  # noqa: N802 (the handler's protocol)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("server", ["503", "dead"])
def test_a_registry_that_cannot_be_read_stops_the_promotion(server, monkeypatch):
    """Only "no such model or alias" means no champion: a 5xx or a dead server must never count as
    one, which would promote without a comparison."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    failing = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing) if server == "503" else None
    if failing:
        threading.Thread(target=failing.serve_forever, daemon=True).start()
    port = failing.server_address[1] if failing else free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")

    def never(*args):
        raise AssertionError("the gate scored models although it could not read the champion")

    try:
        with pytest.raises(ModelError, match=f"cannot read models:/{NAME}@champion at http://127.0.0.1:{port}: "):
            registry.promote("1", SONGS, PromotionConfig(model_name=NAME), scorer=never, baseline=never)
    finally:
        if failing:
            failing.shutdown()
            failing.server_close()


def test_the_champion_itself_and_a_champion_moved_meanwhile_are_refused(store):
    gate = Gate(3)
    gate.crown("1")
    assert_refused(gate, gate.promote("1", GOOD), "1", "version 1 is already the champion")
    assert gate.calls == 2  # version 1 and the baseline, when it was crowned: nothing scored since

    def moving(uri: str, songs: RealSongs, config: PromotionConfig) -> Scores:
        local.set_champion_bypassing_gate("3", gate.name)  # another promotion, finishing while this one scores
        return dataclasses.replace(GOOD, bits_per_note=1.0) if uri.endswith("/2") else GOOD

    decision = registry.promote("2", SONGS, gate.config, scorer=moving, baseline=gate.score_baseline)
    assert_refused(gate, decision, "3", "the champion moved to 3 while the gate ran")
