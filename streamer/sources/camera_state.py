"""A camera's life as the rest of the service sees it: states, the legal changes between them, counters, events.

Apart from :mod:`streamer.sources.camera` (the reader thread), so that what watches a camera (metrics, health,
the service) depends on these small types only, and the transition table can be read and tested on its own.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AvailabilityTracker",
    "CameraObserver",
    "CameraState",
    "CameraStateChange",
    "CameraStateMachine",
    "CameraStats",
    "InvalidTransitionError",
    "NullObserver",
    "ReconnectReason",
]


class CameraState(enum.StrEnum):
    """Where a camera reader is in its life."""

    NOT_STARTED = "not_started"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


_S = CameraState
ALLOWED_TRANSITIONS: Mapping[CameraState, frozenset[CameraState]] = MappingProxyType(
    {
        _S.NOT_STARTED: frozenset({_S.CONNECTING, _S.STOPPED}),
        _S.CONNECTING: frozenset({_S.STREAMING, _S.RECONNECTING, _S.STOPPED}),
        _S.STREAMING: frozenset({_S.RECONNECTING, _S.STOPPED}),
        _S.RECONNECTING: frozenset({_S.CONNECTING, _S.STOPPED}),
        _S.STOPPED: frozenset(),
    }
)
"""Every legal state change, in one place. ``connecting -> stopped`` covers a file with no frame or a failed open."""


@dataclass(frozen=True, slots=True)
class CameraStateChange:
    """One state change of a camera, as observers receive it.

    Attributes:
        camera_id: the camera's id.
        previous: the state it left.
        state: the state it entered.
        reason: why (redacted): ``streaming``, an error message, ``ended``, ``stopped`` ...
        at: wall-clock time (``time.time()``) of the change.
    """

    camera_id: str
    previous: CameraState
    state: CameraState
    reason: str
    at: float


class AvailabilityTracker:
    """Tells which state changes are news for a dashboard: a camera came up, went down, or stopped.

    A camera that keeps failing goes ``connecting -> reconnecting`` on every retry; only the first of those (since
    it last streamed, or since start) is news. Thread-safe: readers of several cameras report here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._up: dict[str, bool] = {}
        self._stopped: set[str] = set()

    def is_news(self, change: CameraStateChange) -> bool:
        """Whether ``change`` changes what was last reported about its camera (and records it)."""
        if change.state is CameraState.STREAMING:
            up = True
        elif change.state in (CameraState.RECONNECTING, CameraState.STOPPED):
            up = False
        else:
            return False
        with self._lock:
            if change.state is CameraState.STOPPED:
                first_stop = change.camera_id not in self._stopped
                self._stopped.add(change.camera_id)
                self._up[change.camera_id] = False
                return first_stop
            before = self._up.get(change.camera_id)
            self._up[change.camera_id] = up
            return before != up


class InvalidTransitionError(RuntimeError):
    """A state change that :data:`ALLOWED_TRANSITIONS` does not list (a bug in the reader)."""


class ReconnectReason(enum.StrEnum):
    """Why a camera reconnects (a small, fixed set, fit for a metric label)."""

    ERROR = "error"
    """The source failed to open or a read failed or timed out."""
    STALLED = "stalled"
    """The watchdog saw no frame for ``stall_timeout_s``."""


class CameraStateMachine:
    """The state of one camera, changed only along :data:`ALLOWED_TRANSITIONS`, under a lock."""

    def __init__(self, camera_id: str) -> None:
        self._camera_id = camera_id
        self._lock = threading.Lock()
        self._state = CameraState.NOT_STARTED
        self._reason = ""

    @property
    def state(self) -> CameraState:
        """The current state."""
        with self._lock:
            return self._state

    @property
    def reason(self) -> str:
        """Why the last transition happened (redacted), e.g. ``ended`` or an error message."""
        with self._lock:
            return self._reason

    def transition(self, to: CameraState, reason: str = "") -> CameraState:
        """Moves to ``to``.

        Returns:
            The previous state.

        Raises:
            InvalidTransitionError: ``to`` is not reachable from the current state.
        """
        with self._lock:
            previous = self._state
            if to not in ALLOWED_TRANSITIONS[previous]:
                raise InvalidTransitionError(f"camera {self._camera_id!r}: cannot go from {previous} to {to}")
            self._state = to
            self._reason = reason
            return previous


@dataclass(frozen=True, slots=True)
class CameraStats:
    """A snapshot of one camera reader.

    Attributes:
        camera_id: the camera's id.
        source: the camera's source with credentials redacted.
        state: the reader's state.
        state_reason: why it entered that state (``ended``, ``stopped``, ``failed: ...``, an error), redacted.
        frames_read: frames decoded since start (over all reconnects).
        frames_sent: frames accepted by the buffer.
        frames_skipped: frames decoded but not sent on because of ``detect_fps``.
        frames_dropped: frames lost at the buffer (full or closed), over all causes.
        restarts: reconnects so far (after errors and watchdog restarts).
        last_frame_at: wall-clock time of the last decoded frame, ``None`` before the first.
        last_error: the last error message, redacted, ``None`` if there was none.
        faults: damaged input seen (a file that ended early, a stream that did not decode).
    """

    camera_id: str
    source: str
    state: CameraState
    state_reason: str
    frames_read: int
    frames_sent: int
    frames_skipped: int
    frames_dropped: int
    restarts: int
    last_frame_at: float | None
    last_error: str | None
    faults: int = 0


class CameraObserver(Protocol):
    """Receives a camera reader's events (e.g. to update metrics).

    Methods are called from reader and watchdog threads, some under the reader's lock: they must be quick, must
    not raise and must not stop or restart the reader. Reading the reader's ``state`` or ``stats`` is fine.
    """

    def on_state(self, change: CameraStateChange) -> None:
        """The camera changed state."""

    def on_frame_read(self, camera_id: str, decode_seconds: float) -> None:
        """A frame was decoded in ``decode_seconds`` (for live sources this includes waiting for it)."""

    def on_frame_skipped(self, camera_id: str) -> None:
        """A decoded frame was not sent on because of ``detect_fps``."""

    def on_frame_dropped(self, camera_id: str, cause: str) -> None:
        """A frame was lost at the buffer; ``cause`` is a :class:`~streamer.sources.buffers.DropCause` value."""

    def on_reconnect(self, camera_id: str, reason: str) -> None:
        """The camera is reconnecting; ``reason`` is a :class:`ReconnectReason` value."""

    def on_fault(self, camera_id: str, kind: str) -> None:
        """The camera's input was damaged; ``kind`` is a :class:`~streamer.sources.integrity.FaultKind` value."""


class NullObserver:
    """An observer that ignores every event."""

    def on_state(self, change: CameraStateChange) -> None:
        """Ignored."""

    def on_frame_read(self, camera_id: str, decode_seconds: float) -> None:
        """Ignored."""

    def on_frame_skipped(self, camera_id: str) -> None:
        """Ignored."""

    def on_frame_dropped(self, camera_id: str, cause: str) -> None:
        """Ignored."""

    def on_reconnect(self, camera_id: str, reason: str) -> None:
        """Ignored."""

    def on_fault(self, camera_id: str, kind: str) -> None:
        """Ignored."""
