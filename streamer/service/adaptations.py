"""The cameras' adapted heads in the service: the live store, its metrics, and where it lives by default."""

from __future__ import annotations

from pathlib import Path

from classifiers.adaptation.live import LiveAdaptations
from classifiers.adaptation.settings import AdaptationSettings
from redisbus.data_dir import default_data_dir
from streamer.service.metrics import Metrics


def adaptations_root(settings: AdaptationSettings) -> Path:
    """The adaptation store's folder: ``classifiers.adaptation.dir``, else ``<data dir>/adapted``."""
    return settings.dir if settings.dir is not None else default_data_dir() / "adapted"


def open_adaptations(settings: AdaptationSettings, metrics: Metrics) -> LiveAdaptations | None:
    """The live per-camera adaptations with their metrics; None when ``classifiers.adaptation.enabled`` is false."""
    if not settings.enabled:
        return None
    from classifiers.adaptation.file import load_adaptation

    live = LiveAdaptations(
        adaptations_root(settings),
        load_adaptation,
        reload_s=settings.reload_s,
        on_error=lambda camera: metrics.adaptation_load_errors.labels(camera).inc(),
    )
    metrics.watch_adaptations(lambda: {state.camera_id: state.version for state in live.states()})
    return live
