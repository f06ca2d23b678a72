"""What the recognise flow needs from the rest of the system, as protocols (the service plugs the real ones in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from classifiers.bank import CameraKeys, CropResults, TrackKeys
from detectors.types import Detections
from watchlists.alerts import Alert
from watchlists.track_events import TrackSummary


class CropClassifier(Protocol):
    """The crop classifiers (``classifiers.bank.ClassifierBank``): one batched call per model over many frames."""

    def __len__(self) -> int: ...

    def classify_boxes(
        self,
        items: Sequence[tuple[NDArray[np.uint8], Detections]],
        *,
        cameras: CameraKeys | None = None,
        tracks: TrackKeys | None = None,
    ) -> CropResults: ...


class AlertSink(Protocol):
    """Where alerts go (``watchlists.publisher.AlertPublisher``)."""

    def submit(self, alert: Alert, crop_bgr: NDArray[np.uint8] | None = None, timeout: float | None = None) -> bool: ...


class TrackEventSink(Protocol):
    """Where track summaries go (``watchlists.track_events.TrackEventPublisher``)."""

    def submit(self, event: TrackSummary, crop_bgr: NDArray[np.uint8] | None = None) -> bool: ...
