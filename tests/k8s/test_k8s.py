"""The Kubernetes manifests (k8s/): every overlay renders with `kubectl kustomize`, every object
is valid against Kubernetes 1.32 (`kubernetes-validate --strict`), checkov finds nothing and each
check it skips says why, and the security defaults and network flows are the ones intended.

kubectl and the checkers live in their own environment (k8s/tools, `make k8s-tools`, pinned by its
lock): checkov's pins must not reach the project's environments, and no kubectl on PATH is used.
The render uses throwaway secrets made by k8s/secrets.sh in a copy of k8s/, never the user's.
k8s/kubeflow is not rendered: it is a remote base on GitHub (Kubeflow Pipelines at a pinned tag)
and these checks run offline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from corridos.mlops import cluster

REPOSITORY = Path(__file__).resolve().parents[2]
K8S = REPOSITORY / "k8s"
TOOLS = K8S / "tools" / ".venv" / "bin"
OVERLAYS = ("dev", "gpu")
KUBERNETES_VERSION = "1.32.0"
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob"}
# Groups whose kinds Kubernetes itself defines; anything else is a CRD, which kubernetes-validate
# has no schema for.
BUILTIN_GROUP = re.compile(r"^(v1|[a-z]+/v\w+|[a-z.]+\.k8s\.io/v\w+)$")


def tool(name: str) -> Path:
    path = TOOLS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make k8s-tools` (it syncs k8s/tools from its uv.lock)")
    return path


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of k8s/ with freshly generated throwaway secrets."""
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns(".venv", "secrets"))
    subprocess.run([str(copy / "secrets.sh"), str(copy)], check=True, capture_output=True)
    return copy


@pytest.fixture(scope="module")
def rendered(tree, tmp_path_factory) -> dict[str, Path]:
    """overlay -> its rendered manifests, one file per overlay in one folder (checkov scans it)."""
    out = tmp_path_factory.mktemp("rendered")
    files = {}
    for overlay in OVERLAYS:
        done = subprocess.run(
            [str(tool("kubectl")), "kustomize", str(tree / "overlays" / overlay)], capture_output=True, text=True
        )
        assert done.returncode == 0, f"kubectl kustomize overlays/{overlay} failed:\n{done.stderr}"
        files[overlay] = out / f"{overlay}.yaml"
        files[overlay].write_text(done.stdout)
    return files


def objects(path: Path) -> list[dict]:
    return [o for o in yaml.safe_load_all(path.read_text()) if o]


def pod_specs(objs: list[dict]):
    for o in objs:
        if o["kind"] in WORKLOADS:
            yield o, o["spec"]["template"]["spec"]


