"""The stall watchdog: one thread, apart from the camera readers, that restarts a camera whose source stalled.

A stalled read cannot be interrupted safely (``cv2.VideoCapture`` is not thread-safe, so releasing it from another
thread while a read runs risks a crash). The watchdog therefore only asks each reader to check itself
(:meth:`~streamer.sources.camera.CameraReader.check_stall`): a stalled reader *abandons* its blocked thread and
starts a fresh one that reconnects. Keeping the clock apart from the readers means a reader blocked in a read is
still noticed, and one watchdog serves every camera.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from common.redaction import redact_text
from streamer.sources.camera import CameraReader

__all__ = ["CameraWatchdog"]

logger = logging.getLogger(__name__)


class CameraWatchdog:
    """A thread, apart from the readers, that restarts cameras whose source stalled.

    Args:
        readers: the readers to watch.
        interval_s: seconds between checks; by default a quarter of the smallest ``stall_timeout_s``, at most 1 s.
    """

    def __init__(self, readers: Sequence[CameraReader], interval_s: float | None = None) -> None:
        self._readers = list(readers)
        self._readers_lock = threading.Lock()
        if interval_s is None:
            smallest = min((reader.settings.stall_timeout_s for reader in self._readers), default=4.0)
            interval_s = min(1.0, smallest / 4)
        if interval_s <= 0:
            raise ValueError(f"watchdog interval must be positive, got {interval_s}")
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0

    def add(self, reader: CameraReader) -> None:
        """Watches one more reader (a fleet worker's camera, started while running)."""
        with self._readers_lock:
            self._readers.append(reader)

    def remove(self, reader: CameraReader) -> None:
        """Stops watching a reader (its camera was stopped)."""
        with self._readers_lock:
            if reader in self._readers:
                self._readers.remove(reader)

    def check(self, now: float | None = None) -> list[str]:
        """Checks every reader once; returns the ids of the cameras restarted."""
        restarted = []
        with self._readers_lock:
            readers = list(self._readers)
        for reader in readers:
            try:
                if reader.check_stall(now):
                    restarted.append(reader.camera_id)
            except Exception as error:  # one camera's trouble must not stop the watchdog for the others
                logger.error("camera %s: watchdog check failed: %s", reader.camera_id, redact_text(repr(error)))
        self.restarts += len(restarted)
        return restarted

    def start(self) -> None:
        """Starts the watchdog thread."""
        if self._thread is not None:
            raise RuntimeError("watchdog already started")
        self._thread = threading.Thread(target=self._loop, name="camera-watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stops the watchdog thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.check()
