"""Frame sources: OpenCV captures for files, RTSP, HTTP and webcams, with typed errors.

A source is opened by a :data:`SourceFactory` (``open_source`` in production, a fake in tests) and then read by one
camera reader thread; nothing else touches it, because ``cv2.VideoCapture`` is not thread-safe.

Errors are typed so the reader knows what to do:

* :class:`SourceError`: connection, open or read failure of a live source; retried with backoff.
* :class:`SourceEnded`: a video file reached its end and does not loop; the camera stops with reason ``ended``
  (``ended early ...`` when the file was shorter than its container declares).
* :class:`SourceFatalError`: a source that will not work by retrying (a file that is not a video); the camera stops.

Every message is redacted: no URL credentials appear in them, and states the real time an open or read took.
Damaged input (a file that ends before its declared length, a stream that opens but does not decode) is named by a
:class:`~streamer.sources.integrity.SourceFault` riding on the frame or the error that follows it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from common.redaction import redact_text
from streamer.sources.integrity import DeclaredLength, FaultKind, SourceFault, truncation_fault
from streamer.sources.liveness import probe_for
from streamer.sources.native_logging import quiet_native_logging
from streamer.sources.settings import CameraSettings, SourceKind

__all__ = [
    "FrameSource",
    "OpenCVSource",
    "SourceEnded",
    "SourceError",
    "SourceFactory",
    "SourceFatalError",
    "SourceFrame",
    "open_source",
]

logger = logging.getLogger(__name__)

_CAPTURE_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# A paced file never sleeps longer than this per frame, so a reader notices a stop request quickly.
_MAX_PACING_SLEEP_S = 1.0
# A paced file that falls this far behind its clock restarts the clock instead of bursting to catch up.
_MAX_PACING_LAG_S = 0.5


class _SourceOutcome(Exception):  # noqa: N818 -- the base of errors and of an outcome (SourceEnded)
    """Base of the sources' exceptions: a redacted message and, when the input was damaged, the fault."""

    def __init__(self, message: str, fault: SourceFault | None = None) -> None:
        super().__init__(message)
        self.fault = fault


class SourceError(_SourceOutcome):
    """A retryable failure: the source could not be opened or a read failed or timed out."""


class SourceEnded(_SourceOutcome):
    """A video file reached its end and is not looping (``fault`` is set when it ended early)."""


class SourceFatalError(_SourceOutcome):
    """A failure that retrying will not fix (e.g. a file that cannot be decoded)."""


@dataclass(frozen=True, slots=True, eq=False)
class SourceFrame:
    """One decoded image and where it sits in the stream.

    Attributes:
        image: BGR uint8 ``(H, W, 3)``.
        position_s: file time for videos, seconds since the source was opened for live sources.
        decode_s: seconds the read took (for live sources this includes waiting for the frame to arrive).
        fault: damage seen just before this frame (a looping file that ended early and started again).
    """

    image: NDArray[np.uint8]
    position_s: float
    decode_s: float
    fault: SourceFault | None = None


class FrameSource(Protocol):
    """What a camera reader needs from a source. Used from one thread only."""

    def read(self) -> SourceFrame:
        """Returns the next frame; raises SourceError, SourceEnded or SourceFatalError."""
        ...

    def release(self) -> None:
        """Frees the source; safe to call twice."""
        ...


SourceFactory = Callable[[CameraSettings], FrameSource]
"""Opens the source of a camera; raises SourceError (retryable) or SourceFatalError."""


