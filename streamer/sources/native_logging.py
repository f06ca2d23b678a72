"""Keeps FFmpeg's and OpenCV's own log lines off stderr unless asked for.

FFmpeg (inside OpenCV) and OpenCV write their own lines straight to the process's stderr: a refused RTSP connection,
a ``401``, a missing ``moov`` atom, a read timeout each add two or three raw lines beside the service's own one-line
message, and in a long RTSP outage they were half of the log. The readers' messages already say what failed (and
after how long), so those lines are silenced by default:

* ``OPENCV_FFMPEG_LOGLEVEL=-8`` (``AV_LOG_QUIET``), read by OpenCV when it first opens a capture with FFmpeg;
* OpenCV's own log level set to errors only (``cv2.utils.logging``), which takes effect at once.

They are left as they are when the service logs at ``DEBUG`` (``log_level: DEBUG`` or ``VEHICLEWATCH_LOG_LEVEL``),
and a user's own ``OPENCV_FFMPEG_LOGLEVEL`` or ``OPENCV_LOG_LEVEL`` always wins.
"""

from __future__ import annotations

import logging
import os
import threading

import cv2

__all__ = ["quiet_native_logging"]

_FFMPEG_LEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
_OPENCV_LEVEL_ENV = "OPENCV_LOG_LEVEL"
_AV_LOG_QUIET = "-8"

_lock = threading.Lock()
_applied = False


def quiet_native_logging(verbose: bool | None = None) -> None:
    """Silences FFmpeg's and OpenCV's own lines, once per process; call before the first capture opens.

    Args:
        verbose: keep them; by default, whether the ``streamer.sources`` logger is enabled for ``DEBUG``.
    """
    global _applied  # once per process, like the native settings it changes
    with _lock:
        if _applied:
            return
        _applied = True
        if verbose is None:
            verbose = logging.getLogger("streamer.sources").isEnabledFor(logging.DEBUG)
        if verbose:
            return
        os.environ.setdefault(_FFMPEG_LEVEL_ENV, _AV_LOG_QUIET)
        if _OPENCV_LEVEL_ENV not in os.environ:
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
