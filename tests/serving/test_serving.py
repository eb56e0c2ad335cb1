"""The generation service, end to end: a real `bentoml serve` on loopback serving the champion of a
real (sqlite) MLflow registry that holds a tiny generator trained here."""

import concurrent.futures
from pathlib import Path

import mlflow
import pytest
import requests

from corridos.generation.sampling import SampleConfig, Sampler
from corridos.mlops import registry as model_registry
from corridos.symbolic.sequences import from_midi_bytes, write_midi
from corridos.symbolic.tokenizer import Vocabulary
from serving import local
from tests.helpers import TINY_MODEL, melody

MODEL_NAME = "corridos-generator-test"
SHORT = {"seconds": 2.0, "top_k": 20}


@pytest.fixture(scope="module")
def registry(tiny_dataset, tmp_path_factory):
    """A sqlite MLflow store with two versions of one tiny generator and no champion yet."""
    from corridos.generation.train import preset, train

    folder = tmp_path_factory.mktemp("serving-registry")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        config = preset("tiny", "transformer", {**TINY_MODEL, "epochs": 1, "sample_seconds": 1.0})
        run_id = train(tiny_dataset, folder / "train", config, progress=False).run_id
        versions = [model_registry.register(run_id, MODEL_NAME) for _ in range(2)]
        yield {"uri": mlflow.get_tracking_uri(), "folder": folder, "run_id": run_id, "versions": versions}


@pytest.fixture(scope="module")
def started(registry):
    """The service's URL, and what it answered while the registry had no champion: it starts with
    none, then the first version becomes the champion and the service is told to reload."""
    environment = {
        "MLFLOW_TRACKING_URI": registry["uri"],
        "CORRIDOS_MODEL_NAME": MODEL_NAME,
        "CORRIDOS_RELOAD_SECONDS": "0",
        "CORRIDOS_MAX_BATCH": "4",
    }
    with local.running(environment, registry["folder"] / "serve.log", ready=False) as url:
        before = {"readyz": requests.get(f"{url}/readyz", timeout=10), "generate": post_json(url, "generate", SHORT)}
        mlflow.set_tracking_uri(registry["uri"])
        model_registry.set_champion(registry["versions"][0], MODEL_NAME)
        reloaded = post_json(url, "reload", {}, timeout=300)
        assert reloaded.status_code == 200 and reloaded.json()["ready"], reloaded.text
        yield url, before


@pytest.fixture(scope="module")
def service(started):
    return started[0]


def champion_version(registry) -> str:
    mlflow.set_tracking_uri(registry["uri"])
    return model_registry.champion(MODEL_NAME).version


def post_json(url: str, endpoint: str, body, timeout: float = 120) -> requests.Response:
    return requests.post(f"{url}/{endpoint}", json=body, timeout=timeout)


def primer_bytes(tmp_path: Path) -> bytes:
    return write_midi(melody(3, count=20), tmp_path / "primer.mid").read_bytes()


@pytest.mark.slow
def test_readiness_and_info_report_the_champion(service, registry):
    assert requests.get(f"{service}/livez", timeout=10).status_code == 200
    assert requests.get(f"{service}/readyz", timeout=10).status_code == 200
    info = post_json(service, "info", {}).json()
    assert info["ready"] and info["model"] == MODEL_NAME
    assert info["version"] == champion_version(registry)
    assert info["run_id"] == registry["run_id"]
    assert "best_val_loss" in info["metrics"]


@pytest.mark.slow
def test_generate_returns_seeded_midi_of_the_asked_length(service):
    first = post_json(service, "generate", {**SHORT, "seed": 5})
    again = post_json(service, "generate", {**SHORT, "seed": 5})
    other = post_json(service, "generate", {**SHORT, "seed": 6})
    assert first.status_code == 200 and first.headers["content-type"] == "audio/midi"
    assert first.content.startswith(b"MThd") and first.content == again.content != other.content
    piece = from_midi_bytes(first.content, "piece.mid")
    assert piece.total_time <= SHORT["seconds"] + 1.0


@pytest.mark.slow
def test_transpose_moves_every_note(service):
    plain = from_midi_bytes(post_json(service, "generate", {**SHORT, "seed": 8}).content, "a.mid")
    up = from_midi_bytes(post_json(service, "generate", {**SHORT, "seed": 8, "transpose": 3}).content, "b.mid")
    assert [n.pitch + 3 for n in plain.notes] == [n.pitch for n in up.notes]


@pytest.mark.slow
@pytest.mark.parametrize(
    "audio_format, media_type, magic", [("wav", "audio/wav", b"RIFF"), ("mp3", "audio/mpeg", b"\xff\xfb")]
)
def test_generate_audio_renders_a_nylon_guitar(service, audio_format, media_type, magic):
    answer = post_json(service, "generate_audio", {**SHORT, "format": audio_format})
    assert answer.status_code == 200 and answer.headers["content-type"] == media_type
    assert answer.content.startswith(magic) and len(answer.content) > 10_000


@pytest.mark.slow
def test_continue_starts_with_the_primer(service, tmp_path):
    upload = {"primer": ("primer.mid", primer_bytes(tmp_path), "application/octet-stream")}
    answer = requests.post(f"{service}/continue", files=upload, data={"seconds": "3", "seed": "1"}, timeout=120)
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/midi", answer.text
    piece = from_midi_bytes(answer.content, "continued.mid")
    primer = melody(3, count=20)
    assert [n.pitch for n in piece.notes[:20]] == [n.pitch for n in primer.notes]


