"""The whole service on synthetic models and a generated video, against a real Redis and a real HTTP server."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import redis

from streamer.service.config import load_settings
from streamer.service.startup import StartupError
from streamer.service.wiring import Service
from tests.conftest import shared_path
from tests.streamer.scene import make_scene
from tests.synthetic_detector import write_corrupt_model
from watchlists.alerts import Alert
from watchlists.publisher import STREAM_FIELD_ALERT


def sample(service: Service, name: str, **labels: str) -> float:
    value = service.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def run_to_end(service: Service) -> None:
    service.start()
    try:
        assert service.wait(threading.Event()), "sources did not end"
    finally:
        service.stop()


def test_service_processes_every_frame_and_alerts_once_per_entry(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    scene = make_scene(tmp_path, frames=20, color="red")
    published: list[Alert] = []
    # Every frame classified on its own (tracking off): the per-track path is tested in test_track_recognizer.py.
    settings = scene.settings(redis_url, tracking={"enabled": False})
    service = Service(load_settings(None, settings), on_alert=published.append)
    run_to_end(service)

    assert sample(service, "vehiclewatch_frames_read_total", camera="cam1") == 20
    assert sample(service, "vehiclewatch_frames_detected_total", camera="cam1") == 20
    assert sample(service, "vehiclewatch_crops_classified_total") == 20
    # The cooldown lets one alert through per camera and entry; the blue entry never matches a red car.
    assert sample(service, "vehiclewatch_alerts_total", entry="red-car") == 1
    assert sample(service, "vehiclewatch_alerts_suppressed_total", entry="red-car") == 19
    assert sample(service, "vehiclewatch_alerts_total", entry="blue-car") == 0

    messages = redis_client.xrange("vehiclewatch:alerts")
    assert messages is not None
    assert len(messages) == 1
    (_, fields) = messages[0]
    assert fields is not None
    alert = Alert.from_json(fields[STREAM_FIELD_ALERT.encode()])
    assert alert == published[0]
    assert (alert.camera_id, alert.entry.id, alert.detector_class) == ("cam1", "red-car", "car")
    assert alert.classifications["color"][0].label == "red"
    assert alert.score > 0.9
    assert (alert.box.x1, alert.box.y1, alert.box.x2, alert.box.y2) == pytest.approx((8, 8, 56, 56), abs=1)
    assert alert.published_at is not None
    assert alert.published_at >= alert.captured_at
    assert alert.snapshot_key is not None
    snapshot = redis_client.get(alert.snapshot_key)
    assert isinstance(snapshot, bytes)
    assert 0 < redis_client.ttl(alert.snapshot_key) <= 3600
    crop = cv2.imdecode(np.frombuffer(snapshot, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None
    assert crop.shape[:2] == (48, 48)
    assert crop[..., 2].mean() > 200
    assert crop[..., 0].mean() < 60


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def test_metrics_and_health_pages_while_running(tmp_path: Path, redis_url: str) -> None:
    scene = make_scene(tmp_path, frames=10)
    settings = scene.settings(
        redis_url, cameras=[{"id": "cam1", "source": str(scene.video), "loop": True, "pace": True}]
    )
    service = Service(load_settings(None, settings))
    service.start()
    try:
        assert service.http is not None
        base = f"http://127.0.0.1:{service.http.port}"
        deadline = threading.Event()
        for _ in range(50):
            if sample(service, "vehiclewatch_alerts_total", entry="red-car") >= 1:
                break
            deadline.wait(0.1)
        status, text = http_get(base + "/metrics")
        assert status == 200
        assert 'vehiclewatch_frames_read_total{camera="cam1"}' in text
        assert 'vehiclewatch_alerts_total{entry="red-car"} 1.0' in text
        assert 'vehiclewatch_stream_up{camera="cam1"} 1.0' in text
        assert 'vehiclewatch_stage_seconds_count{stage="detect"}' in text
        status, text = http_get(base + "/readyz")
        assert status == 200
        assert json.loads(text)["cameras"] == {"cam1": "streaming"}
        assert http_get(base + "/nope")[0] == 404
    finally:
        service.stop()
    assert not service.health().ready


def _bad(scene_dir: Path, redis_url: str, what: str) -> dict[str, Any]:
    scene = make_scene(scene_dir, frames=3)
    settings = scene.settings(redis_url)
    if what == "missing video":
        settings["cameras"] = [{"id": "cam1", "source": str(scene_dir / "nope.mp4")}]
    elif what == "unreachable rtsp":
        settings["cameras"] = [{"id": "gate", "source": "rtsp://admin:hunter2@127.0.0.1:9/stream", "open_timeout_s": 2}]
    elif what == "corrupt detector":
        settings["detector"] = {"model": str(write_corrupt_model(scene_dir / "bad.onnx"))}
    elif what == "missing detector":
        settings["detector"] = {"model": str(scene_dir / "absent.onnx")}
    elif what == "unknown detector class":
        settings["detector"] = {"model": str(scene.detector), "classes": ["car", "spaceship"]}
    elif what == "invalid watchlist":
        bad = scene_dir / "bad_watchlist.yaml"
        bad.write_text("entries:\n  - id: x\n    colour: red\n")
        settings["watchlist"] = {"path": str(bad)}
    elif what == "fusion exponent of an unknown head":
        settings["tracking"] = {"fusion": {"head_exponents": {"colour": 0.1}}}
    return settings


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("missing video", "nope.mp4"),
        ("unreachable rtsp", "camera 'gate': cannot open rtsp://***:***@127.0.0.1:9/stream"),
        ("corrupt detector", "bad.onnx"),
        ("missing detector", "absent.onnx"),
        ("unknown detector class", "spaceship"),
        ("invalid watchlist", "colour"),
        ("fusion exponent of an unknown head", "head_exponents: no loaded classifier has a head 'colour'"),
    ],
)
def test_bad_input_fails_at_start_with_one_line(tmp_path: Path, redis_url: str, what: str, expected: str) -> None:
    service = Service(load_settings(None, _bad(tmp_path, redis_url, what)))
    with pytest.raises(StartupError) as error:
        service.start()
    message = str(error.value)
    assert expected in message
    assert "\n" not in message
    assert "hunter2" not in message
    assert message.count("gate") <= 1, message  # the camera is named once
    assert service.redis is None or not service.health().ready


@pytest.mark.shared
def test_the_detector_input_is_sized_to_the_cameras_frames(redis_url: str) -> None:
    """A 16:9 camera and the 640x640 export: the service runs the detector at 384x640 (detector.input_size auto)."""
    settings = {
        "cameras": [{"id": "highway", "source": str(shared_path("videos/anugoyal_traffic.mp4"))}],
        "detector": {"model": str(shared_path("models/yolov8n_640_dynbatch_dequant_fp32.onnx"))},
        "classifiers": {"models": []},
        "redis": {"url": redis_url},
        "metrics": {"enabled": False},
    }
    service = Service(load_settings(None, settings))
    run_to_end(service)
    assert service.pipeline is not None
    assert getattr(service.pipeline.detector, "input_size", None) == (384, 640)
    assert sample(service, "vehiclewatch_frames_detected_total", camera="highway") == 144


def test_tracks_fuse_with_the_calibration_files_fitted_exponents(tmp_path: Path, redis_url: str) -> None:
    """A calibration file that measured colour views as no better together than alone (exponent 0): the tracked
    alert carries the views' own colour confidence, not the one sharpened by the default exponent."""
    scene = make_scene(tmp_path, frames=40, color="red")  # long enough for a track to fuse views before alerting
    sharpened: list[Alert] = []
    run_to_end(Service(load_settings(None, scene.settings(redis_url)), on_alert=sharpened.append))
    calibration = tmp_path / "calibration.yaml"
    calibration.write_text("heads:\n  color: {method: none, agreement_exponent: 0.0}\n")
    classifiers = scene.settings(redis_url)["classifiers"] | {"calibration": str(calibration)}
    measured: list[Alert] = []
    service = Service(load_settings(None, scene.settings(redis_url, classifiers=classifiers)), on_alert=measured.append)
    run_to_end(service)

    assert service._recognizer is not None
    assert service._recognizer.settings.fusion.head_exponents == {"color": 0.0}
    assert len(sharpened) == len(measured) == 1
    assert measured[0].views_fused == sharpened[0].views_fused
    assert measured[0].views_fused is not None
    assert measured[0].views_fused > 1
    before, after = sharpened[0].classifications["color"][0], measured[0].classifications["color"][0]
    assert before.label == after.label == "red"
    assert after.prob < before.prob - 0.01
