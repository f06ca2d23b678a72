"""Alerts and track events stamped with the worker id and the lease's fencing token of their camera.

A consumer keeps, per camera, the largest ``lease_token`` it has seen and drops messages with a smaller one: they
come from a worker that lost the camera (a stale owner's late messages). The sinks wrap the publishers, so the
publishers and the recognise flow stay unaware of the fleet.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from streamer.fleet.worker import Stamp
from streamer.recognize.ports import AlertSink, TrackEventSink
from watchlists.alerts import Alert
from watchlists.track_events import TrackSummary

StampOf = Callable[[str], Stamp | None]


class StampedAlerts:
    """An :class:`AlertSink` that stamps each alert before passing it on."""

    def __init__(self, sink: AlertSink, stamp_of: StampOf) -> None:
        self.sink = sink
        self.stamp_of = stamp_of

    def submit(self, alert: Alert, crop_bgr: NDArray[np.uint8] | None = None, timeout: float | None = None) -> bool:
        stamp = self.stamp_of(alert.camera_id)
        if stamp is not None:
            alert = alert.model_copy(update={"worker_id": stamp.worker_id, "lease_token": stamp.lease_token})
        return self.sink.submit(alert, crop_bgr, timeout)


class StampedTrackEvents:
    """A :class:`TrackEventSink` that stamps each track summary before passing it on."""

    def __init__(self, sink: TrackEventSink, stamp_of: StampOf) -> None:
        self.sink = sink
        self.stamp_of = stamp_of

    def submit(self, event: TrackSummary, crop_bgr: NDArray[np.uint8] | None = None) -> bool:
        stamp = self.stamp_of(event.camera_id)
        if stamp is not None:
            event = event.model_copy(update={"worker_id": stamp.worker_id, "lease_token": stamp.lease_token})
        return self.sink.submit(event, crop_bgr)
