"""The generation service, end to end: a real `bentoml serve` on loopback serving the champion of a
real (sqlite) MLflow registry that holds a tiny generator trained here."""

import concurrent.futures
import contextlib
import io
import json
import re
import shlex
import signal
import socket
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests

from corridos.constants import AUDIO_SAMPLE_RATE
from corridos.generation.sampling import MAX_SECONDS, SampleConfig, Sampler
from corridos.mlops import registry as model_registry
from corridos.processes import ServerProcess, free_port, http_ok
from corridos.symbolic.sequences import from_midi_bytes, write_midi
from corridos.symbolic.tokenizer import Vocabulary
from corridos.tablature.instrument import REQUINTO
from serving import local
from serving.primers import MAX_PRIMER_BYTES
from serving.service import MAX_BODY_BYTES, TAB_TYPES
from tests.helpers import SERVED_MODEL_NAME as MODEL_NAME
from tests.helpers import SHORT_PIECE as SHORT
from tests.helpers import melody, notes, post_json

REPOSITORY = Path(__file__).resolve().parents[2]


def champion_version(registry) -> str:
    mlflow.set_tracking_uri(registry["uri"])
    return model_registry.champion(MODEL_NAME).version


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
    assert_music(piece, first.headers)


def assert_music(piece, headers) -> None:
    """Notes, each in the requinto's range, as many as the X-Notes header says: a piece of silence
    or of notes nobody can play is not what was asked for."""
    pitches = [n.pitch for n in piece.notes]
    assert len(pitches) >= 3 and int(headers["X-Notes"]) == len(pitches), (len(pitches), headers["X-Notes"])
    assert REQUINTO.lowest_pitch(0) <= min(pitches) and max(pitches) <= REQUINTO.highest_pitch(), pitches


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
    import soundfile

    answer = post_json(service, "generate_audio", {**SHORT, "format": audio_format})
    assert answer.status_code == 200 and answer.headers["content-type"] == media_type
    assert answer.content.startswith(magic) and int(answer.headers["X-Notes"]) >= 3
    audio, rate = soundfile.read(io.BytesIO(answer.content))
    assert rate == AUDIO_SAMPLE_RATE and len(audio) >= SHORT["seconds"] * rate / 2
    # played notes, not silence: FluidSynth's guitar at velocity 80 is tens of dB above this
    loudest = max(np.sqrt(np.mean(np.square(audio[i : i + rate // 10]))) for i in range(0, len(audio), rate // 10))
    assert loudest > 0.01, loudest


@pytest.mark.slow
def test_continue_starts_with_the_primer(service, tmp_path):
    upload = {"primer": ("primer.mid", primer_bytes(tmp_path), "application/octet-stream")}
    answer = requests.post(f"{service}/continue", files=upload, data={"seconds": "3", "seed": "1"}, timeout=120)
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/midi", answer.text
    piece = from_midi_bytes(answer.content, "continued.mid")
    primer = melody(3, count=20)
    assert [n.pitch for n in piece.notes[:20]] == [n.pitch for n in primer.notes]
    assert_music(piece, answer.headers)


def _piece_tab(service, settings: dict, capo: int):
    """The tab of the piece /generate makes with `settings`, fingered here as the service does."""
    from corridos.tablature.fingering import finger

    midi = post_json(service, "generate", settings)
    assert midi.status_code == 200, midi.text
    return finger(from_midi_bytes(midi.content, "piece.mid"), REQUINTO, capo)


def _tab_file(service, settings: dict, tab_format: str, capo: int, folder: Path) -> Path:
    """The tab /generate_tab answers for `settings`, checked and saved under `folder`."""
    answer = post_json(service, "generate_tab", {**settings, "format": tab_format, "capo": capo})
    assert answer.status_code == 200 and answer.headers["content-type"] == TAB_TYPES[tab_format], answer.text
    path = folder / f"tab.{tab_format}"
    path.write_bytes(answer.content)
    return path


@pytest.mark.slow
def test_generate_tab_musicxml_rereads_with_the_pieces_pitches_and_playable_frets(service, tmp_path):
    from music21 import converter

    from tests.tablature.test_writers import musicxml_notes

    settings = {"seconds": 4.0, "top_k": 20, "seed": 3}
    struck = musicxml_notes(converter.parse(_tab_file(service, settings, "musicxml", 2, tmp_path)))
    # each struck chord's strings and frets sound its pitches, with the capo at 2
    for _, pitches, places in struck:
        assert sorted(REQUINTO.open_pitch(string) + 2 + fret for string, fret in places) == pitches
    tab = _piece_tab(service, settings, capo=2)
    assert sorted(p for _, pitches, _ in struck for p in pitches) == sorted(n.pitch for n in tab.notes) != []


@pytest.mark.slow
def test_generate_tab_gp5_rereads_with_the_same_notes(service, tmp_path):
    import guitarpro

    settings = {"seconds": 4.0, "top_k": 20, "seed": 4}
    track = guitarpro.parse(str(_tab_file(service, settings, "gp5", 3, tmp_path))).tracks[0]
    struck = [
        REQUINTO.open_pitch(note.string) + track.offset + note.value
        for measure in track.measures
        for beat in measure.voices[0].beats
        for note in beat.notes
        if note.type != guitarpro.NoteType.tie
    ]
    tab = _piece_tab(service, settings, capo=3)
    assert track.offset == 3 and sorted(struck) == sorted(n.pitch for n in tab.notes)


@pytest.mark.slow
@pytest.mark.parametrize("tab_format, magic", [("ascii", b"Requinto tab"), ("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_generate_tab_writes_text_and_pictures(service, tab_format, magic):
    answer = post_json(service, "generate_tab", {**SHORT, "format": tab_format})
    assert answer.status_code == 200 and answer.headers["content-type"] == TAB_TYPES[tab_format], answer.text
    assert answer.content.startswith(magic)


def test_every_tab_format_has_a_media_type():
    from corridos.tablature.files import FORMATS

    assert set(TAB_TYPES) == set(FORMATS)


@pytest.mark.slow
def test_concurrent_requests_all_succeed(service):
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda seed: post_json(service, "generate", {**SHORT, "seed": seed}), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.content for a in answers}) == 6


BAD_JSON = [
    ("generate", {"seconds": 0}, "seconds"),
    ("generate", {"seconds": MAX_SECONDS + 1}, "seconds"),
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
    ("generate", {"seconds": True}, "seconds"),  # strict types: true is not 1 s
    ("generate", {"top_k": "40"}, "top_k"),
    ("generate", {"seed": False}, "seed"),
    ("generate_audio", {"format": "ogg"}, "format"),
    ("generate_audio", {"seconds": -5, "format": "wav"}, "seconds"),
    ("generate_tab", {"format": "pdf"}, "format"),
    ("generate_tab", {"format": "wav"}, "format"),
    ("generate_tab", {"capo": 8}, "capo"),
    ("generate_tab", {"capo": -1}, "capo"),
    ("generate_tab", {"capo": "2"}, "capo"),
    ("generate_tab", {"capo": 1.5}, "capo"),
    ("generate_tab", {"capo": True}, "capo"),
    ("generate_tab", {"seconds": MAX_SECONDS + 1, "format": "gp5"}, "seconds"),
    ("generate", {"capo": 2}, "capo"),  # the capo is a tab's setting, not the music's
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
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_as_such(service, value):
    answer = requests.post(
        f"{service}/generate", data=f'{{"seconds": {value}}}', headers={"Content-Type": "application/json"}, timeout=30
    )
    assert answer.status_code == 400, answer.text
    [error] = answer.json()["detail"]
    assert error["loc"] == ["seconds"] and "finite" in error["msg"], error


@pytest.mark.slow
def test_top_k_between_the_vocabulary_and_its_bound_samples_notes(service):
    """The vocabulary has fewer tokens than top_k may be (1000): every token is kept, no 500."""
    answer = post_json(service, "generate", {"seconds": 2, "top_k": 500, "seed": 1})
    assert answer.status_code == 200 and answer.content.startswith(b"MThd"), answer.text


@pytest.mark.slow
def test_a_tiny_top_p_samples_notes_not_pad(service):
    """A top_p near 0 keeps only the likeliest token: the greedy piece (it sampled <pad> before)."""
    answer = post_json(service, "generate", {"seconds": 2, "top_p": 1e-10, "seed": 1})
    greedy = post_json(service, "generate", {"seconds": 2, "temperature": 0, "seed": 1})  # one seed: one key
    assert answer.status_code == 200, answer.text
    assert answer.content == greedy.content and answer.headers["X-Notes"] == greedy.headers["X-Notes"]


@pytest.mark.slow
def test_the_readme_curl_example_works(service, tmp_path):
    """The JSON body of the curl command in README.md, as it is written there."""
    readme = (REPOSITORY / "README.md").read_text()
    command = re.search(r"^curl .*?/generate.*?\n.*$", readme, re.MULTILINE).group(0).replace("\\\n", " ")
    words = shlex.split(command)
    body = words[words.index("-d") + 1]
    answer = requests.post(f"{service}/generate", data=body, headers={"Content-Type": "application/json"}, timeout=120)
    assert answer.status_code == 200 and answer.content.startswith(b"MThd"), answer.text
    assert from_midi_bytes(answer.content, "piece.mid").total_time <= json.loads(body)["seconds"] + 1.0


@pytest.mark.slow
def test_a_primer_sent_as_a_text_field_is_400_and_nothing_is_fetched(service):
    """BentoML fetches a text field's value as a URL: the service refuses it first (no request out)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(2)
        address = f"http://127.0.0.1:{listener.getsockname()[1]}/primer.mid"
        for primer in (address, "just text"):
            answer = requests.post(
                f"{service}/continue", files={"primer": (None, primer), "seconds": (None, "2")}, timeout=30
            )
            assert answer.status_code == 400, answer.text
            assert answer.json()["detail"][0]["loc"] == ["primer"] and "upload" in answer.text
        with pytest.raises(socket.timeout):
            listener.accept()


@pytest.mark.slow
def test_a_primer_of_4_ms_notes_is_blamed_on_the_duration_rule(service, tmp_path):
    short = write_midi(notes(*((i * 0.1, i * 0.1 + 0.004, 70 + i, 80) for i in range(10))), tmp_path / "short.mid")
    upload = {"primer": ("primer.mid", short.read_bytes(), "audio/midi")}
    answer = requests.post(f"{service}/continue", files=upload, data={"seconds": "2"}, timeout=60)
    assert answer.status_code == 400 and answer.json()["field"] == "primer"
    assert "10 by the duration rule" in answer.json()["error"] and "pitch_range rule" not in answer.json()["error"]


def _raw_request(url: str, head: bytes, chunks=()) -> tuple[int, float]:
    """Send a request by hand (a body that is never sent in full); its status and seconds to answer."""
    host, port = url.removeprefix("http://").split(":")
    began = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(head)
        try:
            for chunk in chunks:
                connection.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while the body was still coming
        answer = connection.makefile("rb").readline()
    return int(answer.split()[1]), time.perf_counter() - began


@pytest.mark.slow
def test_an_oversize_body_is_413_before_it_is_read(service):
    # announced: answered at once, with not one byte of the 200 MB sent
    head = b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 209715200\r\n\r\n"
    status, seconds = _raw_request(service, head)
    assert status == 413 and seconds < 5
    # streamed without a length: refused once the count passes the limit, not after 200 MB
    head = (
        b"POST /continue HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 65536
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    status, seconds = _raw_request(service, head, (chunk for _ in range(200 * 1024 * 1024 // len(piece))))
    assert status == 413 and seconds < 30
    # a body at the limit still gets through to validation
    assert MAX_BODY_BYTES > MAX_PRIMER_BYTES
    assert requests.get(f"{service}/livez", timeout=10).status_code == 200


@pytest.mark.slow
def test_large_primers_do_not_stall_the_event_loop(service):
    """Four of the largest primers at once: /livez keeps answering fast (the parse runs in worker processes)."""
    primer = local.largest_primer(MAX_PRIMER_BYTES)
    assert MAX_PRIMER_BYTES - 100 <= len(primer) <= MAX_PRIMER_BYTES
    upload = {"primer": ("primer.mid", primer, "audio/midi")}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        began = time.perf_counter()
        answers = [
            pool.submit(requests.post, f"{service}/continue", files=upload, data={"seconds": "2"}, timeout=240)
            for _ in range(4)
        ]
        worst = 0.0
        while not all(a.done() for a in answers):
            start = time.perf_counter()
            assert requests.get(f"{service}/livez", timeout=30).status_code == 200
            worst = max(worst, time.perf_counter() - start)
            time.sleep(0.05)
        statuses = [a.result().status_code for a in answers]
    print(f"4 largest primers: {time.perf_counter() - began:.1f} s, worst /livez {worst:.3f} s")
    # parsing threads: 1.3 s on 2 busy cores (they shared the GIL with the event loop); on the event
    # loop itself: the whole parse, twice per primer. Worker processes: serving/README.md's figures
    assert statuses == [400] * 4 and worst < 2.5, (statuses, worst)


@pytest.mark.slow
def test_client_errors_are_logged_in_one_line_not_as_errors(service, registry):
    marker = f"unknown_field_{time.time_ns()}"
    assert post_json(service, "generate", {marker: 1}).status_code == 400
    time.sleep(1)
    log = (registry["folder"] / "serve.log").read_text()
    lines = [line for line in log.splitlines() if marker in line]
    assert len(lines) == 1 and "ERROR" not in lines[0] and "refused" in lines[0], lines
    after = log[log.index(lines[0]) :].splitlines()[1:3]
    assert not any("Traceback" in line for line in after), after


@pytest.mark.slow
def test_info_does_not_tell_clients_the_tracking_uri(service, registry):
    info = post_json(service, "info", {})
    assert info.status_code == 200 and "tracking_uri" not in info.json()
    assert registry["uri"] not in info.text and str(registry["folder"]) not in info.text


@pytest.mark.slow
def test_deleted_artifacts_are_reported_with_the_version_and_path_and_the_old_model_serves(service, registry):
    serving = post_json(service, "info", {}).json()["version"]
    other = next(v for v in registry["versions"] if v != serving)
    artifacts = registry["folder"] / "mlartifacts"
    hidden = registry["folder"] / "mlartifacts-hidden"
    mlflow.set_tracking_uri(registry["uri"])
    artifacts.rename(hidden)
    try:
        local.set_champion_bypassing_gate(other, MODEL_NAME)
        status = post_json(service, "reload", {}, timeout=120).json()
    finally:
        hidden.rename(artifacts)
        local.set_champion_bypassing_gate(serving, MODEL_NAME)
    assert status["ready"] and status["version"] == serving
    source = mlflow.MlflowClient().get_model_version(MODEL_NAME, other).source
    assert f"version {other} (models:/{MODEL_NAME}/{other}, artifacts at {source})" in status["problem"], status
    assert post_json(service, "generate", SHORT).status_code == 200
    assert post_json(service, "reload", {}).json()["problem"] is None


@pytest.mark.slow
def test_moving_the_alias_and_reloading_serves_the_new_version(service, registry):
    """Runs last in this module: it leaves the alias on the second version."""
    new = registry["versions"][1]
    mlflow.set_tracking_uri(registry["uri"])
    local.set_champion_bypassing_gate(new, MODEL_NAME)
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
        SampleConfig(seconds=2, seed=seed, transpose=shift, top_k=30, key=key)
        for seed, shift, key in ((1, 0, None), (2, 2, "A minor"), (1, 3, "Eb major"))
    ]
    batch = sampler.generate_each(configs)
    alone = [sampler.generate(config)[0] for config in configs]
    assert [[n.pitch for n in piece.notes] for piece in batch] == [[n.pitch for n in piece.notes] for piece in alone]
    with pytest.raises(ValueError, match="only in seed, transpose, key"):
        sampler.generate_each([SampleConfig(seconds=2), SampleConfig(seconds=3)])


def test_request_fields_and_pyfunc_columns_are_sample_configs_settings():
    from corridos.generation.sampling import MAX_SECONDS, REQUEST_SETTINGS
    from corridos.mlops.packaging import signature
    from serving.service import Settings

    fields = Settings.model_json_schema()["properties"]
    assert list(fields) == list(REQUEST_SETTINGS)
    assert {name: field["default"] for name, field in fields.items()} == {
        name: getattr(SampleConfig(), name) for name in REQUEST_SETTINGS
    }
    assert fields["top_p"]["exclusiveMinimum"] == 0 and fields["seconds"]["maximum"] == MAX_SECONDS
    assert [column.name for column in signature().inputs.inputs] == [*REQUEST_SETTINGS, "primer_midi"]


# -- a tracking server that is not there, or goes away --


def _timed_post(url: str, endpoint: str, timeout: float = 60) -> tuple[requests.Response, float]:
    began = time.perf_counter()
    answer = post_json(url, endpoint, {}, timeout=timeout)
    return answer, time.perf_counter() - began


def _assert_registry_calls_are_bounded(url: str, port: int) -> None:
    """/livez and /readyz answer at once, /reload within seconds (two at once too), and no answer
    names the tracking server's address."""
    began = time.perf_counter()
    assert requests.get(f"{url}/livez", timeout=5).status_code == 200
    readiness = requests.get(f"{url}/readyz", timeout=5)
    assert time.perf_counter() - began < 2
    assert readiness.status_code == 503 and "not ready" in readiness.text and str(port) not in readiness.text
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reloads = list(pool.map(lambda _: _timed_post(url, "reload"), range(2)))
    for answer, seconds in reloads:
        assert answer.status_code == 200 and not answer.json()["ready"], answer.text
        assert seconds < 20, seconds
        assert str(port) not in answer.text and answer.json()["problem"]
    print(f"/reload with the registry down: {[round(s, 1) for _, s in reloads]} s")


@contextlib.contextmanager
def _service(tmp_path: Path, tracking_uri: str, ready: bool, **extra: str):
    environment = {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "CORRIDOS_MODEL_NAME": MODEL_NAME,
        "CORRIDOS_RELOAD_SECONDS": "0",
        "CORRIDOS_MAX_BATCH": "1",
        **extra,
    }
    with local.running(environment, tmp_path / "serve.log", start_seconds=120, ready=ready) as url:
        yield url


@pytest.mark.slow
def test_with_the_tracking_server_down_or_silent_the_service_starts_not_ready_and_stops_on_sigterm(tmp_path):
    """One service (a start costs tens of seconds), two faults in turn at its tracking address:
    nothing listening (connection refused), then a listener that accepts and never answers."""
    port = free_port()  # nothing listens there
    began = time.perf_counter()
    with _service(tmp_path, f"http://127.0.0.1:{port}", ready=False) as url:
        print(f"alive in {time.perf_counter() - began:.1f} s with the tracking server down")
        _assert_registry_calls_are_bounded(url, port)
        with socket.socket() as silent:  # the kernel accepts its connections; nobody answers
            silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            silent.bind(("127.0.0.1", port))
            silent.listen(64)
            _assert_registry_calls_are_bounded(url, port)
        stopping = time.perf_counter()
    assert time.perf_counter() - stopping < local.STOP_GRACE - 5  # stopped by SIGTERM, not killed
    assert "Application startup failed" not in (tmp_path / "serve.log").read_text()


@pytest.mark.slow
def test_a_tracking_server_stopped_mid_run_leaves_the_model_serving(registry, tmp_path):
    """A real `mlflow server` on the registry's store: the service loads the champion from it, the
    server stops, and the service keeps serving, reloads in seconds and says why."""
    mlflow.set_tracking_uri(registry["uri"])
    local.set_champion_bypassing_gate(registry["versions"][0], MODEL_NAME)
    port = free_port()
    command = [Path(sys.executable).parent / "mlflow", "server", "--backend-store-uri", registry["uri"]]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    tracking = ServerProcess(
        "mlflow server", command, tmp_path / "mlflow.log", cwd=tmp_path, death_signal=signal.SIGTERM, stop_grace=10
    )
    with tracking:
        tracking.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), "mlflow server answers", 180)
        with _service(tmp_path, f"http://127.0.0.1:{port}", ready=True) as url:
            assert post_json(url, "info", {}).json()["version"] == str(registry["versions"][0])
            tracking.stop()
            answer, seconds = _timed_post(url, "reload")
            print(f"/reload after the tracking server stopped: {seconds:.1f} s")
            assert answer.status_code == 200 and seconds < 20
            status = answer.json()
            assert status["ready"] and status["version"] == str(registry["versions"][0]) and status["problem"]
            assert str(port) not in answer.text
            assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
            assert post_json(url, "generate", SHORT).status_code == 200
