"""The service's adapted heads on the dashboard: each camera's version in use, and files that failed to load."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest

from classifiers.adaptation.file import adaptation_bytes
from classifiers.adaptation.settings import AdaptationSettings
from classifiers.adaptation.store import AdaptationStore
from classifiers.adaptation.transform import HeadAdaptation
from streamer.service.adaptations import open_adaptations
from streamer.service.metrics import Metrics


def test_each_cameras_version_and_load_errors_are_exported(tmp_path: Path) -> None:
    head = HeadAdaptation(head="color", labels=("red", "green", "blue"), method="base", threshold=0.0)
    AdaptationStore(tmp_path).publish("gate", adaptation_bytes("gate", {"color": head}, {"created_by": "test"}))
    metrics = Metrics()
    live = open_adaptations(AdaptationSettings(dir=tmp_path, reload_s=0.01), metrics)
    assert live is not None
    assert live.for_camera("gate") is not None
    assert live.for_camera("yard") is None
    (tmp_path / "gate" / "CURRENT").write_text("v0009.npz\n")  # names a file that is not there
    live.reload_s = 0.0
    assert live.for_camera("gate") is not None  # the previous version stays
    text = generate_latest(metrics.registry).decode()
    assert 'vehiclewatch_camera_adaptation{camera="gate",version="v0001"} 1.0' in text
    assert 'vehiclewatch_camera_adaptation{camera="yard",version="base"} 1.0' in text
    assert 'vehiclewatch_adaptation_load_errors_total{camera="gate"} 1.0' in text


def test_adaptation_off_opens_nothing(tmp_path: Path) -> None:
    assert open_adaptations(AdaptationSettings(enabled=False, dir=tmp_path), Metrics()) is None
