"""The CLI's fault table (README): each failure a user can cause is one `error: ...` line and exit
status 1 (or Typer's usage error, exit 2), never a traceback, and fast."""

from __future__ import annotations

import shutil
import socket
import time

import pytest
from typer.testing import CliRunner

from corridos.cli import app


def invoke(*arguments: str):
    return CliRunner().invoke(app, [str(a) for a in arguments])


def assert_one_error_line(result, *expected: str) -> str:
    """Exit 1, no traceback, and stderr ending in exactly one `error: ...` line naming `expected`."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def tiny_model(trained_tiny):
    """A tiny LSTM generator: enough to load and sample."""
    return trained_tiny("lstm").model_dir


def test_generate_with_truncated_weights_is_one_line(tiny_model, tmp_path):
    broken = shutil.copytree(tiny_model, tmp_path / "model")
    weights = broken / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:2000])
    result = invoke("generate", broken, "--out", tmp_path / "out", "--no-audio", "--seconds", "2")
    assert_one_error_line(result, str(broken), "weights cannot be read")
    assert not (tmp_path / "out").exists()


def test_generate_with_an_unknown_registry_model_is_one_line(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = invoke("generate", "models:/no-such-model@champion", "--out", tmp_path / "out", "--no-audio")
    assert_one_error_line(result, "models:/no-such-model@champion", "not in the registry", uri)


def test_generate_with_top_k_above_the_vocabulary_never_shows_a_traceback(tiny_model, tmp_path):
    # top_k 500 is allowed (<= 1000) but above the vocabulary (187): the sampler either keeps every
    # token (exit 0, notes written) or refuses it in one line; an IndexError escaping is the bug.
    result = invoke("generate", tiny_model, "--out", tmp_path / "out", "--no-audio", "--seconds", "2", "--top-k", 500)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 0:
        assert list((tmp_path / "out").rglob("*.mid")), result.output
    else:
        assert_one_error_line(result, "top_k")


def test_generate_refuses_a_transpose_out_of_range_instead_of_clipping(tiny_model, tmp_path):
    result = invoke("generate", tiny_model, "--out", tmp_path / "out", "--no-audio", "--transpose", 1000)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--transpose" in result.output and "12" in result.output
    assert not (tmp_path / "out").exists()


def test_train_on_a_folder_that_is_not_a_dataset_is_one_line(tmp_path):
    (tmp_path / "songs").mkdir()
    result = invoke("train", tmp_path / "songs", "--no-mlflow", "--out", tmp_path / "out")
    assert_one_error_line(result, str(tmp_path / "songs"), "not a dataset folder")


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_train_on_a_dataset_with_a_broken_shard_is_one_line(tiny_dataset, tmp_path, damage):
    dataset = shutil.copytree(tiny_dataset, tmp_path / "dataset")
    shard = sorted((dataset / "shards").glob("train-*.npz"))[0]
    if damage == "truncated":
        shard.write_bytes(shard.read_bytes()[:300])
    else:
        shard.unlink()
    result = invoke("train", dataset, "--no-mlflow", "--out", tmp_path / "out")
    line = assert_one_error_line(result, shard.name)
    assert ("corrupt dataset shard" if damage == "truncated" else "dataset shard missing") in line


def test_train_on_a_dataset_with_a_corrupt_manifest_is_one_line(tiny_dataset, tmp_path):
    dataset = shutil.copytree(tiny_dataset, tmp_path / "dataset")
    (dataset / "manifest.json").write_text('{"shards": [')
    result = invoke("train", dataset, "--no-mlflow", "--out", tmp_path / "out")
    assert_one_error_line(result, "manifest.json", "corrupt dataset manifest")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_pipeline_run_with_a_dead_tracking_server_fails_in_seconds(tmp_path, monkeypatch):
    uri = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    started = time.monotonic()
    result = invoke("pipeline", "run", "--corpus", tmp_path, "--runs", tmp_path / "runs")
    assert time.monotonic() - started < 5
    assert_one_error_line(result, uri, "unreachable", "Connection refused")
    assert not (tmp_path / "runs").exists()  # kfp started nothing


def test_pipeline_run_with_a_tracking_server_that_never_answers_fails_in_seconds(tmp_path, monkeypatch):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        started = time.monotonic()
        result = invoke("pipeline", "run", "--corpus", tmp_path, "--runs", tmp_path / "runs")
        assert time.monotonic() - started < 10
    assert_one_error_line(result, uri, "no answer within 5 s")
    assert not (tmp_path / "runs").exists()


def test_a_long_audio_file_is_refused_from_its_header_unread(tmp_path, monkeypatch):
    import numpy as np
    import soundfile

    from corridos import storage
    from corridos.audio import io as audio_io
    from corridos.errors import BadInputError

    path = tmp_path / "silence.wav"  # 20 minutes of silence, 8 kHz mono 16-bit: 19 MB on disk
    soundfile.write(path, np.zeros(20 * 60 * 8000, np.int16), 8000, subtype="PCM_16")

    def no_reading(uri):
        raise AssertionError(f"{uri} was read before its length was checked")

    monkeypatch.setattr(storage, "read_bytes", no_reading)
    with pytest.raises(BadInputError, match=r"silence.wav: too long: 1200 s > 900 s"):
        audio_io.read_audio(
            str(path), audio_io.AudioSource(name="silence.wav", uri=str(path)), 8000, audio_io.AudioLimits()
        )


@pytest.mark.audio
def test_transcribe_fails_when_every_input_was_skipped_as_dataset_build_does(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.wav").write_bytes(b"")
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    result = invoke("audio", "transcribe", tmp_path / "in", "--out", tmp_path / "out")
    assert_one_error_line(
        result, "no usable audio among 2 file(s)", "empty: empty file", "notes: not an audio file name"
    )
    assert "skipped empty: empty file" in result.stdout  # the per-file reasons still print
    assert (tmp_path / "out" / "manifest.json").is_file()  # and the manifest records them


def test_looping_and_broken_symlinks_are_recorded_as_skipped_in_the_dataset_manifest(tmp_path):
    import json

    from corridos.symbolic.sequences import write_midi
    from tests.helpers import motif_song

    corpus = tmp_path / "corpus"
    for seed in range(4):
        write_midi(motif_song(seed), corpus / f"Band {seed} - Song {seed}.mid")
    (corpus / "loop-a.mid").symlink_to("loop-b.mid")
    (corpus / "loop-b.mid").symlink_to("loop-a.mid")
    (corpus / "gone.mid").symlink_to("nowhere.mid")
    result = invoke("dataset", "build", corpus, "--out", tmp_path / "dataset", "--workers", 1)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "dataset" / "manifest.json").read_text())
    skipped = {f["name"]: f["reason"] for f in manifest["files"] if f["status"] == "skipped"}
    assert set(skipped) == {"loop-a.mid", "loop-b.mid", "gone.mid"}, skipped
    assert "Too many levels of symbolic links" in skipped["loop-a.mid"]
    assert "No such file" in skipped["gone.mid"]


def test_pipeline_run_with_an_unhealthy_tracking_server_fails_in_seconds(tmp_path, monkeypatch):
    import http.server
    import threading

    class Unhealthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the handler's protocol)
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unhealthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        started = time.monotonic()
        result = invoke("pipeline", "run", "--corpus", tmp_path, "--runs", tmp_path / "runs")
        assert time.monotonic() - started < 5
    finally:
        server.shutdown()
        server.server_close()
    assert_one_error_line(result, uri, "unhealthy", "HTTP 503")
