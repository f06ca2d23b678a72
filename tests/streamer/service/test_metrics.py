"""Metrics read at scrape time: the colour recogniser's per-camera levels."""

from __future__ import annotations

from prometheus_client import generate_latest

from classifiers.color.camera_adapt import CameraAdapters
from streamer.service.metric_hooks import camera_levels_source
from streamer.service.metrics import Metrics


def test_camera_levels_are_read_at_each_scrape() -> None:
    metrics = Metrics()
    levels: dict[str, tuple[int, float, float]] = {}
    metrics.watch_camera_levels(lambda: levels)
    assert metrics.registry.get_sample_value("vehiclewatch_camera_color_tracks", {"camera": "cam1"}) is None
    levels["cam1"] = (12, 41.5, 201.0)
    sample = metrics.registry.get_sample_value
    assert sample("vehiclewatch_camera_color_levels", {"camera": "cam1", "level": "black"}) == 41.5
    assert sample("vehiclewatch_camera_color_levels", {"camera": "cam1", "level": "white"}) == 201.0
    assert sample("vehiclewatch_camera_color_tracks", {"camera": "cam1"}) == 12
    assert b"vehiclewatch_camera_color_levels" in generate_latest(metrics.registry)


def test_only_the_cameras_read_now_export_their_levels() -> None:
    adapters = CameraAdapters(None)
    adapters.adapter("kept").add_levels(10.0, 200.0, track=1)
    adapters.adapter("handed-over").add_levels(40.0, 180.0, track=1)
    reading = ["kept"]
    metrics = Metrics()
    metrics.watch_camera_levels(camera_levels_source(adapters, lambda: reading))
    sample = metrics.registry.get_sample_value
    assert sample("vehiclewatch_camera_color_tracks", {"camera": "kept"}) == 1
    assert sample("vehiclewatch_camera_color_tracks", {"camera": "handed-over"}) is None  # its new owner exports it
    reading.append("handed-over")  # claimed again: its levels were kept
    assert sample("vehiclewatch_camera_color_levels", {"camera": "handed-over", "level": "black"}) == 40.0
