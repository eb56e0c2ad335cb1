"""The running service the serving tests share (test_serving.py and the browser test of the page):
one real `bentoml serve` on loopback, started once for the package."""

import mlflow
import pytest
import requests

from corridos.mlops import registry as model_registry
from serving import local
from tests.helpers import SERVED_MODEL_NAME, SHORT_PIECE, post_json


@pytest.fixture(scope="package")
def registry(trained_tiny, tmp_path_factory):
    """A sqlite MLflow store with two versions of one tiny generator (the session's trained
    transformer, logged with its training metrics) and no champion yet."""
    folder = tmp_path_factory.mktemp("serving-registry")
    trained = trained_tiny("transformer")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        run_id = local.log_generator(trained.model_dir, {"best_val_loss": trained.best_validation_loss})
        versions = [model_registry.register(run_id, SERVED_MODEL_NAME) for _ in range(2)]
        yield {"uri": mlflow.get_tracking_uri(), "folder": folder, "run_id": run_id, "versions": versions}


@pytest.fixture(scope="package")
def started(registry):
    """The service's URL, and what it answered while the registry had no champion: it starts with
    none, then the first version becomes the champion and the service is told to reload."""
    environment = {
        "MLFLOW_TRACKING_URI": registry["uri"],
        "CORRIDOS_MODEL_NAME": SERVED_MODEL_NAME,
        "CORRIDOS_RELOAD_SECONDS": "0",
        "CORRIDOS_MAX_BATCH": "4",
    }
    with local.running(environment, registry["folder"] / "serve.log", ready=False) as url:
        before = {
            "readyz": requests.get(f"{url}/readyz", timeout=10),
            "generate": post_json(url, "generate", SHORT_PIECE),
        }
        mlflow.set_tracking_uri(registry["uri"])
        local.set_champion_bypassing_gate(registry["versions"][0], SERVED_MODEL_NAME)
        reloaded = post_json(url, "reload", {}, timeout=300)
        assert reloaded.status_code == 200 and reloaded.json()["ready"], reloaded.text
        yield url, before


@pytest.fixture(scope="package")
def service(started):
    return started[0]
