"""A real MLflow tracking server on loopback for the tests: `mlflow server` on PostgreSQL and S3.

Runs and the model registry live in the PostgreSQL database; artifacts go to the S3 bucket under
`mlflow/`, proxied by the server (`--serve-artifacts`), so clients need only the tracking URL,
no S3 credentials.

    with running(folder, postgres_url, s3_endpoint) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)

The server is a corridos.processes.ServerProcess: stopped by its process group, and the stop
checks that none of its session is left (mlflow's job workers outlive its main pid).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from corridos.processes import ServerProcess, free_port, http_ok
from tests.servers.s3 import S3Endpoint

MLFLOW = Path(sys.executable).parent / "mlflow"
# seconds; the start took 27-60 s on 2 busy cores: mlflow is imported twice (the CLI, then uvicorn)
# and creates its tables
START_TIMEOUT = 120.0
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
PREFIX = "mlflow"  # where in the bucket the artifacts go


@dataclasses.dataclass(frozen=True)
class MLflowServer:
    url: str  # the tracking URI, http://127.0.0.1:PORT
    database_url: str  # postgresql://... of the backend store
    s3: S3Endpoint  # the S3 server the artifacts are in
    artifacts: str  # s3://BUCKET/mlflow

    @property
    def bucket(self) -> str:
        return self.s3.bucket

    @property
    def prefix(self) -> str:
        """The key prefix of the artifacts in the bucket."""
        return self.artifacts.removeprefix(f"s3://{self.bucket}/")


@contextlib.contextmanager
def running(folder: Path, database_url: str, s3: S3Endpoint) -> Iterator[MLflowServer]:
    """Start the server (its log in `folder`), yield it once /health answers, stop it all."""
    folder = Path(folder)
    port = free_port()
    server = MLflowServer(f"http://127.0.0.1:{port}", database_url, s3, f"s3://{s3.bucket}/{PREFIX}")
    log = folder / "mlflow-server.log"
    environment = {
        **os.environ,
        **s3.environment(),
        # no job workers: nothing here uses them and they are the processes that outlive the server
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    environment.pop("MLFLOW_TRACKING_URI", None)  # the server's own, if set, would mean something else
    # SQLAlchemy 2.1 reads a plain postgresql:// as psycopg (3), which is not installed; psycopg2 is
    backend = database_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    command = [
        MLFLOW,
        "server",
        "--backend-store-uri",
        backend,
        "--serve-artifacts",
        "--artifacts-destination",
        server.artifacts,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # SIGTERM, not SIGKILL, if the test process dies: `mlflow server` forwards it to the uvicorn
    # process it starts, which a SIGKILL would leave running, still serving
    process = ServerProcess(
        "mlflow server", command, log, cwd=folder, env=environment, death_signal=signal.SIGTERM, stop_grace=STOP_GRACE
    )
    with process:
        process.wait_until(lambda: http_ok(f"{server.url}/health"), f"{server.url}/health answers", START_TIMEOUT)
        yield server
