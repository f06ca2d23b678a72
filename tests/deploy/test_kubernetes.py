"""deploy/kubernetes: every overlay renders offline with `kubectl kustomize`, and the rendered objects are valid
Kubernetes objects (kubernetes-validate's schemas, offline) with what a fleet needs: non-root workers with
/readyz readiness, the pod name as worker id, the Redis URL from a Secret, config from a ConfigMap, a PodMonitor
and a PrometheusRule; the GPU overlay requests nvidia.com/gpu on GPU nodes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import DEPLOY, defined_metrics, used_metrics

OVERLAYS = sorted(p.name for p in (DEPLOY / "kubernetes" / "overlays").iterdir() if p.is_dir())
KUBERNETES_VERSION = "1.32"


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (apt-get install kubectl)")
    path = DEPLOY / "kubernetes" / "overlays" / overlay
    result = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_there_are_cpu_and_gpu_overlays() -> None:
    assert OVERLAYS == ["cpu", "gpu"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_valid_objects(overlay: str) -> None:
    validate = pytest.importorskip("kubernetes_validate", reason="install the dev extra (kubernetes-validate)")
    objects = render(overlay)
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # Prometheus Operator resources: checked below, no schema in kubernetes-validate
        validate.validate(obj, KUBERNETES_VERSION, strict=True)
    kinds = by_kind(objects)
    worker = kinds[("StatefulSet", "vehiclewatch")]
    spec = worker["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["terminationGracePeriodSeconds"] >= 30
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"][:2] == ["run", "--worker"]
    env = {e["name"]: e for e in container["env"]}
    assert env["VEHICLEWATCH_FLEET__WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    secret_ref = env["VEHICLEWATCH_REDIS__URL"]["valueFrom"]["secretKeyRef"]
    assert (("Secret", secret_ref["name"])) in kinds
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["models"]["readOnly"] is True
    config_volume = next(v for v in spec["volumes"] if v["name"] == "config")
    config_map = kinds[("ConfigMap", config_volume["configMap"]["name"])]
    assert {"config.yaml", "watchlist.yaml"} <= set(config_map["data"])
    assert yaml.safe_load(config_map["data"]["config.yaml"])["metrics"]["host"] == "0.0.0.0"
    monitor = kinds[("PodMonitor", "vehiclewatch")]
    assert monitor["spec"]["selector"]["matchLabels"] == worker["spec"]["selector"]["matchLabels"]
    rules = kinds[("PrometheusRule", "vehiclewatch")]["spec"]["groups"][0]["rules"]
    assert {"VehiclewatchCameraDown", "VehiclewatchLatencyHigh", "VehiclewatchAlertsBackingUp"} <= {
        r["alert"] for r in rules
    }
    assert used_metrics(" ".join(r["expr"] for r in rules)) <= defined_metrics()
    resources = container["resources"]
    if overlay == "gpu":
        assert resources["limits"]["nvidia.com/gpu"] == 1
        assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert container["image"].endswith(":cuda")
    else:
        assert "nvidia.com/gpu" not in resources.get("limits", {})
        assert container["image"].endswith(":cpu")


def test_base_config_is_the_example_watchlist() -> None:
    base = DEPLOY / "kubernetes" / "base"
    assert (base / "watchlist.yaml").read_text() == (DEPLOY / "watchlist.example.yaml").read_text()
    assert Path(base / "config.yaml").is_file()