class _CaptureOptionsGate:
    """Applies OPENCV_FFMPEG_CAPTURE_OPTIONS for the duration of an open.

    OpenCV reads that process-global variable when a capture opens. Opens that need the same value (the usual case:
    every RTSP camera on TCP) and opens that do not care (files, HTTP) run concurrently; an open that needs a
    different value waits until the opens in flight finish. The variable is only changed while no open is in flight,
    so no C-level ``getenv`` races with ``setenv``, and the user's own value is restored once all opens are done.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._applied: str | None = None
        self._saved: str | None = None

    @contextlib.contextmanager
    def applied(self, options: str | None) -> Iterator[None]:
        """Holds the gate with ``options`` in force; ``None`` accepts whatever is in force."""
        with self._cond:
            while self._active and options is not None and self._applied != options:
                self._cond.wait()
            if self._active == 0:
                self._saved = os.environ.get(_CAPTURE_OPTIONS_ENV)
                self._applied = None
            if options is not None and self._applied != options:
                # User options come first; ours override a duplicate key (FFmpeg keeps the last value).
                os.environ[_CAPTURE_OPTIONS_ENV] = f"{self._saved}|{options}" if self._saved else options
                self._applied = options
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0 and self._applied is not None:
                    if self._saved is None:
                        os.environ.pop(_CAPTURE_OPTIONS_ENV, None)
                    else:
                        os.environ[_CAPTURE_OPTIONS_ENV] = self._saved
                    self._applied = None
                self._cond.notify_all()


_CAPTURE_OPTIONS = _CaptureOptionsGate()


class OpenCVSource:
    """A ``cv2.VideoCapture`` with typed errors, looping and pacing for files, and stream positions.

    Args:
        capture: an opened capture (this object owns and releases it).
        settings: the camera's settings.
        reopen: opens a fresh capture; used when a looping file cannot seek back to its start.
    """

    def __init__(
        self,
        capture: cv2.VideoCapture,
        settings: CameraSettings,
        reopen: Callable[[], cv2.VideoCapture] | None = None,
    ) -> None:
        self._capture: cv2.VideoCapture | None = capture
        self._settings = settings
        self._kind = settings.kind
        self._reopen = reopen
        self._opened_at = time.monotonic()
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps: float | None = fps if 0.0 < fps < 1000.0 else None
        self._pace = self._kind is SourceKind.FILE and bool(settings.pace)
        self._clock_origin: float | None = None  # monotonic time at which position 0 is due (paced files)
        self._last_position = -1.0
        frames = float(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
        self._declared = DeclaredLength(round(frames) if frames > 0 else None, self.fps)
        self._pass_frames = 0  # frames decoded in this pass over a file (a looping file starts a new pass)
        self._pass_position: float | None = None  # position of the last of them

    def read(self) -> SourceFrame:
        """Decodes the next frame.

        Raises:
            SourceEnded: a non-looping file is at its end.
            SourceError: a live source's read failed or timed out.
            SourceFatalError: the source was released, or a looping file yields no frame after rewinding.
        """
        capture = self._capture
        if capture is None:
            raise SourceFatalError(f"camera {self._settings.id!r}: source already released")
        started = time.perf_counter()
        ok, decoded = capture.read()
        image = np.asarray(decoded, dtype=np.uint8) if ok else None
        fault: SourceFault | None = None
        if image is None:
            if self._kind.is_live:
                raise self._live_read_error(time.perf_counter() - started)
            fault = truncation_fault(self._pass_frames, self._pass_position, self._declared)
            if not self._settings.loop:
                raise SourceEnded(f"camera {self._settings.id!r}: end of {self._name}", fault)
            image = self._rewind()
            self._pass_frames = 0
        decode_s = time.perf_counter() - started
        position = self._position()
        if self._pace:
            self._sleep_until_due(position)
        self._last_position = position
        self._pass_frames += 1
        self._pass_position = position
        return SourceFrame(image=_as_bgr(image), position_s=position, decode_s=decode_s, fault=fault)

    def release(self) -> None:
        """Releases the capture; later reads raise SourceFatalError."""
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    @property
    def _name(self) -> str:
        return self._settings.redacted_source

    def _live_read_error(self, elapsed_s: float) -> SourceError:
        """The error of a failed live read, saying how long it took.

        A read that fails before its timeout is damaged input (a fault) when nothing decoded since the open, or when
        the server still answers its liveness probe (so the connection was not lost); else the connection was lost.
        """
        camera = f"camera {self._settings.id!r}"
        if elapsed_s >= self._settings.read_timeout_s * 0.9:
            return SourceError(f"{camera}: no frame from {self._name} within {elapsed_s:.1f} s (read timed out)")
        if self._pass_frames == 0:
            detail = f"{self._name} opened but delivered no decodable frame (read failed after {elapsed_s:.1f} s)"
            return SourceError(f"{camera}: {detail}", SourceFault(FaultKind.UNDECODABLE, detail))
        probe = probe_for(self._settings)
        if probe is not None and probe():
            # The server is there, so the connection was not lost: the data did not decode, or the server ended it.
            detail = (
                f"stream from {self._name} failed after {self._pass_frames} frames while its server still answers: "
                "undecodable data, or the server ended the stream"
            )
            return SourceError(f"{camera}: {detail}", SourceFault(FaultKind.UNDECODABLE, detail))
        return SourceError(
            f"{camera}: read from {self._name} failed after {elapsed_s:.1f} s "
            f"({self._pass_frames} frames since it opened): connection lost"
        )

    def _position(self) -> float:
        if self._kind.is_live or self._capture is None:
            return time.monotonic() - self._opened_at
        return max(0.0, float(self._capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0)

    def _rewind(self) -> NDArray[np.uint8]:
        assert self._capture is not None
        if self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
            ok, image = self._capture.read()
            if ok:
                return np.asarray(image, dtype=np.uint8)
        if self._reopen is not None:
            # Some containers cannot seek; opening the file again always starts at frame 0.
            self._capture.release()
            self._capture = self._reopen()
            ok, image = self._capture.read()
            if ok:
                return np.asarray(image, dtype=np.uint8)
        raise SourceFatalError(f"camera {self._settings.id!r}: no frame after rewinding {self._name}")

    def _sleep_until_due(self, position: float) -> None:
        now = time.monotonic()
        if self._clock_origin is None or position < self._last_position:
            self._clock_origin = now - position  # first frame or the file looped: restart the clock
        delay = self._clock_origin + position - now
        if delay < -_MAX_PACING_LAG_S:
            self._clock_origin = now - position
        elif delay > 0:
            time.sleep(min(delay, _MAX_PACING_SLEEP_S))


def _as_bgr(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    return image


def _open_ffmpeg(settings: CameraSettings) -> cv2.VideoCapture:
    kind = settings.kind
    # The one place the real URL is read (common.secrets): FFmpeg needs the credentials to connect.
    target = str(settings.file_path) if kind is SourceKind.FILE else settings.source.get_secret_value().strip()
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        round(settings.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        round(settings.read_timeout_s * 1000),
    ]
    options = (
        f"rtsp_transport;{settings.rtsp_transport}|analyzeduration;{round(settings.rtsp_analyze_s * 1_000_000)}"
        if kind is SourceKind.RTSP
        else None
    )
    started = time.monotonic()
    try:
        with _CAPTURE_OPTIONS.applied(options):
            capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    except cv2.error as error:
        raise SourceError(
            f"camera {settings.id!r}: OpenCV error opening {settings.redacted_source} "
            f"after {time.monotonic() - started:.1f} s: {redact_text(str(error)).strip()}"
        ) from None
    if capture.isOpened():
        return capture
    capture.release()
    if kind is SourceKind.FILE:
        # validate_source() ran at start-up, so the file exists (or vanished since): retrying will not help.
        raise SourceFatalError(f"camera {settings.id!r}: cannot decode video file {settings.redacted_source}")
    raise SourceError(
        f"camera {settings.id!r}: cannot open {settings.redacted_source}: "
        f"{_open_failure_reason(settings, time.monotonic() - started)}"
    )


def _open_failure_reason(settings: CameraSettings, elapsed_s: float) -> str:
    """Why a live open failed, in place of FFmpeg's own lines (silenced): the time it took and what a probe says."""
    if elapsed_s >= settings.open_timeout_s * 0.9:
        return f"no answer within the open timeout ({elapsed_s:.1f} s)"
    probe = probe_for(settings)
    if probe is None:
        return f"failed after {elapsed_s:.1f} s"
    if not probe():
        return f"server unreachable or refused the connection (failed after {elapsed_s:.1f} s)"
    return (
        f"the server answers but the stream did not open: wrong credentials or path, or no video? "
        f"(failed after {elapsed_s:.1f} s)"
    )


