"""The cameras' adapted heads in the service: the live store and its metrics."""

from __future__ import annotations

from classifiers.adaptation.live import LiveAdaptations
from classifiers.adaptation.settings import AdaptationSettings
from streamer.service.metrics import Metrics


def open_adaptations(settings: AdaptationSettings, metrics: Metrics) -> LiveAdaptations | None:
    """The live per-camera adaptations with their metrics; None when ``classifiers.adaptation.enabled`` is false."""
    if not settings.enabled:
        return None
    from classifiers.adaptation.file import load_adaptation

    live = LiveAdaptations(
        settings.store_dir(),
        load_adaptation,
        reload_s=settings.reload_s,
        on_error=lambda camera: metrics.adaptation_load_errors.labels(camera).inc(),
    )
    metrics.watch_adaptations(lambda: {state.camera_id: state.version for state in live.states()})
    return live
