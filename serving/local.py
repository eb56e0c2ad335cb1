"""Run the generation service on loopback: used by the tests, the benchmark and the demo.

`running(...)` starts `bentoml serve` on a free 127.0.0.1 port as a corridos.processes.ServerProcess,
waits until /readyz answers, and stops its whole process group on exit (BentoML forks workers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

from corridos.processes import ServerProcess, free_port, http_ok

REPOSITORY = Path(__file__).resolve().parent.parent
SERVICE = "serving.service:Corridos"
STOP_GRACE = 20.0  # seconds between SIGTERM and SIGKILL: the workers finish their requests


def log_generator(model_dir: str | Path, metrics: dict[str, float] | None = None) -> str:
    """Log a saved model folder as a new run's generator, with these metrics (in the store
    MLFLOW_TRACKING_URI names); returns the run id."""
    import mlflow

    from corridos.mlops import packaging, tracking

    tracking.configure()
    with mlflow.start_run(run_name="serving-local") as run:
        mlflow.log_metrics(metrics or {})
        packaging.log(Path(model_dir))
    return run.info.run_id


def register_champion_bypassing_gate(
    model_dir: str | Path, model_name: str, metrics: dict[str, float] | None = None
) -> str:
    """Tests and benchmarks only, on a throwaway store: log a saved model folder as a new run's
    generator, register it and make it the champion WITHOUT the promotion gate; returns the version."""
    from corridos.mlops import registry

    version = registry.register(log_generator(model_dir, metrics), model_name)
    set_champion_bypassing_gate(version, model_name)
    return version


def set_champion_bypassing_gate(version: str, model_name: str) -> None:
    """Tests and benchmarks only, on a throwaway store: point the champion alias at `version`
    WITHOUT the promotion gate. Everything else moves the alias through registry.promote."""
    import mlflow

    from corridos.mlops.cluster import CHAMPION_ALIAS

    mlflow.MlflowClient().set_registered_model_alias(model_name, CHAMPION_ALIAS, str(version))


def largest_primer(limit: int) -> bytes:
    """A MIDI file just under `limit` bytes, the costliest primer to parse: one track of 0.26 ms
    notes, every one refused by the duration rule in the end, after the whole parse (used by the
    test that /livez keeps answering and by the serving benchmark's mixed load)."""
    count = (limit - 100) // 8
    events = b"".join(bytes([0, 0x90, 60 + i % 24, 90, 1, 0x80, 60 + i % 24, 0]) for i in range(count))
    track = events + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 1920) + b"MTrk" + struct.pack(">I", len(track)) + track


@contextlib.contextmanager
def running(
    environment: dict[str, str], log_path: Path, start_seconds: float = 240.0, ready: bool = True
) -> Iterator[str]:
    """A `bentoml serve` of the service; yields its base URL once it is ready (with ready=False:
    once it is alive, for a service that is expected never to become ready)."""
    port = free_port()
    command = [Path(sys.executable).parent / "bentoml", "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, **environment, "PYTHONPATH": str(REPOSITORY)}
    url = f"http://127.0.0.1:{port}"
    probe = f"{url}/{'readyz' if ready else 'livez'}"
    # SIGTERM, not SIGKILL, if the caller dies: bentoml serve then stops the workers it started
    server = ServerProcess(
        "bentoml serve", command, log_path, cwd=REPOSITORY, env=env, death_signal=signal.SIGTERM, stop_grace=STOP_GRACE
    )
    with server:
        server.wait_until(lambda: http_ok(probe, timeout=5), f"{probe} answers 200", start_seconds)
        yield url
