"""Live camera previews drawn from frames the pipeline already decoded and detected: no second decoder, no copy and
no encoding unless someone watches.

The pipeline offers each detector batch (`offer`, on its detect thread): for a camera nobody watches that is one
dict lookup. For a watched camera the frame (a reference; the reader never writes into a frame it handed over) and
its boxes are kept as the camera's latest. Each viewer's stream (`next_jpeg`, on a web worker thread) draws the boxes
and encodes JPEG at most `fps` times a second, so the cost is paid per viewer at a few frames per second, never on
the pipeline's thread.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from streamer.recognize.batch import DetectedBatch


@dataclass(frozen=True, slots=True)
class _Latest:
    seq: int
    image: NDArray[np.uint8]
    boxes: NDArray[np.float32]
    names: tuple[str, ...]


class PreviewHub:
    """Latest detected frame per watched camera."""

    def __init__(self, max_side: int = 640, jpeg_quality: int = 70) -> None:
        self.max_side = max_side
        self.jpeg_quality = jpeg_quality
        self._watchers: Counter[str] = Counter()
        self._latest: dict[str, _Latest] = {}
        self._seq = 0
        self._changed = threading.Condition()
        self.offered_frames = 0
        """Frames kept for viewers so far (0 while nobody watches: the cost of an unwatched camera)."""

    @contextmanager
    def watching(self, camera_id: str) -> Iterator[None]:
        with self._changed:
            self._watchers[camera_id] += 1
        try:
            yield
        finally:
            with self._changed:
                self._watchers[camera_id] -= 1
                if self._watchers[camera_id] <= 0:
                    del self._watchers[camera_id]
                    self._latest.pop(camera_id, None)

    def watchers(self, camera_id: str) -> int:
        return self._watchers.get(camera_id, 0)

    def offer(self, batch: DetectedBatch) -> None:
        """Called by the pipeline with every detector batch."""
        if not self._watchers:
            return
        with self._changed:
            for item in batch.frames:
                camera = item.frame.camera_id
                if camera in self._watchers:
                    self._seq += 1
                    self.offered_frames += 1
                    found = item.detections
                    self._latest[camera] = _Latest(self._seq, item.frame.image, found.boxes.copy(), found.class_names)
            self._changed.notify_all()

    def next_jpeg(self, camera_id: str, after: int, timeout: float) -> tuple[int, bytes] | None:
        """The camera's first frame newer than ``after``, annotated, as JPEG; None if none came in ``timeout``."""
        with self._changed:
            ready = self._changed.wait_for(
                lambda: (latest := self._latest.get(camera_id)) is not None and latest.seq > after, timeout
            )
            if not ready:
                return None
            latest = self._latest[camera_id]
        return latest.seq, self._encode(latest)

    def _encode(self, latest: _Latest) -> bytes:
        image = latest.image
        scale = min(1.0, self.max_side / max(image.shape[:2]))
        picture = cv2.resize(image, None, fx=scale, fy=scale) if scale < 1.0 else image.copy()
        for box, name in zip((latest.boxes * scale).astype(int), latest.names, strict=True):
            cv2.rectangle(picture, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), (0, 255, 0), 2)
            cv2.putText(picture, name, (int(box[0]), max(int(box[1]) - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (0, 255, 0), 1)  # fmt: skip
        ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return bytes(data)
