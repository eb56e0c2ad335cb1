"""The model registry and the promotion gate: the one place the champion alias moves.

Every trained generator becomes a version of one registered model. The gate scores the candidate
and its opponent on the same songs: the current champion, or for the first model an order-2
Markov chain trained on the train split (a first champion must beat the baseline every music
model has to beat). The alias moves only when the candidate wins on every count:

- against a champion: bits per note of the validation songs lower by at least the margin
  (exactly at the margin passes), and C2ST AUC of its samples against the validation songs no
  higher than the champion's plus a tolerance;
- against the Markov baseline: C2ST AUC strictly lower than the chain's. Bits per note are not
  compared: the chain is not smoothed, so a validation song holding one transition the train
  split lacks has probability 0 under it (infinite bits), and C2ST is the test that still
  separates generated music from real (issue 11);
- in-scale ratio of its samples no lower than the opponent's minus a tolerance;
- 8-gram copy rate of its samples against the training songs at most a cap (memorisation);
- its samples pass the sanity checks (no stuck loop, not silent, not a blur of notes);
- every score of both is finite: a NaN compares false with everything, so it would pass.

The decision and its reasons are written on the candidate version as tags, promoted or not. Only
a registry that says the model or its alias does not exist means "no champion yet"; any other
registry failure stops the promotion with an error, and the alias stays where it was.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

import numpy as np

from corridos.errors import BadInputError, ConfigError, ModelError
from corridos.generation.evaluation import EvaluationConfig, RealSongs
from corridos.mlops.cluster import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from corridos.symbolic.sequences import NoteArrays, to_arrays

MARKOV_BASELINE = "the order-2 Markov baseline"


@dataclasses.dataclass(frozen=True)
class PromotionConfig:
    """The gate's rules. Margin, tolerances and cap must be finite and >= 0 (ConfigError when the
    config is built): a negative margin would promote a worse model, and `promotion_margin` is a
    pipeline parameter anyone can set in the KFP UI."""

    # Bits per note: comparable across vocabularies, and for one vocabulary it ranks models
    # exactly as NLL per event does (same events, same notes).
    margin_bits_per_note: float = 0.05
    # C2ST AUC and in-scale ratio may be this much worse than the opponent's: both are estimated
    # from a few sampled pieces, so two equal models differ by about this much from seed to seed.
    c2st_tolerance: float = 0.02
    in_scale_tolerance: float = 0.02
    # Share of the samples' 8-grams found in the training songs. Issue 11 measured 0.04 for real
    # songs of other artists and 0.23 for an order-2 Markov chain: above 0.10 a model quotes its
    # training songs rather than writing in their style.
    max_copy_rate: float = 0.10
    # How the samples are drawn and scored: as `corridos evaluate` does, so the gate judges the
    # figures its report shows (8 pieces of 30 s, one C2ST window each).
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    # Sanity checks on the candidate's samples: no stuck loops, not silent, not a blur of notes.
    max_repetition_ratio: float = 0.5
    min_notes_per_second: float = 0.5
    max_notes_per_second: float = 25.0
    model_name: str = REGISTERED_MODEL_NAME

    def __post_init__(self) -> None:
        for name in ("margin_bits_per_note", "c2st_tolerance", "in_scale_tolerance", "max_copy_rate"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"promotion {name} {value!r}: must be a finite number >= 0")


@dataclasses.dataclass(frozen=True)
class Scores:
    """One model's figures for the gate."""

    bits_per_note: float | None  # of the validation songs under the model; None: no likelihood (Markov)
    c2st_auc: float  # a classifier telling its samples from the validation songs: 0.5 = cannot
    in_scale_ratio: float  # of its samples
    copy_rate: float  # share of its samples' 8-grams found in the training songs
    sanity: dict[str, float]  # sample_sanity's figures
    # The model vocabulary's time step: bits per note compare only on one time grid, since a
    # coarser grid encodes less of the songs' timing. None: no vocabulary of its own (Markov).
    time_step_seconds: float | None = None

    def not_finite(self, fields: tuple[str, ...]) -> list[str]:
        """'name=value' for each of `fields` (a sanity figure by its own name) that is NaN or infinite."""
        values = {**self.sanity, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}
        return [f"{name}={values[name]}" for name in fields if values[name] is None or not math.isfinite(values[name])]


# The figures compared with a champion's (the Markov baseline's: all but bits per note); the
# candidate's own checks add the rest.
COMPARED = ("bits_per_note", "c2st_auc", "in_scale_ratio")
BASELINE_COMPARED = ("c2st_auc", "in_scale_ratio")
CANDIDATE_CHECKED = (*COMPARED, "copy_rate", "repetition_ratio", "min_notes_per_second", "max_notes_per_second")

