"""Load on the generation service: concurrent clients on loopback, each asking for `--seconds-of-music`
of new music again and again (a new seed each time) until `--duration` passes or `--max-requests`
have been sent. Two loads, one after the other on the same service:

- uniform: every client with the same settings, the batcher's best case (target on 2 cores: zero
  errors, p50 <= 1.5 s for 30 s of music with 16 clients);
- mixed: the clients spread over four different settings (which cannot share a batch), plus
  `--primer-clients` uploading the largest allowed primer to /continue again and again, plus one
  client polling GET /livez: its worst latency is the figure a liveness probe sees (target < 0.5 s).

Prints latency p50/p95/p99, throughput and the errors by kind (any exception or unexpected answer).

Without --url it starts the service itself: the demo's champion (`make demo`; or --model, a saved
model folder or another MLflow model URI) is registered as the champion of a throwaway sqlite
MLflow store, then served by `bentoml serve`.

    .venv/bin/python benchmarks/service_load.py [--clients 16] [--duration 30] [--max-batch 16] [--load mixed]
    .venv/bin/python benchmarks/service_load.py --url http://127.0.0.1:3000

(Not named serving.py: a script's folder comes first on sys.path, so `import serving` would find
the script itself instead of the service package.)
"""

from __future__ import annotations

import argparse
import collections
import functools
import itertools
import json
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from corridos.errors import ModelError
from corridos.mlops.cluster import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from serving import local
from serving.primers import MAX_PRIMER_BYTES

MODEL_NAME = "corridos-generator-benchmark"
DEMO_CHAMPION = f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION_ALIAS}"
# Settings that differ in what a batch shares: requests with different ones are sampled apart.
MIXED_SETTINGS = [
    {"top_k": 40},
    {"top_k": 20, "temperature": 0.9},
    {"top_p": 0.9},
    {"top_k": 60, "temperature": 1.1},
]
LIVEZ_EVERY_SECONDS = 0.05

Outcome = tuple[float, str]  # (seconds taken, "" or what went wrong)


def timed(call: Callable[[], str]) -> Outcome:
    """Time one request; any exception is an error of its kind (an IncompleteRead or a reset
    connection counts like a refused one)."""
    began = time.perf_counter()
    try:
        problem = call()
    except urllib.error.HTTPError as error:
        problem = f"HTTP {error.code}"
    except Exception as error:  # noqa: BLE001 - every failure is counted, by its type
        problem = type(error).__name__
    return time.perf_counter() - began, problem


def generate(url: str, body: dict) -> str:
    """One /generate call: "" when it answered MIDI."""
    request = urllib.request.Request(f"{url}/generate", json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return "" if response.read().startswith(b"MThd") else "not MIDI"


def continue_primer(url: str, primer: bytes) -> str:
    """One /continue call with the largest primer: "" when it is refused with the primer named
    (its notes are all too short: the parse is what it costs)."""
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="primer"; filename="primer.mid"\r\n'
        f"Content-Type: audio/midi\r\n\r\n".encode()
        + primer
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="seconds"\r\n\r\n2\r\n--{boundary}--\r\n'.encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    request = urllib.request.Request(f"{url}/continue", body, headers)
    try:
        with urllib.request.urlopen(request, timeout=300):
            return "primer accepted"
    except urllib.error.HTTPError as error:
        return "" if error.code == 400 and b"primer" in error.read() else f"HTTP {error.code}"


def livez(url: str) -> str:
    with urllib.request.urlopen(f"{url}/livez", timeout=30) as response:
        response.read()
        return ""


def closed_loop(call: Callable[[int], str], stop_at: float, count: Callable[[], int], pause: float = 0.0) -> list:
    """Send the next request when the last is answered, until stop_at or count() says the budget is
    spent; the outcomes."""
    outcomes = []
    while time.monotonic() < stop_at:
        number = count()
        if number < 0:
            break
        outcomes.append(timed(functools.partial(call, number)))
        time.sleep(pause)
    return outcomes


def load(url: str, args: argparse.Namespace, mixed: bool) -> tuple[dict[str, list[Outcome]], float]:
    """Run the clients in threads; each kind's outcomes and the seconds until the last answer."""
    sent = itertools.count()
    stop_at = time.monotonic() + args.duration

    def budget() -> int:  # the request's number (its seed), or -1 once max_requests were sent
        number = next(sent)
        return number if number < args.max_requests else -1

    def music(client: int) -> Callable[[int], str]:
        settings = MIXED_SETTINGS[client % len(MIXED_SETTINGS)] if mixed else MIXED_SETTINGS[0]
        return lambda seed: generate(url, {"seconds": args.seconds_of_music, "seed": seed, **settings})

    primer = local.largest_primer(MAX_PRIMER_BYTES)
    jobs = {f"generate-{client}": (music(client), budget, 0.0) for client in range(args.clients)}
    if mixed:
        forever = itertools.count().__next__
        for client in range(args.primer_clients):
            jobs[f"primer-{client}"] = (lambda _: continue_primer(url, primer), forever, 0.0)
        jobs["livez"] = (lambda _: livez(url), forever, LIVEZ_EVERY_SECONDS)
    results: dict[str, list[Outcome]] = collections.defaultdict(list)
    lock = threading.Lock()

    def client(name: str) -> None:
        call, count, pause = jobs[name]
        outcomes = closed_loop(call, stop_at, count, pause)
        with lock:
            results[name.split("-")[0]].extend(outcomes)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - began


def latencies(outcomes: list[Outcome]) -> dict:
    seconds = np.array([s for s, problem in outcomes if not problem])
    p50, p95, p99 = np.percentile(seconds, [50, 95, 99]) if len(seconds) else (np.nan,) * 3
    errors = collections.Counter(problem for _, problem in outcomes if problem)
    return {
        "requests": len(outcomes),
        "answered": len(seconds),
        "errors": dict(errors),
        "p50_s": p50,
        "p95_s": p95,
        "p99_s": p99,
        "worst_s": seconds.max() if len(seconds) else np.nan,
    }


def errors_text(figures: dict) -> str:
    total = sum(figures["errors"].values())
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(figures["errors"].items()))
    return f"{total} errors{f' ({kinds})' if kinds else ''}"


