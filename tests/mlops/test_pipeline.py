import subprocess
import sys

import pytest
import yaml

from corridos.mlops.cluster import CONFIG_MAP, MLFLOW_SECRET, S3_SECRET, Images
from corridos.mlops.kfp_runner import compile_pipeline
from pipelines.corridos_pipeline import corridos_pipeline
from tests.servers.kfp import fake_kfp_server


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    path = compile_pipeline(corridos_pipeline, tmp_path_factory.mktemp("compiled") / "corridos.yaml")
    spec, platform = yaml.safe_load_all(path.read_text())
    return spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def task(spec, name):
    dag = spec["root"]["dag"]["tasks"]["exit-handler-1"]["componentRef"]["name"]
    tasks = spec["components"][dag]["dag"]["tasks"]
    return tasks[name]


def container(spec, executor):
    return spec["deploymentSpec"]["executors"][executor]["container"]


def executor_images(spec) -> dict[str, str]:
    return {name: e["container"]["image"] for name, e in spec["deploymentSpec"]["executors"].items()}


def assert_each_stage_runs_in_its_image(spec, images: Images):
    """Every executor in the image of its job, and no other image anywhere."""
    by_executor = executor_images(spec)
    audio = ("exec-separate", "exec-transcribe", "exec-prepare-separator")
    train = ("exec-train", "exec-evaluate")
    for executor, image in by_executor.items():
        expected = images.audio if executor in audio else images.train if executor in train else images.light
        assert image == expected, executor
    assert set(by_executor) >= {*audio, *train, "exec-ingest", "exec-build-dataset", "exec-register-and-promote"}


def test_every_stage_has_its_component_and_image(compiled):
    spec, _ = compiled
    assert_each_stage_runs_in_its_image(spec, Images())
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert {"corpus_uri", "audio_uri", "model_family", "preset", "promotion_margin"} <= set(parameters)
    # the KFP UI's run form offers the GPU presets
    assert parameters["preset"]["defaultValue"] == "base"
    assert parameters["separator_preset"]["defaultValue"] == "gpu"


def test_train_and_evaluate_ask_for_a_gpu_node(compiled):
    spec, kubernetes = compiled
    for executor in ("exec-train", "exec-evaluate", "exec-prepare-separator", "exec-separate"):
        resources = container(spec, executor)["resources"]
        assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
        assert resources["accelerator"]["resourceCount"] == "1"
        assert kubernetes[executor]["nodeSelector"]["labels"] == {"corridos.io/pool": "gpu"}
        assert kubernetes[executor]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "accelerator" not in container(spec, "exec-build-dataset")["resources"]


def test_resources_retries_secrets_and_caching(compiled):
    spec, kubernetes = compiled
    train = container(spec, "exec-train")["resources"]
    assert train["cpuLimit"] == 4 and train["memoryLimit"] > 17  # 16 GiB, in GB
    assert task(spec, "train")["retryPolicy"]["maxRetryCount"] == 1
    assert task(spec, "ingest")["retryPolicy"]["maxRetryCount"] == 2
    assert task(spec, "build-dataset")["cachingOptions"]["enableCache"] is True
    assert task(spec, "train")["cachingOptions"].get("enableCache", False) is False
    assert task(spec, "register-and-promote")["cachingOptions"].get("enableCache", False) is False
    for executor in ("exec-train", "exec-register-and-promote", "exec-start-tracking"):
        secrets = {s["secretName"]: s["keyToEnv"] for s in kubernetes[executor]["secretAsEnv"]}
        assert {e["envVar"] for e in secrets[S3_SECRET]} == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        assert {e["envVar"] for e in secrets[MLFLOW_SECRET]} == {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
        config = kubernetes[executor]["configMapAsEnv"][0]
        assert config["configMapName"] == CONFIG_MAP
        assert {e["envVar"] for e in config["keyToEnv"]} == {"MLFLOW_TRACKING_URI", "MLFLOW_S3_ENDPOINT_URL"}


def test_songs_fan_out_and_the_pipeline_closes_its_mlflow_run(compiled):
    spec, _ = compiled
    exit_dag = spec["components"][spec["root"]["dag"]["tasks"]["exit-handler-1"]["componentRef"]["name"]]["dag"]
    loop = [t for t in exit_dag["tasks"].values() if "parameterIterator" in t]
    assert loop and loop[0]["iteratorPolicy"]["parallelismLimit"] == 4
    assert (
        spec["root"]["dag"]["tasks"]["finish-tracking"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    )


def pipeline_command(*arguments: str) -> subprocess.CompletedProcess:
    """`corridos pipeline ARGUMENTS...` in a child process, its output captured."""
    command = [sys.executable, "-m", "corridos.cli", "pipeline", *arguments]
    return subprocess.run(command, capture_output=True, text=True)


def compile_command(out, *options: str) -> subprocess.CompletedProcess:
    return pipeline_command("compile", "--out", str(out), *options)


def test_compile_names_the_images_from_options_and_environment(tmp_path, monkeypatch):
    """--image-registry and $CORRIDOS_IMAGE_TAG retarget every step; nothing keeps the default."""
    monkeypatch.setenv("CORRIDOS_IMAGE_TAG", "nightly-7")
    done = compile_command(tmp_path / "p.yaml", "--image-registry", "registry.example:5000/team")
    assert done.returncode == 0, done.stderr[-3000:]
    spec, _ = yaml.safe_load_all((tmp_path / "p.yaml").read_text())
    assert_each_stage_runs_in_its_image(spec, Images("registry.example:5000/team", "nightly-7"))
    assert Images().registry not in (tmp_path / "p.yaml").read_text()


def test_compile_refuses_a_bad_image_tag_in_one_line(tmp_path):
    done = compile_command(tmp_path / "p.yaml", "--image-tag", "has space")
    assert done.returncode == 1 and not (tmp_path / "p.yaml").exists()
    assert done.stderr.strip() == "error: image tag 'has space': expected letters, digits, '_', '.', '-' (at most 128)"


def test_submit_uploads_the_pipeline_and_starts_a_run():
    with fake_kfp_server() as (url, requests):
        done = pipeline_command(
            "submit",
            "--host",
            url,
            "--corpus",
            "s3://corridos/midi",
            "--arg",
            "model_family=wavenet",
            "--run-name",
            "nightly",
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "run run-1 started" in done.stdout
    runs = [r for r in requests if r["method"] == "POST" and r["path"].endswith("/runs")]
    assert len(runs) == 1
    body = runs[0]["body"]
    assert body["display_name"] == "nightly" and body["experiment_id"] == "experiment-1"
    assert body["runtime_config"]["parameters"] == {"corpus_uri": "s3://corridos/midi", "model_family": "wavenet"}
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "corridos"  # spec and platform spec


def test_submit_to_a_dead_host_fails_clearly():
    done = pipeline_command("submit", "--host", "http://127.0.0.1:9", "--corpus", "s3://c/m")
    assert done.returncode == 1 and "http://127.0.0.1:9" in done.stderr