Scorer = Callable[[str, RealSongs, PromotionConfig], Scores]  # (models:/ URI, songs, config)
BaselineScorer = Callable[[RealSongs, PromotionConfig], Scores]


@dataclasses.dataclass
class Decision:
    promoted: bool
    reasons: list[str]
    candidate_version: str
    champion_version: str | None  # the champion when the gate ran; None: there was none
    opponent: str  # what the candidate was compared with: "version N" or MARKOV_BASELINE
    candidate: Scores | None  # None when not scored (it is the champion already)
    opponent_scores: Scores | None


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

    found = current_champion(model_name)
    if found is None:
        raise ModelError(f"no model behind models:/{model_name}@{CHAMPION_ALIAS} at {mlflow.get_tracking_uri()}")
    return found


def current_champion(model_name: str = REGISTERED_MODEL_NAME) -> RegisteredVersion | None:
    """The version behind the champion alias, or None when the registry says the model or the
    alias does not exist. Any other failure (a 5xx, a server that does not answer) is a
    ModelError: it must never pass for "no champion", which would promote without a comparison."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        found = mlflow.MlflowClient().get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    except MlflowException as error:
        if _means_missing(error):
            return None
        raise ModelError(
            f"cannot read models:/{model_name}@{CHAMPION_ALIAS} at {mlflow.get_tracking_uri()}: {error.message}"
        ) from error
    return RegisteredVersion(str(found.version), found.run_id)


def _means_missing(error) -> bool:
    """Whether an MlflowException says the registered model, or its alias, does not exist. MLflow
    answers a missing model with RESOURCE_DOES_NOT_EXIST, a missing alias with
    INVALID_PARAMETER_VALUE "Registered model alias NAME not found." (file, sqlite and REST stores)."""
    return error.error_code == "RESOURCE_DOES_NOT_EXIST" or (
        error.error_code == "INVALID_PARAMETER_VALUE" and f"alias {CHAMPION_ALIAS} not found" in error.message
    )


def promote(
    candidate_version: str,
    songs: RealSongs,
    config: PromotionConfig = PromotionConfig(),
    scorer: Scorer | None = None,
    baseline: BaselineScorer | None = None,
) -> Decision:
    """Score candidate and opponent on `songs`; move the alias if the candidate wins (see the
    module's doc). `scorer` and `baseline` default to score_model and score_markov_baseline;
    tests replace them. ModelError, with the alias unmoved, when the registry cannot be read."""
    import mlflow

    from corridos.mlops import tracking

    mlflow.set_tracking_uri(tracking.tracking_uri())  # no experiment: the gate logs no run
    client = mlflow.MlflowClient()
    candidate_version = str(candidate_version)
    current = current_champion(config.model_name)
    champion_version = None if current is None else current.version
    opponent = MARKOV_BASELINE if champion_version is None else f"version {champion_version}"
    if champion_version == candidate_version:
        decision = Decision(
            False, [f"{opponent} is already the champion"], candidate_version, champion_version, opponent, None, None
        )
    else:
        score = scorer or score_model
        reasons, praise, candidate, against = _judge(
            candidate_version, champion_version, opponent, songs, config, score, baseline
        )
        moved = current_champion(config.model_name)
        if not reasons and moved != current:
            reasons = [f"the champion moved to {moved.version if moved else 'none'} while the gate ran: run it again"]
        decision = Decision(
            not reasons,
            reasons or [praise],
            candidate_version,
            champion_version,
            opponent,
            candidate,
            against,
        )
    if decision.promoted:
        client.set_registered_model_alias(config.model_name, CHAMPION_ALIAS, candidate_version)
    _record(client, config.model_name, decision)
    return decision


def _judge(
    candidate_version: str,
    champion_version: str | None,
    opponent: str,
    songs: RealSongs,
    config: PromotionConfig,
    score: Scorer,
    baseline: BaselineScorer | None,
) -> tuple[list[str], str, Scores | None, Scores | None]:
    """(refusal reasons, why it wins when there are none, the candidate's scores, the opponent's).
    The opponent is the champion by version, not by alias (the alias may move while this runs), or
    the Markov baseline when there is none. A model that cannot be scored on the songs
    (BadInputError: e.g. a vocabulary that cannot encode them) leaves nothing to compare: refused,
    with the reason."""
    try:
        candidate = score(f"models:/{config.model_name}/{candidate_version}", songs, config)
    except BadInputError as error:
        return [f"the candidate cannot be judged on these songs: {error}"], "", None, None
    try:
        against = (
            (baseline or score_markov_baseline)(songs, config)
            if champion_version is None
            else score(f"models:/{config.model_name}/{champion_version}", songs, config)
        )
    except BadInputError as error:
        return [f"{opponent} cannot be judged on these songs, so nothing to compare with: {error}"], "", candidate, None
    reasons = refusals(candidate, against, opponent, config)
    return reasons, "" if reasons else victory(candidate, against, opponent, config), candidate, against


def refusals(candidate: Scores, opponent: Scores, name: str, config: PromotionConfig) -> list[str]:
    """Why the candidate may not replace `opponent` (called `name` in the reasons); [] when it may."""
    baseline = name == MARKOV_BASELINE
    broken = [f"the candidate's {value}" for value in candidate.not_finite(CANDIDATE_CHECKED)]
    broken += [f"{name}'s {value}" for value in opponent.not_finite(BASELINE_COMPARED if baseline else COMPARED)]
    if broken:  # NaN compares false with everything: no comparison below would refuse it
        return [f"scores not finite: {', '.join(broken)}"]
    problems = (
        _baseline_refusals(candidate, opponent) if baseline else _champion_refusals(candidate, opponent, name, config)
    )
    if candidate.in_scale_ratio < opponent.in_scale_ratio - config.in_scale_tolerance:
        problems.append(
            f"in-scale ratio worse: {candidate.in_scale_ratio:.3f} vs {name}'s {opponent.in_scale_ratio:.3f} "
            f"(tolerance {config.in_scale_tolerance})"
        )
    if candidate.copy_rate > config.max_copy_rate:
        problems.append(
            f"copies its training songs: 8-gram copy rate {candidate.copy_rate:.3f} > {config.max_copy_rate}"
        )
    return problems + sanity_problems(candidate.sanity, config)


def _champion_refusals(candidate: Scores, champion: Scores, name: str, config: PromotionConfig) -> list[str]:
    bits, best = candidate.bits_per_note, champion.bits_per_note
    assert bits is not None and best is not None  # refusals() refuses a missing one before
    problems = []
    step, champion_step = candidate.time_step_seconds, champion.time_step_seconds
    if step is not None and champion_step is not None and not math.isclose(step, champion_step):
        # a coarser grid drops timing the other model pays bits for: a step in dataset_config
        # would otherwise buy a promotion
        problems.append(
            f"bits/note not comparable: time step {step:g} s vs {name}'s {champion_step:g} s "
            "(retrain on the champion's time step)"
        )
    elif bits > best - config.margin_bits_per_note:
        problems.append(
            f"bits/note not better by the margin: {bits:.4f} vs {name}'s {best:.4f} "
            f"(margin {config.margin_bits_per_note})"
        )
    if candidate.c2st_auc > champion.c2st_auc + config.c2st_tolerance:
        problems.append(
            f"C2ST AUC worse: {candidate.c2st_auc:.3f} vs {name}'s {champion.c2st_auc:.3f} "
            f"(tolerance {config.c2st_tolerance})"
        )
    return problems


def _baseline_refusals(candidate: Scores, baseline: Scores) -> list[str]:
    if candidate.c2st_auc < baseline.c2st_auc:
        return []
    return [f"does not beat {MARKOV_BASELINE}: C2ST AUC {candidate.c2st_auc:.3f} vs its {baseline.c2st_auc:.3f}"]


def victory(candidate: Scores, opponent: Scores, name: str, config: PromotionConfig) -> str:
    """The reason written on a promoted version: what it beat, by how much."""
    if name == MARKOV_BASELINE:
        beaten = (
            f"no champion yet; beats {MARKOV_BASELINE}: C2ST AUC {candidate.c2st_auc:.3f} vs {opponent.c2st_auc:.3f}"
        )
    else:
        beaten = (
            f"better than {name}: {candidate.bits_per_note:.4f} vs {opponent.bits_per_note:.4f} bits/note "
            f"(margin {config.margin_bits_per_note}), C2ST AUC {candidate.c2st_auc:.3f} vs {opponent.c2st_auc:.3f}"
        )
    return (
        f"{beaten}, in-scale {candidate.in_scale_ratio:.3f} vs {opponent.in_scale_ratio:.3f}, "
        f"copy rate {candidate.copy_rate:.3f} <= {config.max_copy_rate}"
    )


def score_model(model_uri: str, songs: RealSongs, config: PromotionConfig) -> Scores:
    """The gate's figures for a registered generator: likelihood of the reference songs, and its
    sampled pieces judged against the songs."""
    from corridos.generation.sampling import Sampler
    from corridos.mlops import packaging

    model, vocabulary = packaging.load(model_uri)
    pieces = Sampler(model, vocabulary).generate(config.evaluation.sampling, config.evaluation.samples)
    bits = bits_per_note(model, vocabulary, songs)
    scores = score_pieces(bits, [to_arrays(piece) for piece in pieces], songs, config)
    return dataclasses.replace(scores, time_step_seconds=vocabulary.config.step_seconds)


def score_markov_baseline(songs: RealSongs, config: PromotionConfig) -> Scores:
    """The first champion's opponent: an order-2 Markov chain trained on the train split's
    tokens, its sampled pieces judged as a model's are (it gives no likelihood to compare)."""
    from corridos.generation.markov import MarkovChain

    evaluation = config.evaluation
    if songs.training_tokens is None or songs.training_vocabulary is None:
        raise ConfigError(f"the Markov baseline needs the train split's songs: {songs.absent}")
    chain = MarkovChain.fit(songs.training_tokens, evaluation.markov_order)
    pieces = chain.generate(
        songs.training_vocabulary, evaluation.sampling.seconds, evaluation.samples, evaluation.sampling.seed
    )
    return score_pieces(None, pieces, songs, config)


def score_pieces(bits: float | None, pieces: list[NoteArrays], songs: RealSongs, config: PromotionConfig) -> Scores:
    """Scores of a generator that reached `bits` per note on the reference songs and sampled
    `pieces`, judged by the evaluation's own scoring (a copy rate of NaN without training songs)."""
    from corridos.generation.evaluation import score_samples

    scored = score_samples(pieces, songs, config.evaluation)
    return Scores(
        bits_per_note=bits,
        c2st_auc=scored["c2st"]["auc"],
        in_scale_ratio=scored["samples"]["in_scale_ratio"],
        copy_rate=math.nan if scored["copy_rate"] is None else scored["copy_rate"],
        sanity=sample_sanity(pieces, config),
    )


def bits_per_note(model, vocabulary, songs: RealSongs) -> float:
    """Bits per note of the reference songs under the model, in the model's vocabulary: re-encoded
    only when that encodes them exactly (BadInputError naming the song otherwise)."""
    from corridos.generation.evaluation import songs_in
    from corridos.generation.likelihood import likelihood

    tokens = songs_in(songs.reference_tokens, songs.vocabulary, vocabulary, "the reference songs")
    return float(likelihood(model, vocabulary, tokens)["bits_per_note"])


def sample_sanity(pieces: list[NoteArrays], config: PromotionConfig) -> dict[str, float]:
    """The figures the sanity checks read, over a model's sampled pieces."""
    from corridos.generation.features import repetition_ratio

    rates = [len(notes) / config.evaluation.sampling.seconds for notes in pieces]
    return {
        "repetition_ratio": float(np.max([repetition_ratio(notes) for notes in pieces])),
        "min_notes_per_second": float(np.min(rates)),
        "max_notes_per_second": float(np.max(rates)),
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
    """The decision as tags on the candidate version: promoted or refused, the reasons, both scores."""
    tags = {
        "promotion.decision": "promoted" if decision.promoted else "refused",
        "promotion.reasons": json.dumps(decision.reasons),
        "promotion.champion_version": decision.champion_version or "",
        "promotion.opponent": decision.opponent,
        "promotion.candidate_scores": json.dumps(_plain(decision.candidate)),
        "promotion.opponent_scores": json.dumps(_plain(decision.opponent_scores)),
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, decision.candidate_version, key, value)


def _plain(scores: Scores | None) -> dict | None:
    return None if scores is None else dataclasses.asdict(scores)


def songs_from_dataset(dataset_dir, config: PromotionConfig) -> RealSongs:
    """A dataset's validation songs (the reference) and train songs: what candidate and opponent
    are judged on."""
    from corridos.generation.evaluation import real_songs
    from corridos.symbolic.dataset import load_dataset

    songs = real_songs(dataset_dir, None, load_dataset(dataset_dir).vocabulary, config.evaluation)
    if not songs.reference:
        raise BadInputError(str(dataset_dir), f"no songs in the {config.evaluation.split} split to judge models on")
    if songs.training_tokens is None:
        raise BadInputError(str(dataset_dir), songs.absent)
    return songs
