"""Load on the generation service: concurrent clients on loopback, each asking for `--seconds-of-music`
of new music again and again (a new seed each time) until `--duration` passes or `--max-requests`
have been sent. Prints latency p50/p95/p99, throughput and the error count (target on 2 cores:
zero errors, p50 <= 1.5 s for 30 s of music with 16 clients).

Without --url it starts the service itself: the trained demo transformer (`make demo`) is
registered as the champion of a throwaway sqlite MLflow store, then served by `bentoml serve`.

    .venv/bin/python benchmarks/serving.py [--clients 16] [--duration 30] [--max-batch 16]
    .venv/bin/python benchmarks/serving.py --url http://127.0.0.1:3000
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from serving import local

MODEL_NAME = "corridos-generator-benchmark"


def one_request(url: str, body: dict) -> tuple[float, bool]:
    """(seconds taken, succeeded) for one /generate call."""
    request = urllib.request.Request(f"{url}/generate", json.dumps(body).encode(), {"Content-Type": "application/json"})
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            ok = response.status == 200 and response.read().startswith(b"MThd")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        ok = False
    return time.perf_counter() - began, ok


def load(url: str, clients: int, duration: float, max_requests: int, music_seconds: float) -> dict:
    """Closed loop: each client sends its next request when the last one is answered."""
    seeds = itertools.count()
    results: list[tuple[float, bool]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client() -> None:
        while time.monotonic() < stop_at:
            seed = next(seeds)  # also the number of requests sent before this one
            if seed >= max_requests:
                return
            outcome = one_request(url, {"seconds": music_seconds, "seed": seed, "top_k": 40})
            with lock:
                results.append(outcome)

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarize(results, time.monotonic() - began, music_seconds)


def summarize(results: list[tuple[float, bool]], elapsed: float, music_seconds: float) -> dict:
    latencies = np.array([seconds for seconds, ok in results if ok])
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if len(latencies) else (np.nan,) * 3
    return {
        "requests": len(results),
        "errors": sum(not ok for _, ok in results),
        "elapsed_s": elapsed,
        "p50_s": p50,
        "p95_s": p95,
        "p99_s": p99,
        "requests_per_s": len(latencies) / elapsed,
        "music_s_per_s": len(latencies) * music_seconds / elapsed,
    }


def served_by_this_script(model_dir: Path, max_batch: int, folder: Path):
    """Register the model in a throwaway store and serve it; a context manager yielding the URL."""
    import os

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    local.register_champion_bypassing_gate(model_dir, MODEL_NAME)  # a throwaway store
    environment = {
        "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"],
        "CORRIDOS_MODEL_NAME": MODEL_NAME,
        "CORRIDOS_MAX_BATCH": str(max_batch),
        "CORRIDOS_RELOAD_SECONDS": "0",
    }
    return local.running(environment, folder / "serve.log")


def report(figures: dict, clients: int, music_seconds: float) -> None:
    print(
        f"{clients} clients, {music_seconds:g} s of music a request, {figures['elapsed_s']:.1f} s: "
        f"{figures['requests']} requests, {figures['errors']} errors (target 0)"
    )
    print(
        f"latency p50 {figures['p50_s']:.2f} s (target <= 1.5 s), p95 {figures['p95_s']:.2f} s, "
        f"p99 {figures['p99_s']:.2f} s"
    )
    print(f"throughput {figures['requests_per_s']:.2f} requests/s, {figures['music_s_per_s']:.1f} s of music per s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running service; default: start one on a free loopback port")
    parser.add_argument(
        "--model",
        type=Path,
        default=Path("runs/demo/train/transformer/model"),
        help="the saved model folder served when --url is not given",
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=2000)
    parser.add_argument("--seconds-of-music", type=float, default=30.0)
    parser.add_argument("--max-batch", type=int, default=16, help="the started service's CORRIDOS_MAX_BATCH")
    args = parser.parse_args()
    if args.url:
        report(
            load(args.url, args.clients, args.duration, args.max_requests, args.seconds_of_music),
            args.clients,
            args.seconds_of_music,
        )
        return
    if not (args.model / "model.json").is_file():
        sys.exit(f"{args.model}: no trained model; run `make demo` first or pass --model / --url")
    with tempfile.TemporaryDirectory(prefix="corridos-bench-serving-") as folder:
        with served_by_this_script(args.model, args.max_batch, Path(folder)) as url:
            print(f"serving {args.model} at {url} (max batch {args.max_batch})")
            one_request(url, {"seconds": args.seconds_of_music})  # first request: thread pools, caches
            report(
                load(url, args.clients, args.duration, args.max_requests, args.seconds_of_music),
                args.clients,
                args.seconds_of_music,
            )


if __name__ == "__main__":
    main()
