"""The demo's last step: start the generation service on 127.0.0.1, generate one piece through
HTTP, print where the file is, stop the service.

The service serves the champion of the MLflow store at MLFLOW_TRACKING_URI (default: the local
store under runs/). `--register-latest FAMILY --dataset DIR` first registers the generator logged
by the newest training run of that model family and puts it before the promotion gate, judged on
the dataset's songs: it becomes the champion only if the gate lets it through.

    .venv/bin/python serving/demo_call.py --out runs/demo/served [--register-latest transformer --dataset DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

from serving import local


def generate_one(url: str, settings: dict) -> tuple[bytes, str]:
    """(MIDI bytes, served model version) from one /generate call."""
    request = urllib.request.Request(
        f"{url}/generate", json.dumps(settings).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.read(), response.headers["X-Model-Version"]


def register_latest_training(family: str, model_name: str, dataset: Path) -> dict:
    """Register the newest `family` training run's generator and put it before the promotion gate,
    judged on `dataset`'s songs; returns the gate's decision (registry.Decision as a dict)."""
    import dataclasses

    import mlflow

    from corridos.mlops import registry

    runs = mlflow.search_runs(
        filter_string=f"tags.stage = 'train' and tags.model_family = '{family}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    if not runs:
        sys.exit(f"no finished {family} training run in {mlflow.get_tracking_uri()}; train one first")
    config = registry.PromotionConfig(model_name=model_name)
    version = registry.register(runs[0].info.run_id, model_name)
    return dataclasses.asdict(registry.promote(version, registry.songs_from_dataset(dataset, config), config))


def main() -> None:
    from corridos.cli.common import decision_line
    from corridos.errors import CorridosError
    from corridos.mlops import registry, tracking
    from corridos.mlops.cluster import REGISTERED_MODEL_NAME

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/demo/served"))
    parser.add_argument("--model-name", default=REGISTERED_MODEL_NAME)
    parser.add_argument(
        "--register-latest",
        metavar="FAMILY",
        help="first put the newest training run of this family's generator before the promotion gate",
    )
    parser.add_argument("--dataset", type=Path, help="with --register-latest: the dataset the gate judges on")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.register_latest and args.dataset is None:
        parser.error("--register-latest needs --dataset, the songs the promotion gate judges on")
    os.environ["MLFLOW_TRACKING_URI"] = tracking.configure()
    try:
        if args.register_latest:
            print(decision_line(register_latest_training(args.register_latest, args.model_name, args.dataset)))
        registry.champion(args.model_name)  # a service without a champion would never become ready
    except CorridosError as error:
        sys.exit(f"error: {error}")
    environment = {
        "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"],
        "CORRIDOS_MODEL_NAME": args.model_name,
        "CORRIDOS_RELOAD_SECONDS": "0",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "service.log"
    began = time.monotonic()
    with local.running(environment, log) as url:
        print(f"service ready at {url} after {time.monotonic() - began:.0f} s (log: {log})")
        midi, version = generate_one(url, {"seconds": args.seconds, "seed": args.seed, "top_k": 40})
    path = args.out / f"{args.model_name}-v{version}-seed{args.seed}.mid"
    path.write_bytes(midi)
    print(f"generated {args.seconds:g} s by {args.model_name} version {version} over HTTP: {path.resolve()}")
    print("service stopped")


if __name__ == "__main__":
    main()