def report(results: dict[str, list[Outcome]], elapsed: float, args: argparse.Namespace, mixed: bool) -> None:
    music = latencies(results["generate"])
    print(
        f"{'mixed' if mixed else 'uniform'} load, {args.clients} clients "
        f"({len(MIXED_SETTINGS) if mixed else 1} settings), {args.seconds_of_music:g} s of music a request, "
        f"{elapsed:.1f} s: {music['requests']} requests, {errors_text(music)} (target 0)"
    )
    print(
        f"  generate p50 {music['p50_s']:.2f} s (target <= 1.5 s uniform), p95 {music['p95_s']:.2f} s, "
        f"p99 {music['p99_s']:.2f} s; {music['answered'] / elapsed:.2f} requests/s, "
        f"{music['answered'] * args.seconds_of_music / elapsed:.1f} s of music per s"
    )
    if not mixed:
        return
    primers = latencies(results["primer"])
    print(
        f"  {args.primer_clients} clients with the largest primer ({MAX_PRIMER_BYTES // 1024} KiB): "
        f"{primers['requests']} refused as expected in p50 {primers['p50_s']:.2f} s, {errors_text(primers)}"
    )
    probe = latencies(results["livez"])
    print(
        f"  /livez every {LIVEZ_EVERY_SECONDS:g} s: {probe['requests']} polls, worst {probe['worst_s']:.3f} s "
        f"(target < 0.5 s), p50 {probe['p50_s']:.3f} s, p95 {probe['p95_s']:.3f} s, p99 {probe['p99_s']:.3f} s, "
        f"{errors_text(probe)}"
    )


def served_by_this_script(model: str, max_batch: int, folder: Path):
    """Register the model in a throwaway store and serve it; a context manager yielding the URL."""
    import os

    from corridos.mlops import packaging

    model_dir = packaging.resolve(model)  # from the store MLFLOW_TRACKING_URI names, or the local one
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    local.register_champion_bypassing_gate(model_dir, MODEL_NAME)  # a throwaway store
    environment = {
        "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"],
        "CORRIDOS_MODEL_NAME": MODEL_NAME,
        "CORRIDOS_MAX_BATCH": str(max_batch),
        "CORRIDOS_RELOAD_SECONDS": "0",
    }
    return local.running(environment, folder / "serve.log")


def run_loads(url: str, args: argparse.Namespace) -> None:
    for mixed in {"uniform": [False], "mixed": [True], "both": [False, True]}[args.load]:
        report(*load(url, args, mixed), args, mixed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running service; default: start one on a free loopback port")
    parser.add_argument("--model", default=DEMO_CHAMPION, help="served when --url is not given: a folder or MLflow URI")
    parser.add_argument("--load", choices=["uniform", "mixed", "both"], default="both")
    parser.add_argument("--clients", type=int, default=16, help="generation clients")
    parser.add_argument("--primer-clients", type=int, default=4, help="clients uploading primers (mixed load)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of each load")
    parser.add_argument("--max-requests", type=int, default=2000, help="generation requests at most, per load")
    parser.add_argument("--seconds-of-music", type=float, default=30.0)
    parser.add_argument("--max-batch", type=int, default=16, help="the started service's CORRIDOS_MAX_BATCH")
    args = parser.parse_args()
    if args.url:
        run_loads(args.url, args)
        return
    with tempfile.TemporaryDirectory(prefix="corridos-bench-serving-") as folder:
        try:
            served = served_by_this_script(args.model, args.max_batch, Path(folder))
        except ModelError as error:
            sys.exit(f"{error}\nrun `make demo` first, or pass --model or --url")
        with served as url:
            print(f"serving {args.model} at {url} (max batch {args.max_batch})")
            timed(lambda: generate(url, {"seconds": args.seconds_of_music}))  # first request: pools, caches
            run_loads(url, args)


if __name__ == "__main__":
    main()
