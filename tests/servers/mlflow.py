"""A real MLflow tracking server on loopback for the tests: `mlflow server` on PostgreSQL and S3.

Runs and the model registry live in the PostgreSQL database; artifacts go to the S3 bucket under
`mlflow/`, proxied by the server (`--serve-artifacts`), so clients need only the tracking URL,
no S3 credentials.

    with running(folder, postgres_url, s3_endpoint) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)

The server runs in its own session and is stopped by its process group: its job workers
outlive the main pid (FINDINGS), so the stop checks that none of the session is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.servers.s3 import S3Endpoint, free_port, stop_group

MLFLOW = Path(sys.executable).parent / "mlflow"
# seconds; the start took 27-60 s on 2 busy cores: mlflow is imported twice (the CLI, then uvicorn)
# and creates its tables
START_TIMEOUT = 120.0
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
PREFIX = "mlflow"  # where in the bucket the artifacts go


class MLflowServerError(RuntimeError):
    """The server could not be started or stopped; the message ends with its log tail."""


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
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [
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
            ],
            cwd=folder,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
    try:
        _wait_until_healthy(process, server.url, log)
        yield server
    finally:
        _stop(process, log)


def _wait_until_healthy(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not _healthy(url):
        if process.poll() is not None:
            raise MLflowServerError(f"mlflow server exited with {process.returncode}\n{_log_tail(log)}")
        if time.monotonic() > deadline:
            raise MLflowServerError(f"timed out after {START_TIMEOUT:.0f} s waiting for {url}/health\n{_log_tail(log)}")
        time.sleep(0.25)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(process: subprocess.Popen, log: Path) -> None:
    """SIGTERM the whole group (server, uvicorn worker, any job worker), SIGKILL what lingers."""
    stop_group(process, STOP_GRACE)
    # the group is gone once pgrep finds no process in the session the server started
    deadline = time.monotonic() + STOP_GRACE
    while (left := _session_processes(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        raise MLflowServerError(f"processes of the mlflow server left running: {left}\n{_log_tail(log)}")


def _stop_with_parent() -> None:
    """Runs in the child before exec: SIGTERM, not s3server's SIGKILL, if the test process dies
    without stopping the server. `mlflow server` forwards SIGTERM to the uvicorn process it starts;
    a SIGKILL would leave that one running, still serving."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _session_processes(session: int) -> str:
    return subprocess.run(["pgrep", "-a", "-s", str(session)], capture_output=True, text=True).stdout.strip()


def _log_tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    return f"--- last lines of {log} ---\n" + "\n".join(text.splitlines()[-lines:])
