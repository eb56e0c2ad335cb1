"""Fixtures shared by the test packages; the builders they use live in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridos.symbolic.sequences import write_midi
from tests.helpers import TINY_MODEL, motif_song


@pytest.fixture
def write(tmp_path):
    def _write(sequence, name: str) -> Path:
        return write_midi(sequence, tmp_path / "midi" / name)

    return _write


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 server (Ceph radosgw on loopback) started once per session, with one bucket.

    boto3 and corridos.storage reach it through the usual environment variables, set here and
    restored at the end. Missing Ceph binaries fail the test: a skip would hide the S3 path.
    """
    from corridos import storage
    from tests.servers import s3 as s3server

    missing = s3server.missing_binaries()
    if missing:
        pytest.fail(f"the S3 tests need Ceph: {', '.join(missing)} not found; run `make setup`", pytrace=False)
    with s3server.running(tmp_path_factory.mktemp("s3server")) as endpoint, pytest.MonkeyPatch.context() as env:
        for name, value in endpoint.environment().items():
            env.setenv(name, value)
        storage.s3_client.cache_clear()  # a client made before would keep its old endpoint
        yield endpoint
    storage.s3_client.cache_clear()


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A built dataset of 12 motif songs, shared by the model tests."""
    from corridos.symbolic.dataset import DatasetConfig, build_dataset
    from corridos.symbolic.sequences import write_midi
    from corridos.symbolic.splits import SplitConfig

    folder = tmp_path_factory.mktemp("motifs")
    for seed in range(12):
        write_midi(motif_song(seed), folder / "midi" / f"Band {seed % 4} - Motif {seed}.mid")
    config = DatasetConfig(split=SplitConfig(validation_fraction=0.25), piano_roll_songs=0)
    return build_dataset(folder / "midi", folder / "dataset", config, workers=1, progress=False).out_dir


@pytest.fixture(scope="session")
def trained_tiny(tiny_dataset, tmp_path_factory):
    """A function of the family: its tiny model trained on tiny_dataset for 3 epochs (its validation
    loss falls: test_train checks it), once per session; the TrainResult. Tests only read the model
    folder (copy it to damage it): training is the slowest thing most of them would do."""
    from corridos.generation.train import preset, train

    results = {}

    def trained(family: str):
        if family not in results:
            config = preset("tiny", family, {**TINY_MODEL, "epochs": 3, "learning_rate": 3e-3})
            out = tmp_path_factory.mktemp(f"trained-{family}")
            results[family] = train(tiny_dataset, out, config, log_to_mlflow=False, progress=False)
        return results[family]

    return trained


@pytest.fixture(scope="session")
def mlflow_server(s3_server, tmp_path_factory):
    """A real MLflow tracking server started once per session: runs and the registry in a throwaway
    PostgreSQL, artifacts in the S3 server's bucket under mlflow/, proxied by the server.

    Yields an mlflowserver.MLflowServer: .url (the tracking URI), .bucket, .prefix ("mlflow"),
    .s3 (the S3 endpoint), .database_url. Tests point MLFLOW_TRACKING_URI at .url themselves.
    Missing PostgreSQL binaries fail the test, as missing Ceph does for s3_server.
    """
    from tests.servers import mlflow as mlflowserver
    from tests.servers import postgres as pgserver

    missing = pgserver.missing_binaries()
    if missing:
        pytest.fail(
            f"the MLflow server tests need PostgreSQL: {', '.join(missing)} not found; run `make setup`", pytrace=False
        )
    with pgserver.running() as database:
        with mlflowserver.running(tmp_path_factory.mktemp("mlflow-server"), database, s3_server) as server:
            yield server
