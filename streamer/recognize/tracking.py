"""Multi-object tracking of the detector's boxes, one tracker per camera, behind a small `Tracker` protocol.

The implementation is ByteTrack from Roboflow's ``trackers`` package (Apache-2.0), the maintained home of the
ByteTrack that ``supervision`` shipped until its 0.30 release (deprecated there since 0.28, removed in 0.31).
Why this package and this version range (``trackers>=2.1,<2.2``):

- ``supervision``'s own ``ByteTrack`` is deprecated and gone from current releases, and releases up to 0.29
  hard-require ``opencv-python``, which clashes with our ``opencv-python-headless`` (both install ``cv2``).
- ``trackers`` 2.2 and later also hard-require ``opencv-python`` (for features we do not use: camera-motion
  compensation, video reading); 2.1 needs only numpy, scipy and ``supervision`` (whose releases from 0.30 on no
  longer require OpenCV), and runs on the CPU without torch.
- ``norfair`` pins ``numpy<2``; ``boxmot`` needs torch. A hand-written tracker is what the project avoids.

ByteTrack associates every box, the low-scored ones in a second pass, so a vehicle whose score dips (occlusion,
blur) keeps its id. A new track gets an id once it has been seen in ``confirm_frames`` frames; until then, and for
low-scored boxes that match no track, the box's track id is -1 (not tracked). Tracks unseen for ``lost_frames``
detector frames are forgotten, which bounds the memory per camera.

Example:
    >>> trackers = CameraTrackers(TrackerSettings())  # doctest: +SKIP
    >>> tracked = trackers.update("gate", detections)  # doctest: +SKIP
    >>> tracked.track_ids  # doctest: +SKIP
    array([-1,  7,  8])
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from detectors.types import Detections
from streamer.recognize.settings import TrackerSettings

UNTRACKED = -1
"""Track id of a box that belongs to no confirmed track (yet)."""


class Tracker(Protocol):
    """Links one camera's boxes frame after frame."""

    def update(self, detections: Detections) -> Detections:
        """The next frame's boxes, returned in the same order with ``track_ids`` set (``UNTRACKED`` = -1: none)."""
        ...

    @property
    def track_count(self) -> int:
        """Tracks held in memory (confirmed or not, seen or lost)."""
        ...


class ByteTracker:
    """`Tracker` on ``trackers.ByteTrackTracker``, keeping the input order and the project's `Detections` type.

    Ids come from the library's process-wide counter: unique across cameras within a process, never reused.
    """

    def __init__(self, settings: TrackerSettings) -> None:
        # Imported here: the library pulls in supervision and scipy (about 1.5 s), needed only when tracking runs.
        from trackers import ByteTrackTracker  # type: ignore[import-untyped]

        self.settings = settings
        # frame_rate=30 makes the library's buffer exactly `lost_frames` frames (it scales it by frame_rate / 30).
        self._tracker: Any = ByteTrackTracker(
            lost_track_buffer=settings.lost_frames,
            frame_rate=30.0,
            track_activation_threshold=settings.activation_confidence,
            minimum_consecutive_frames=settings.confirm_frames,
            minimum_iou_threshold=settings.min_iou,
            high_conf_det_threshold=settings.high_confidence,
        )

    def update(self, detections: Detections) -> Detections:
        import supervision as sv

        n = len(detections)
        # The library reorders boxes and leaves some out: each carries its input index through it in `data`.
        boxes = sv.Detections(
            xyxy=detections.boxes.astype(np.float32, copy=False),
            confidence=detections.scores,
            class_id=detections.class_ids,
            data={"index": np.arange(n)},
        )
        tracked = self._tracker.update(boxes)
        track_ids: NDArray[np.int64] = np.full(n, UNTRACKED, np.int64)
        if len(tracked):
            index = np.asarray(tracked.data["index"], np.intp)
            track_ids[index] = np.asarray(tracked.tracker_id, np.int64)
        return detections.with_track_ids(track_ids)

    @property
    def track_count(self) -> int:
        return len(self._tracker.tracks)


def merge_duplicates(detections: Detections, iou: float) -> Detections:
    """Keeps the best-scored of boxes overlapping more than ``iou``, whatever their classes (order kept).

    Example:
        >>> boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 0, 30, 10]], np.float32)
        >>> scores, classes = np.array([0.9, 0.4, 0.8], np.float32), np.array([2, 7, 2], np.int32)
        >>> d = Detections(boxes, scores, classes, ("car", "truck", "car"))
        >>> merge_duplicates(d, 0.7).class_names
        ('car', 'car')
    """
    if len(detections) < 2 or iou >= 1.0:
        return detections
    boxes = detections.boxes
    xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), detections.scores.tolist(), 0.0, iou)
    mask = np.zeros(len(detections), np.bool_)
    mask[np.asarray(kept, np.intp).reshape(-1)] = True
    return detections if mask.all() else detections.filter(mask)


def make_tracker(settings: TrackerSettings) -> Tracker:
    """A tracker for one camera, of the configured algorithm."""
    return ByteTracker(settings)


class CameraTrackers:
    """One tracker per camera, made on the camera's first frame.

    Not for concurrent use on one camera: frames of a camera must be given in order (the recognize stage does).
    """

    def __init__(
        self,
        settings: TrackerSettings,
        factory: Callable[[TrackerSettings], Tracker] = make_tracker,
        per_camera: Callable[[str], TrackerSettings] | None = None,
    ) -> None:
        self.settings = settings
        self._factory = factory
        self._per_camera = per_camera
        self._trackers: dict[str, Tracker] = {}
        self._lock = threading.Lock()

    def prepare(self, camera_ids: Iterable[str]) -> None:
        """Makes the cameras' trackers now (at start), so the first frames do not wait for the library to load."""
        for camera_id in camera_ids:
            self._tracker(camera_id)

    def update(self, camera_id: str, detections: Detections) -> Detections:
        """Tracks the next frame of ``camera_id``: its boxes less cross-class duplicates, with ``track_ids`` set."""
        return self._tracker(camera_id).update(merge_duplicates(detections, self.settings.merge_iou))

    def _tracker(self, camera_id: str) -> Tracker:
        with self._lock:
            tracker = self._trackers.get(camera_id)
            if tracker is None:
                settings = self._per_camera(camera_id) if self._per_camera is not None else self.settings
                tracker = self._trackers[camera_id] = self._factory(settings)
            return tracker

    def track_count(self, camera_id: str) -> int:
        """Tracks the camera's tracker holds (0 before its first frame)."""
        tracker = self._trackers.get(camera_id)
        return 0 if tracker is None else tracker.track_count

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(self._trackers)


class OneViewTracks:
    """Tracking off: every box is a track of its own, seen once (so the flow is the same with tracking on or off).

    Ids count up from 1 per process; they are never reused, and alerts do not show them (there is no track to
    follow).
    """

    def __init__(self) -> None:
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def prepare(self, camera_ids: Iterable[str]) -> None:
        """Nothing to prepare: there is no tracker to load."""

    def update(self, camera_id: str, detections: Detections) -> Detections:  # noqa: ARG002 - same call as tracked
        """The boxes, each with a new track id."""
        with self._lock:
            ids = [next(self._next) for _ in range(len(detections))]
        return detections.with_track_ids(np.asarray(ids, np.int64).reshape(-1))

    def track_count(self, camera_id: str) -> int:  # noqa: ARG002 - same call as tracked
        return 0
