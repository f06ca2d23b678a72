"""Metrics read at scrape time: the colour recogniser's per-camera levels."""

from __future__ import annotations

from prometheus_client import generate_latest

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
