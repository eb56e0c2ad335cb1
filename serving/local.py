"""Run the generation service on loopback: used by the tests, the benchmark and the demo.

`running(...)` starts `bentoml serve` in its own process group on a free 127.0.0.1 port, waits
until /readyz answers, and stops the whole group on exit (BentoML forks workers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
SERVICE = "serving.service:Corridos"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def register_champion(model_dir: str | Path, model_name: str, metrics: dict[str, float] | None = None) -> str:
    """Log a saved model folder as a new run's generator, register it and make it the champion
    (in the store MLFLOW_TRACKING_URI names); returns the version."""
    import mlflow

    from corridos.mlops import packaging, tracking
    from corridos.mlops.cluster import CHAMPION_ALIAS

    tracking.configure()
    with mlflow.start_run(run_name="serving-local"):
        mlflow.log_metrics(metrics or {})
        logged = packaging.log(Path(model_dir), registered_name=model_name)
    version = str(logged.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    return version


@contextlib.contextmanager
def running(environment: dict[str, str], log_path: Path, start_seconds: float = 240.0, ready: bool = True):
    """A `bentoml serve` of the service; yields its base URL once it is ready (with ready=False:
    once it is alive, for a service that is expected never to become ready)."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "bentoml"),
        "serve",
        SERVICE,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {**os.environ, **environment, "PYTHONPATH": str(REPOSITORY)}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/{'readyz' if ready else 'livez'}", process, log_path, start_seconds)
        yield url
    finally:
        stop(process)


def wait_for(probe: str, process: subprocess.Popen, log_path: Path, seconds: float) -> None:
    """Until `probe` answers 200; fails early with the log if the server exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"bentoml serve exited ({process.returncode}); see {log_path}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(probe, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise TimeoutError(f"{probe} not 200 after {seconds:.0f} s; see {log_path}:\n{log_path.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
