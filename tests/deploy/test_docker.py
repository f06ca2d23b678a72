"""The Docker images and the compose file, checked statically (no container engine on the CI machines): non-root
images with a /readyz health check, models mounted read-only, a drain period on stop, and a Grafana dashboard that
uses the provisioned data source and only metrics the service defines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import DEPLOY, ROOT, defined_metrics, used_metrics

DOCKER = DEPLOY / "docker"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        stages[-1].append((word.upper(), rest.strip()))
    return stages[-1]


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_images_run_as_non_root_with_a_readiness_check(name: str) -> None:
    final = instructions(DOCKER / name)
    users = [args for word, args in final if word == "USER"]
    assert users, f"{name}: no USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    [check] = [args for word, args in final if word == "HEALTHCHECK"]
    assert "/readyz" in check
    assert ("STOPSIGNAL", "SIGTERM") in final
    assert any(word == "ENTRYPOINT" and "vehiclewatch" in args for word, args in final)
    cmd = next(args for word, args in final if word == "CMD")
    assert json.loads(cmd)[:2] == ["run", "--worker"]
    # what the image copies exists in the repository (the build context is its root)
    for word, args in instructions(DOCKER / name) + [(w, a) for w, a in final]:
        if word == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"{name}: COPY {source}: not in the repository"


def test_cuda_image_gets_the_gpu_libraries_from_pip_wheels() -> None:
    text = (DOCKER / "Dockerfile.cuda").read_text()
    assert re.search(r"^FROM nvidia/cuda:[\d.]+-runtime-", text, re.M)
    for wheel in ("nvidia-cudnn-cu12", "tensorrt-cu12-libs"):
        assert wheel in text
    assert "HOME=/var/lib/vehiclewatch" in text  # the TensorRT engine cache lands on the data volume


def test_compose_file() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"redis", "worker-1", "worker-2", "prometheus", "grafana"} <= set(services)
    worker_ids = []
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        assert worker["stop_grace_period"] == "30s"
        assert worker["environment"]["VEHICLEWATCH_REDIS__URL"].startswith("redis://redis:")
        assert "/models:ro" in " ".join(worker["volumes"])
        assert worker["command"][:2] == ["run", "--worker"]
        worker_ids.append(worker["command"][worker["command"].index("--worker-id") + 1])
        for volume in worker["volumes"]:
            host = volume.split(":")[0]
            if host.startswith("."):
                assert (DOCKER / host).exists(), f"{name}: {host} does not exist"
    assert len(set(worker_ids)) == 2  # two workers never share an id
    # A camera's adapted heads are found on whichever worker reads it: one store, shared, where the config says.
    config = yaml.safe_load((DOCKER / "config.yaml").read_text())
    store = config["classifiers"]["adaptation"]["dir"]
    for name in ("worker-1", "worker-2"):
        assert f"adapted:{store}" in [v.split("   ")[0].strip() for v in services[name]["volumes"]]
    assert "adapted" in compose["volumes"]
    assert store in (DOCKER / "Dockerfile").read_text()  # created for the service's user
    prometheus = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert sorted(targets) == ["worker-1:9108", "worker-2:9108"]


def test_config_of_the_workers_is_valid() -> None:
    from streamer.service.config import load_settings

    for path in (DOCKER / "config.yaml", DEPLOY / "kubernetes" / "base" / "config.yaml"):
        settings = load_settings(path)
        assert settings.fleet.worker
        assert settings.metrics.host == "0.0.0.0"


def test_grafana_dashboard_uses_the_provisioned_datasource_and_defined_metrics() -> None:
    [datasource] = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/provider.yml").read_text())["providers"][0]
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    dashboard = json.loads((DOCKER / "grafana/dashboards/vehiclewatch.json").read_text())
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("per camera", "dropped", "latency", "alerts", "owned"):
        assert topic in titles
    exprs = []
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"]
            exprs.append(target["expr"])
    latency = " ".join(e for e in exprs if "end_to_end" in e)
    assert "histogram_quantile(0.5" in latency
    assert "histogram_quantile(0.99" in latency
    used = used_metrics(" ".join(exprs))
    assert used
    assert used <= defined_metrics(), f"not defined in streamer/service/metrics.py: {used - defined_metrics()}"


def test_alert_rules_use_defined_metrics() -> None:
    rules = yaml.safe_load((DOCKER / "alert-rules.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    assert {"VehiclewatchCameraDown", "VehiclewatchLatencyHigh", "VehiclewatchAlertsBackingUp"} <= names
    used = used_metrics(" ".join(rule["expr"] for rule in rules))
    assert used <= defined_metrics(), used - defined_metrics()