def _open_webcam(settings: CameraSettings) -> cv2.VideoCapture:
    source = settings.source.get_secret_value().strip()
    device: int | str = int(source) if source.isdigit() else source
    api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
    capture = cv2.VideoCapture(device, api)
    if capture.isOpened():
        return capture
    capture.release()
    # A webcam may be plugged in later: retryable.
    raise SourceError(f"camera {settings.id!r}: cannot open webcam {source}")


def open_source(settings: CameraSettings) -> OpenCVSource:
    """Opens a camera's source with OpenCV (FFmpeg for files, RTSP and HTTP; V4L2 for webcams on Linux).

    Open and read timeouts come from the settings; RTSP uses the configured transport.

    Raises:
        SourceError: a live source could not be opened (retryable).
        SourceFatalError: a video file cannot be opened or decoded.
    """
    quiet_native_logging()  # before the first capture opens: FFmpeg reads its log level then
    if settings.kind is SourceKind.WEBCAM:
        return OpenCVSource(_open_webcam(settings), settings)
    started = time.monotonic()
    capture = _open_ffmpeg(settings)
    source = OpenCVSource(capture, settings, reopen=lambda: _open_ffmpeg(settings))
    logger.info(
        "camera %s: opened %s (%s, %s fps) in %.2f s",
        settings.id,
        settings.redacted_source,
        settings.kind,
        f"{source.fps:.2f}" if source.fps else "unknown",
        time.monotonic() - started,
    )
    return source