def named(objs: list[dict], kind: str, name: str) -> dict:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert found, f"no {kind}/{name}"
    return found[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_whole_platform(rendered, overlay):
    objs = objects(rendered[overlay])
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
    for expected in [
        ("StatefulSet", "minio"),
        ("Job", "create-buckets"),
        ("StatefulSet", "postgres"),
        ("Deployment", "mlflow"),
        ("Job", "mlflow-users"),
        ("Deployment", "serving"),
        ("Service", "serving"),
        ("HorizontalPodAutoscaler", "serving"),
        ("NetworkPolicy", "default-deny"),
    ]:
        assert expected in kinds
    for o in objs:
        namespace = o["metadata"].get("namespace")
        assert o["kind"] == "Namespace" or namespace in ("corridos", "kubeflow"), o["metadata"]


def validate(manifest: Path) -> subprocess.CompletedProcess:
    """kubernetes-validate --strict against the cluster version the manifests target."""
    command = [str(tool("kubernetes-validate")), "--strict", "--kubernetes-version", KUBERNETES_VERSION, "--quiet"]
    return subprocess.run([*command, str(manifest)], capture_output=True, text=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes_1_32(rendered, overlay, tmp_path):
    builtin = [o for o in objects(rendered[overlay]) if BUILTIN_GROUP.match(o["apiVersion"])]
    assert builtin
    manifest = tmp_path / "builtin.yaml"
    manifest.write_text(yaml.safe_dump_all(builtin))
    done = validate(manifest)
    assert done.returncode == 0, f"kubernetes-validate rejected overlays/{overlay}:\n{done.stdout}{done.stderr}"


def test_strict_validation_rejects_an_unknown_field(rendered, tmp_path):
    """The control: the validator really is strict, so the test above can fail."""
    deployment = named(objects(rendered["dev"]), "Deployment", "serving")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(yaml.safe_dump(deployment))
    done = validate(manifest)
    assert done.returncode != 0 and "imagePullPolicyy" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def checkov(rendered) -> dict[str, dict]:
    """checkov over both overlays in one run (it takes half a minute): file name -> results."""
    folder = next(iter(rendered.values())).parent
    done = subprocess.run(
        [
            str(tool("checkov")),
            "--directory",
            str(folder),
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip(), f"checkov printed nothing (exit {done.returncode}):\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["summary"]["parsing_errors"] == 0
    results: dict[str, dict] = {overlay: {"passed": [], "failed": [], "skipped": []} for overlay in OVERLAYS}
    for outcome in ("passed", "failed", "skipped"):
        for check in report["results"][f"{outcome}_checks"]:
            results[Path(check["file_path"]).stem][outcome].append(check)
    return results


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing(checkov, overlay):
    results = checkov[overlay]
    failed = [f"{c['check_id']} {c['check_name']} on {c['resource']}" for c in results["failed"]]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert len(results["passed"]) > 100


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_skipped_check_says_why(checkov, overlay):
    for check in checkov[overlay]["skipped"]:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.split()) >= 5, f"{check['check_id']} on {check['resource']} is skipped without a reason"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_locked_down(rendered, overlay):
    """What checkov checks, asserted directly: a skipped check can never hide one of these."""
    for workload, spec in pod_specs(objects(rendered[overlay])):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] >= 10000, where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        for container in spec.get("initContainers", []) + spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{where}: {bound}"
            image = container["image"]
            assert re.search(r":[\w.-]+$", image.split("/")[-1]) and not image.endswith(":latest"), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_credentials_come_only_from_generated_secrets(rendered, overlay):
    for o in objects(rendered[overlay]):
        for _, spec in pod_specs([o]):
            for container in spec["containers"]:
                for variable in container.get("env", []):
                    name = variable["name"]
                    if re.search(r"PASSWORD|SECRET|ACCESS_KEY", name):
                        assert "valueFrom" in variable, f"{name} has a literal value in {o['metadata']['name']}"
    # No committed file holds a value: every secretGenerator reads a git-ignored env file.
    for kustomization in K8S.rglob("kustomization.yaml"):
        if ".venv" in kustomization.parts:
            continue
        for generator in (yaml.safe_load(kustomization.read_text()) or {}).get("secretGenerator", []):
            assert not generator.get("literals"), f"{kustomization}: literal secret values"
            for env in generator.get("envs", []) + generator.get("files", []):
                path = kustomization.parent / env
                ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPOSITORY)
                assert ignored.returncode == 0, f"{path} is not git-ignored"


def test_network_policies_allow_only_the_intended_flows(rendered):
    """Ingress peers per service, read from the policies: who may reach what."""
    objs = objects(rendered["gpu"])
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    deny = named(objs, "NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    pipeline = "kubeflow pipeline pods"

    def peer(p: dict) -> str:
        if "namespaceSelector" in p:
            namespace = p["namespaceSelector"]["matchLabels"]
            if namespace == {"kubernetes.io/metadata.name": "kubeflow"}:
                assert p["podSelector"]["matchLabels"] == {"pipelines.kubeflow.org/v2_component": "true"}
                return pipeline
            return f"namespaces {namespace}"
        return p["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name", "this namespace")

    allowed: dict[str, set[str]] = {}
    for policy in policies:
        target = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in policy["spec"].get("ingress", []):
            allowed.setdefault(target, set()).update(peer(p) for p in rule["from"])
    assert allowed == {
        "postgres": {"mlflow"},
        "minio": {"mlflow", "create-buckets", pipeline},
        "mlflow": {"serving", "mlflow-users", pipeline},
        "serving": {"this namespace", "namespaces {'corridos.io/serving-client': 'true'}"},
    }


def test_images_and_model_are_the_ones_the_code_names(rendered):
    images = cluster.Images()
    ours = {images.audio, images.train, images.light, images.serving}
    for overlay in OVERLAYS:
        objs = objects(rendered[overlay])
        for _, spec in pod_specs(objs):
            for container in spec["containers"]:
                if container["image"].startswith(images.registry):
                    assert container["image"] in ours
        serving = named(objs, "Deployment", "serving")["spec"]["template"]["spec"]["containers"][0]
        assert serving["image"] == images.serving
        env = {v["name"]: v.get("value") for v in serving["env"]}
        assert env["CORRIDOS_MODEL_NAME"] == cluster.REGISTERED_MODEL_NAME
        assert {p["httpGet"]["path"] for p in (serving["livenessProbe"], serving["readinessProbe"])} == {
            "/livez",
            "/readyz",
        }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pipeline_pods_find_what_the_pipeline_reads(rendered, overlay):
    """The ConfigMap and Secrets the compiled pipeline mounts, in KFP's namespace, with its keys."""
    objs = objects(rendered[overlay])
    expected = {
        ("ConfigMap", cluster.CONFIG_MAP): {"mlflow-tracking-uri", "s3-endpoint-url"},
        ("Secret", cluster.S3_SECRET): {"access-key-id", "secret-access-key"},
        ("Secret", cluster.MLFLOW_SECRET): {"username", "password"},
    }
    for (kind, name), keys in expected.items():
        found = named(objs, kind, name)
        assert found["metadata"]["namespace"] == "kubeflow"
        assert set(found["data"]) == keys and all(found["data"].values())


def test_gpu_overlay_puts_gpu_work_on_the_gpu_pool(rendered):
    gpu = objects(rendered["gpu"])
    check = named(gpu, "Job", "gpu-check")["spec"]["template"]["spec"]
    assert check["nodeSelector"] == dict([cluster.GPU_NODE_LABEL])
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in check["tolerations"]
    assert check["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert check["containers"][0]["image"] == cluster.Images().train
    assert "nvidia.com/gpu" not in rendered["dev"].read_text()


def test_kubeflow_pipelines_is_pinned():
    """k8s/kubeflow is remote (not rendered here): its references must name a release tag."""
    references = []
    for kustomization in (K8S / "kubeflow").rglob("kustomization.yaml"):
        references += yaml.safe_load(kustomization.read_text())["resources"]
    assert len(references) == 2
    for reference in references:
        assert re.fullmatch(
            r"github\.com/kubeflow/pipelines/manifests/kustomize/[\w/-]+\?ref=\d+\.\d+\.\d+", reference
        ), reference
