"""The cameras' adapted heads in the service: where the store is, the live store and its metrics."""

from __future__ import annotations

from pathlib import Path

from classifiers.adaptation.live import LiveAdaptations
from classifiers.adaptation.settings import AdaptationSettings
from streamer.service.metrics import Metrics

ADAPTED_SUBDIR = "adapted"


def adaptations_root(settings: AdaptationSettings) -> Path:
    """The adaptation store: ``classifiers.adaptation.dir``, else ``<data dir>/adapted``. The service, the review
    page's Adapt button and `vehiclewatch adapt` all read and publish here."""
    from redisbus.data_dir import default_data_dir

    return settings.dir if settings.dir is not None else default_data_dir() / ADAPTED_SUBDIR


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
