"""Camera readers: one thread per camera, an explicit state machine, reconnects with backoff and jitter.

A :class:`CameraReader` opens its source through a factory, decodes frames, decimates them to ``detect_fps`` by
stream position and puts them on its :class:`~streamer.sources.buffers.FrameBuffer`. Connection errors
(:class:`~streamer.sources.backends.SourceError`) are retried in the background with exponential backoff and
full jitter, so a dead camera never holds up the others. While it waits, a cheap liveness probe
(:mod:`streamer.sources.liveness`) asks the camera's server every half second whether it answers again, so a
camera resumes within a couple of seconds of its server's return however far the backoff grew. Its states and the
legal changes between them are :mod:`streamer.sources.camera_state`'s.

A :class:`~streamer.sources.watchdog.CameraWatchdog` thread, apart from the readers, calls
:meth:`CameraReader.check_stall`, which restarts a camera whose source has not delivered a frame for
``stall_timeout_s``. A stalled read cannot be interrupted safely (``cv2.VideoCapture`` is not thread-safe), so the
reader *abandons* the stalled thread: it bumps its generation and starts a fresh thread that reconnects; the old
thread, when its read finally returns (reads have a timeout), sees it is stale, releases its own capture and exits
without touching the buffer or the state. A read that returns only after its timeout does not count as a frame for
the watchdog: on a frozen RTSP server OpenCV hands out a late frame after each read timeout, which used to reset
the stall clock every ``read_timeout_s`` so the watchdog never fired.

Damaged input (:class:`~streamer.sources.integrity.SourceFault`) is logged as a warning once per camera and kind,
and counted on every occurrence.

Counters and states go to a :class:`~streamer.sources.camera_state.CameraObserver` (metrics live elsewhere; this
module does not import Prometheus).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Iterator

from common.redaction import redact_text
from streamer.sources.backends import (
    FrameSource,
    SourceEnded,
    SourceError,
    SourceFactory,
    SourceFatalError,
    open_source,
)
from streamer.sources.buffers import DropCause, FrameBuffer
from streamer.sources.camera_state import (
    CameraObserver,
    CameraState,
    CameraStateChange,
    CameraStateMachine,
    CameraStats,
    NullObserver,
    ReconnectReason,
)
from streamer.sources.decimation import FrameDecimator
from streamer.sources.frames import Frame
from streamer.sources.integrity import FaultKind, SourceFault
from streamer.sources.liveness import RetryOutcome, backoff_delay, probe_for, wait_before_retry
from streamer.sources.native_logging import quiet_native_logging
from streamer.sources.settings import CameraSettings

# The reader's own API, and the types it hands out (re-exported: callers of the reader need no second import).
__all__ = [
    "CameraObserver",
    "CameraReader",
    "CameraState",
    "CameraStats",
    "FrameDecimator",
    "NullObserver",
    "ReconnectReason",
    "backoff_delay",
]

logger = logging.getLogger(__name__)

# A put on a full "block" buffer wakes this often to see whether the reader was stopped or abandoned.
_PUT_POLL_S = 0.5
# A read that took this share of read_timeout_s or more hit the timeout: its frame is late, not a sign of life.
_TIMED_OUT_SHARE = 0.9


class CameraReader:
    """Reads one camera on its own thread and puts its frames on a buffer.

    Args:
        settings: the camera's settings.
        buffer: where frames go; the reader closes it when it stops (so a pipeline knows no more frames come).
        observer: receives state changes and counters; :class:`NullObserver` when ``None``.
        source_factory: opens the source; :func:`~streamer.sources.backends.open_source` by default.
        rng: random source for backoff jitter.
    """

    def __init__(
        self,
        settings: CameraSettings,
        buffer: FrameBuffer,
        observer: CameraObserver | None = None,
        *,
        source_factory: SourceFactory = open_source,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.buffer = buffer
        self._observer: CameraObserver = observer if observer is not None else NullObserver()
        self._factory = source_factory
        self._rng = rng if rng is not None else random.Random()
        self._id = settings.id
        self._machine = CameraStateMachine(settings.id)
        # Guards everything below; re-entrant so observers may read stats from a callback.
        self._lock = threading.RLock()
        self._stop_requested = threading.Event()
        self._generation = 0  # bumped to abandon the running thread (watchdog restart, stop)
        self._thread: threading.Thread | None = None
        self._in_source_since: float | None = None  # monotonic time the current open/read began
        self._in_source_limit_s = 0.0
        self._failures_in_a_row = 0  # toward max_restarts
        self._backoff_attempt = 0  # grows the backoff; restarts when the server answers again after an outage
        self._probe = probe_for(settings)
        self._live = settings.kind.is_live  # a paced file's read sleeps, by design: never "late"
        self._faults = 0
        self._down_since: float | None = None  # monotonic time the camera last stopped streaming
        self._warned_faults: set[FaultKind] = set()
        self._frames_read = 0
        self._frames_sent = 0
        self._frames_skipped = 0
        self._frames_dropped = 0
        self._restarts = 0
        self._last_frame_at: float | None = None
        self._last_error: str | None = None

    @property
    def camera_id(self) -> str:
        """The camera's id."""
        return self._id

    @property
    def state(self) -> CameraState:
        """The reader's current state."""
        return self._machine.state

    @property
    def stats(self) -> CameraStats:
        """A consistent snapshot of the reader's counters and state."""
        with self._lock:
            return CameraStats(
                camera_id=self._id,
                source=self.settings.redacted_source,
                state=self._machine.state,
                state_reason=self._machine.reason,
                frames_read=self._frames_read,
                frames_sent=self._frames_sent,
                frames_skipped=self._frames_skipped,
                frames_dropped=self._frames_dropped,
                restarts=self._restarts,
                last_frame_at=self._last_frame_at,
                last_error=self._last_error,
                faults=self._faults,
            )

    def start(self) -> None:
        """Starts the reader thread (it connects in the background).

        Raises:
            RuntimeError: the reader was already started.
        """
        with self._lock:
            if self._generation != 0:
                raise RuntimeError(f"camera {self._id!r}: reader already started")
            quiet_native_logging()  # here, before any reader thread opens a capture
            self._generation = 1
            self._spawn(self._generation, delay_s=0.0)

    def stop(self, timeout: float = 2.0) -> bool:
        """Stops the reader and closes its buffer; returns promptly even if the thread is blocked in a read or put.

        A thread still blocked in a read after ``timeout`` is abandoned: it releases its source and exits when the
        read returns (reads time out after ``read_timeout_s``).

        Returns:
            Whether the reader thread has exited.
        """
        with self._lock:
            self._generation += 1
            self._stop_requested.set()
            self._in_source_since = None
            if self._machine.state is not CameraState.STOPPED:
                self._set_state(CameraState.STOPPED, "stopped")
            thread = self._thread
        self.buffer.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def check_stall(self, now: float | None = None) -> bool:
        """Watchdog check: restarts the camera if its current open or read has blocked too long.

        A read may block for ``stall_timeout_s``; an open for ``open_timeout_s + stall_timeout_s`` (the open has
        its own timeout). Time spent waiting on a full ``block`` buffer is back-pressure, not a stall. Restarts
        are spaced by at least that limit plus the reconnect backoff, because the new thread's clock starts when
        it begins its own open.

        Args:
            now: ``time.monotonic()`` now (tests pass their own).

        Returns:
            Whether the camera was restarted (or gave up, when ``max_restarts`` is reached).
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            since = self._in_source_since
            if since is None or self._stop_requested.is_set():
                return False
            blocked_s = now - since
            if blocked_s < self._in_source_limit_s:
                return False
            message = f"no frame for {blocked_s:.1f} s (stalled source)"
            logger.warning("camera %s: %s; abandoning the blocked read and reconnecting", self._id, message)
            self._generation += 1  # the blocked thread is now stale and will exit when its call returns
            self._in_source_since = None
            delay = self._register_failure(message, ReconnectReason.STALLED)
            if delay is not None:
                self._spawn(self._generation, delay)
            return True

    # -- reader thread -------------------------------------------------------------------------------------------

    def _spawn(self, generation: int, delay_s: float) -> None:
        thread = threading.Thread(
            target=self._run, args=(generation, delay_s), name=f"camera-{self._id}-{generation}", daemon=True
        )
        self._thread = thread
        thread.start()

    def _run(self, generation: int, delay_s: float) -> None:
        try:
            self._connect_loop(generation, delay_s)
        except Exception as error:  # a bug must end this camera visibly, never silently or for other cameras
            message = redact_text(f"{type(error).__name__}: {error}")
            logger.error("camera %s: reader failed: %s", self._id, message)
            self._finish(generation, f"failed: {message}", error=message)

    def _connect_loop(self, generation: int, delay_s: float) -> None:
        while True:
            if delay_s > 0 and not self._wait_before_retry(generation, delay_s):
                return
            if not self._set_state_if_current(generation, CameraState.CONNECTING, "connecting"):
                return
            source: FrameSource | None = None
            try:
                with self._in_source(generation, self.settings.open_timeout_s + self.settings.stall_timeout_s):
                    source = self._factory(self.settings)
                if self._is_current(generation):  # not abandoned during a slow open
                    self._stream(generation, source)
                return  # the thread is stale: stopped or abandoned by the watchdog
            except SourceEnded as ended:
                self._report_fault(generation, ended.fault)
                self._finish(generation, "ended early (truncated or damaged)" if ended.fault else "ended")
                return
            except SourceFatalError as error:
                message = redact_text(str(error))
                self._finish(generation, f"failed: {message}", error=message)
                return
            except SourceError as error:
                self._report_fault(generation, error.fault)
                next_delay = self._failed(generation, error)
                if next_delay is None:
                    return
                delay_s = next_delay
            finally:
                if source is not None:
                    source.release()  # by the thread that opened it: captures are not thread-safe

    def _wait_before_retry(self, generation: int, delay_s: float) -> bool:
        """Waits out the backoff, or less when the server comes back; False when this thread should end."""
        outcome = wait_before_retry(delay_s, self._stop_requested, self._probe)
        if outcome is RetryOutcome.STOPPED or not self._is_current(generation):
            return False
        if outcome is RetryOutcome.SERVER_RETURNED:
            with self._lock:
                self._backoff_attempt = 0  # a new outage starts from the first backoff again
            logger.info("camera %s: server answers again; reconnecting now", self._id)
        return True

    def _stream(self, generation: int, source: FrameSource) -> None:
        decimator = FrameDecimator(self.settings.detect_fps)
        first = True
        late_since: float | None = None  # when the reads that only return after their timeout began
        while True:
            with self._in_source(generation, self.settings.stall_timeout_s, since=late_since):
                started = time.monotonic()
                read = source.read()
            if self._live and time.monotonic() - started >= self.settings.read_timeout_s * _TIMED_OUT_SHARE:
                late_since = started if late_since is None else late_since  # the stall clock keeps running
            else:
                late_since = None
            captured_at = time.time()
            self._report_fault(generation, read.fault)
            with self._lock:
                if self._generation != generation:
                    return
                if first:
                    down_s = None if self._down_since is None else time.monotonic() - self._down_since
                    self._down_since = None
                    self._set_state(
                        CameraState.STREAMING, f"streaming again after {down_s:.1f} s down" if down_s else "streaming"
                    )
                    self._failures_in_a_row = 0
                    self._backoff_attempt = 0
                    first = False
                index = self._frames_read
                self._frames_read += 1
                self._last_frame_at = captured_at
            self._observer.on_frame_read(self._id, read.decode_s)
            if not decimator.accept(read.position_s):
                with self._lock:
                    self._frames_skipped += 1
                self._observer.on_frame_skipped(self._id)
                continue
            frame = Frame(self._id, index, captured_at, read.position_s, read.image)
            if not self._deliver(generation, frame):
                return

    def _deliver(self, generation: int, frame: Frame) -> bool:
        """Puts a frame on the buffer; returns False when this thread is stale."""
        while True:
            result = self.buffer.put(frame, timeout=_PUT_POLL_S)
            if result.cause is not DropCause.BLOCK_TIMEOUT:
                break
            if not self._is_current(generation):
                return False
        with self._lock:
            if result.accepted:
                self._frames_sent += 1
            if result.cause is not None:
                self._frames_dropped += 1
        if result.cause is not None:
            self._observer.on_frame_dropped(self._id, result.cause)
        return result.cause is not DropCause.CLOSED

    @contextlib.contextmanager
    def _in_source(self, generation: int, limit_s: float, since: float | None = None) -> Iterator[None]:
        """Marks the span of an open or read, which the watchdog times from ``since`` (by default, now)."""
        with self._lock:
            if self._generation == generation:
                self._in_source_since = time.monotonic() if since is None else since
                self._in_source_limit_s = limit_s
        try:
            yield
        finally:
            with self._lock:
                if self._generation == generation:
                    self._in_source_since = None

    def _failed(self, generation: int, error: SourceError) -> float | None:
        """Handles a retryable error; returns the backoff before reconnecting, or None to end the thread."""
        message = redact_text(str(error))
        with self._lock:
            if self._generation != generation:
                return None
            delay = self._register_failure(message, ReconnectReason.ERROR)
        if delay is not None:
            # The message of a source error names the camera already ("camera 'gate': ..."): once is enough.
            logger.warning("%s; reconnecting in %.2f s", message, delay)
        return delay

    def _register_failure(self, message: str, reason: ReconnectReason) -> float | None:
        """Counts a failure (lock held): moves to reconnecting and returns the backoff, or gives up."""
        self._last_error = message
        limit = self.settings.max_restarts
        if limit is not None and self._failures_in_a_row >= limit:
            self._generation += 1
            self._set_state(CameraState.STOPPED, f"failed: {message} (gave up after {limit} restarts in a row)")
            self.buffer.close()
            return None
        delay = backoff_delay(
            self._backoff_attempt, self.settings.backoff_initial_s, self.settings.backoff_max_s, self._rng
        )
        self._failures_in_a_row += 1
        self._backoff_attempt += 1
        self._restarts += 1
        if self._down_since is None and self._frames_read:  # was up: the outage starts now
            self._down_since = time.monotonic()
        self._set_state(CameraState.RECONNECTING, message)
        self._observer.on_reconnect(self._id, reason)
        return delay

    def _finish(self, generation: int, reason: str, error: str | None = None) -> None:
        """Moves to stopped (ended or failed) and closes the buffer, unless this thread is stale."""
        with self._lock:
            if self._generation != generation or self._machine.state is CameraState.STOPPED:
                return
            if error is not None:
                self._last_error = error
            self._generation += 1
            self._set_state(CameraState.STOPPED, reason)
        self.buffer.close()

    def _report_fault(self, generation: int, fault: SourceFault | None) -> None:
        """Counts damaged input; warns once per camera and kind (a looping damaged file would repeat it forever)."""
        if fault is None or not self._is_current(generation):
            return
        with self._lock:
            self._faults += 1
            first = fault.kind not in self._warned_faults
            self._warned_faults.add(fault.kind)
        level = logging.WARNING if first else logging.DEBUG
        logger.log(level, "camera %s: %s input: %s", self._id, fault.kind, redact_text(fault.detail))
        self._observer.on_fault(self._id, str(fault.kind))

    def _is_current(self, generation: int) -> bool:
        with self._lock:
            return self._generation == generation

    def _set_state_if_current(self, generation: int, state: CameraState, reason: str) -> bool:
        with self._lock:
            if self._generation != generation:
                return False
            self._set_state(state, reason)
            return True

    def _set_state(self, state: CameraState, reason: str) -> None:
        """Transitions (lock held), logs and tells the observer."""
        previous = self._machine.transition(state, reason)
        level = logging.INFO if state in (CameraState.STREAMING, CameraState.STOPPED) else logging.DEBUG
        logger.log(level, "camera %s: %s -> %s (%s)", self._id, previous, state, reason)
        self._observer.on_state(CameraStateChange(self._id, previous, state, reason, time.time()))