@pytest.mark.slow
def test_concurrent_requests_all_succeed(service):
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda seed: post_json(service, "generate", {**SHORT, "seed": seed}), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.content for a in answers}) == 6


BAD_JSON = [
    ("generate", {"seconds": 0}, "seconds"),
    ("generate", {"seconds": 121}, "seconds"),
    ("generate", {"seconds": "long"}, "seconds"),
    ("generate", {"temperature": -0.1}, "temperature"),
    ("generate", {"temperature": 2.5}, "temperature"),
    ("generate", {"top_k": -1}, "top_k"),
    ("generate", {"top_k": 1.5}, "top_k"),
    ("generate", {"top_p": 0}, "top_p"),
    ("generate", {"top_p": 1.01}, "top_p"),
    ("generate", {"seed": -1}, "seed"),
    ("generate", {"seed": 2**64}, "seed"),
    ("generate", {"transpose": 13}, "transpose"),
    ("generate", {"tempo": 120}, "tempo"),  # unknown fields are refused, not ignored
    ("generate_audio", {"format": "ogg"}, "format"),
    ("generate_audio", {"seconds": -5, "format": "wav"}, "seconds"),
]


@pytest.mark.slow
@pytest.mark.parametrize("endpoint, body, field", BAD_JSON)
def test_out_of_range_values_are_400_naming_the_field(service, endpoint, body, field):
    answer = post_json(service, endpoint, body)
    assert answer.status_code == 400
    assert [e["loc"] for e in answer.json()["detail"]] == [[field]]


@pytest.mark.slow
@pytest.mark.parametrize("body", ["not json", "[1, 2]", "null"])
def test_malformed_json_is_400(service, body):
    answer = requests.post(f"{service}/generate", data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 400


BAD_PRIMERS = [
    ("text file", b"just some text\n"),
    ("truncated midi", b"MThd\x00\x00\x00\x06\x00\x01\x00\x02"),
    ("midi without notes", b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"),
    ("empty file", b""),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, data", BAD_PRIMERS, ids=[name for name, _ in BAD_PRIMERS])
def test_bad_primers_are_400_naming_the_primer(service, name, data):
    upload = {"primer": ("primer.mid", data, "audio/midi")}
    answer = requests.post(f"{service}/continue", files=upload, data={"seconds": "2"}, timeout=60)
    assert answer.status_code == 400, answer.text
    assert "primer" in answer.text


@pytest.mark.slow
def test_continue_without_a_primer_or_with_a_path_is_400(service):
    missing = requests.post(f"{service}/continue", files={"seconds": (None, "2")}, timeout=30)
    assert missing.status_code == 400 and missing.json()["detail"][0]["loc"] == ["primer"]
    as_path = post_json(service, "continue", {"primer": "/etc/passwd"})
    assert as_path.status_code == 400 and as_path.json()["detail"][0]["loc"] == ["primer"]


@pytest.mark.slow
def test_moving_the_alias_and_reloading_serves_the_new_version(service, registry):
    """Runs last in this module: it leaves the alias on the second version."""
    new = registry["versions"][1]
    mlflow.set_tracking_uri(registry["uri"])
    model_registry.set_champion(new, MODEL_NAME)
    assert post_json(service, "reload", {}, timeout=300).json()["version"] == str(new)
    assert post_json(service, "info", {}).json()["version"] == str(new) == champion_version(registry)
    assert post_json(service, "generate", SHORT).headers["X-Model-Version"] == str(new)


@pytest.mark.slow
def test_without_a_champion_the_service_was_up_but_not_ready(started):
    readiness, generation = started[1]["readyz"], started[1]["generate"]
    assert readiness.status_code == 503 and f"{MODEL_NAME}@champion" in readiness.text
    assert generation.status_code == 503 and "no model behind" in generation.json()["error"]


def test_a_batch_gives_each_request_the_music_it_gets_alone():
    from corridos.generation.models import build_model
    from corridos.generation.train import preset

    vocabulary = Vocabulary()
    sampler = Sampler(build_model(preset("tiny", "transformer").model, vocabulary.size), vocabulary)
    configs = [
        SampleConfig(seconds=2, seed=seed, transpose=shift, top_k=30) for seed, shift in ((1, 0), (2, 2), (1, 3))
    ]
    batch = sampler.generate_each(configs)
    alone = [sampler.generate(config)[0] for config in configs]
    assert [[n.pitch for n in piece.notes] for piece in batch] == [[n.pitch for n in piece.notes] for piece in alone]
    with pytest.raises(ValueError, match="only in seed and transpose"):
        sampler.generate_each([SampleConfig(seconds=2), SampleConfig(seconds=3)])


def test_request_fields_and_pyfunc_columns_are_sample_configs_settings():
    from corridos.generation.sampling import REQUEST_SETTINGS
    from corridos.mlops.packaging import signature
    from serving.service import Settings

    fields = Settings.model_json_schema()["properties"]
    assert list(fields) == list(REQUEST_SETTINGS)
    assert {name: field["default"] for name, field in fields.items()} == {
        name: getattr(SampleConfig(), name) for name in REQUEST_SETTINGS
    }
    assert fields["top_p"]["exclusiveMinimum"] == 0 and fields["seconds"]["maximum"] == 120
    assert [column.name for column in signature().inputs.inputs] == [*REQUEST_SETTINGS, "primer_midi"]
