"""A background writer to Redis: a bounded queue, one thread, retries with backoff and jitter, drained at close.

The alert publisher and the track event publisher both write through it; they differ only in what one write is
and in what happens when the queue is full (alerts wait for room, track events are dropped and counted).

Failure rules:
- a ``redis.RedisError`` (Redis away, slow, restarting) is retried with exponential backoff and jitter until the
  write succeeds or :meth:`RedisWriter.close` gives up waiting; whatever is left then is counted as lost;
- any other exception is a bug in preparing that one item: retrying would block every item behind it forever, so
  the item is dropped, counted as failed and logged with its traceback.

Where items wait is a :class:`~redisbus.backlog.Backlog`: a bounded queue in memory (lost if the process dies), or
the on-disk spool (kept, and replayed at the next start). Whether Redis takes writes is tracked as
:attr:`RedisWriter.deliverable`: set by each write, and between writes by a cheap probe (PING) every few seconds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import cv2
import numpy as np
import redis
from numpy.typing import NDArray

from redisbus.backlog import Backlog, MemoryBacklog, Taken

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_POLL_S = 0.1  # how often the idle writer thread looks at the closing flag
_PROBE_S = 2.0  # how often an idle writer checks that Redis still answers, so health shows an outage early


class WriterClosedError(RuntimeError):
    """submit() after close()."""


def encode_jpeg(crop_bgr: NDArray[np.uint8] | None, quality: int) -> bytes | None:
    """The crop as JPEG bytes, or None for no crop.

    Encode before queueing: a queued crop would be a view that keeps its whole frame alive.

    Raises:
        ValueError: the crop is not a BGR uint8 image, or cannot be encoded.
    """
    if crop_bgr is None or crop_bgr.size == 0:
        return None
    if crop_bgr.dtype != np.uint8 or crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3:
        raise ValueError(f"crop must be a BGR uint8 (H, W, 3) image, got {crop_bgr.dtype} {crop_bgr.shape}")
    ok, buffer = cv2.imencode(".jpg", crop_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"crop of shape {crop_bgr.shape} could not be encoded as JPEG")
    return bytes(buffer)


class RedisWriter(Generic[T, R]):
    """Writes queued items to Redis on its own thread.

    Args:
        name: thread name, and how log lines name the writer.
        noun: what one item is, for log lines ("alert", "track event").
        write: performs one write (e.g. a MULTI/EXEC pipeline) and returns what ``on_written`` gets.
        describe: a short name of an item for log lines (its id).
        max_pending: most items queued in memory (when no ``backlog`` is given).
        retry_initial_s: first wait before retrying a failed write; doubles per failure.
        retry_max_s: longest wait between retries.
        on_written: called on the writer thread after a write, with the seconds since submit (retries included).
        on_error: called on the writer thread for each failed attempt.
        backlog: where items wait; None: a :class:`~redisbus.backlog.MemoryBacklog` of ``max_pending``.
        probe: called on the idle writer thread every few seconds (e.g. ``client.ping``) to keep
            :attr:`deliverable` current between writes; raises ``redis.RedisError`` when Redis does not answer.
    """

    def __init__(
        self,
        name: str,
        noun: str,
        write: Callable[[T], R],
        describe: Callable[[T], str],
        max_pending: int,
        retry_initial_s: float,
        retry_max_s: float,
        on_written: Callable[[T, R, float], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        backlog: Backlog[T] | None = None,
        probe: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.noun = noun
        self._write = write
        self._describe = describe
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._on_written = on_written
        self._on_error = on_error
        self._backlog: Backlog[T] = backlog if backlog is not None else MemoryBacklog(max_pending)
        self._probe = probe
        self._deliverable = True  # until a write or probe fails
        self._last_contact = time.monotonic()
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._submitting = 0  # submit() calls between their closed-check and their put: close() waits for them
        self.written = 0
        self.errors = 0
        self.failed = 0
        self.lost = 0
        self.kept = 0  # left in a durable backlog at close, for the next start

    # lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the writer thread (items submitted before are queued and go out now)."""
        with self._lock:
            if self._closing.is_set():
                raise WriterClosedError(f"{self.name} is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def close(self, timeout: float) -> int:
        """Stops taking items, writes the queued ones (retrying) for up to ``timeout`` seconds, then stops.

        Returns:
            How many items could not be written and are lost (0 when all were, or when the backlog is durable:
            those are kept for the next start, see :attr:`kept`); logged either way.
        """
        with self._lock:
            self._closing.set()
            if self._thread is None:  # never started: write what is queued from here
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            thread = self._thread
        thread.join(timeout)
        if thread.is_alive():
            self._abandon.set()  # stop retrying; the thread counts what it had left
            thread.join()
        return self.lost

    # the caller's side -------------------------------------------------------------------------------------------

    def submit(self, item: T, timeout: float) -> bool:
        """Queues an item; waits up to ``timeout`` seconds for room (0: not at all). False when there was none.

        With a durable backlog the item is on disk when this returns True.

        Raises:
            WriterClosedError: after :meth:`close`.
        """
        with self._lock:
            if self._closing.is_set():
                raise WriterClosedError(f"{self.name} is closed")
            self._submitting += 1
        try:
            return self._backlog.put(item, timeout)
        finally:
            with self._lock:
                self._submitting -= 1

    @property
    def pending(self) -> int:
        """Items submitted and not yet written, dropped or given up (queued or being retried)."""
        return self._backlog.pending

    @property
    def durable(self) -> bool:
        """True when items waiting for Redis are on disk (kept through a restart), False when in memory."""
        return self._backlog.durable

    @property
    def deliverable(self) -> bool:
        """False from a failed write (or probe) until the next one that succeeds: Redis is not taking writes."""
        return self._deliverable

    # the writer thread -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            taken = self._backlog.take(_POLL_S)
            if taken is None:
                with self._lock:
                    if self._closing.is_set() and self._submitting == 0 and self._backlog.pending == 0:
                        return
                    if self._abandon.is_set():
                        self._give_up(None)
                        return
                self._probe_if_idle()
                continue
            if self._abandon.is_set() or not self._write_with_retry(taken):
                self._give_up(taken)
                if self._backlog.durable:
                    return  # the rest stays on disk; taking it again would only give up again
                continue
            self._backlog.done(taken)

    def _give_up(self, taken: Taken[T] | None) -> None:
        if self._backlog.durable:
            with self._lock:
                self.kept = self._backlog.pending
            logger.warning(
                "%s closing: %d %s(s) not yet in Redis are kept in the spool and sent at the next start",
                self.name,
                self.kept,
                self.noun,
            )
            return
        left = ([taken.item] if taken is not None else []) + self._backlog.drain()
        if taken is not None:
            self._backlog.done(taken)
        with self._lock:
            self.lost += len(left)
        if not left:
            return
        names = ", ".join(self._describe(item) for item in left[:5]) + (" …" if len(left) > 5 else "")
        logger.error(
            "%s closing: %d %s(s) could not be written to Redis and are lost: %s",
            self.name,
            len(left),
            self.noun,
            names,
        )

    def _probe_if_idle(self) -> None:
        if self._probe is None or time.monotonic() - self._last_contact < _PROBE_S:
            return
        try:
            self._probe()
        except redis.RedisError as exc:
            self._set_deliverable(False, exc)
        else:
            self._set_deliverable(True)
        self._last_contact = time.monotonic()

    def _set_deliverable(self, deliverable: bool, exc: Exception | None = None) -> None:
        if deliverable != self._deliverable:
            if deliverable:
                logger.info("%s: Redis takes writes again", self.name)
            else:
                keeps = "kept in the spool" if self._backlog.durable else "held in memory"
                logger.warning(
                    "%s: Redis does not take writes (%s): %ss are %s until it does",
                    self.name,
                    type(exc).__name__ if exc is not None else "?",
                    self.noun,
                    keeps,
                )
        self._deliverable = deliverable

    def _write_with_retry(self, queued: Taken[T]) -> bool:
        """Writes one item, retrying until it is written or dropped (True) or close() gives up waiting (False)."""
        delay = self._retry_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._write(queued.item)
            except redis.RedisError as exc:
                with self._lock:
                    self.errors += 1
                self._last_contact = time.monotonic()
                self._set_deliverable(False, exc)
                self._notify_error(exc)
                logger.warning(
                    "%s: writing %s failed (attempt %d, retry in %.2f s): %s: %s",
                    self.name,
                    self._describe(queued.item),
                    attempt,
                    delay,
                    type(exc).__name__,
                    exc,
                )
                # Jitter: writers of several services must not retry in lockstep against a recovering Redis.
                if self._abandon.wait(delay * random.uniform(0.5, 1.0)):
                    return False
                delay = min(delay * 2, self._retry_max_s)
                continue
            except Exception as exc:
                with self._lock:
                    self.failed += 1
                self._notify_error(exc)
                logger.exception("%s: %s cannot be written and is dropped", self.name, self._describe(queued.item))
                return True
            with self._lock:
                self.written += 1
            self._last_contact = time.monotonic()
            self._set_deliverable(True)
            if self._on_written is not None:
                try:
                    self._on_written(queued.item, result, max(time.time() - queued.submitted, 0.0))
                except Exception:
                    logger.exception("%s: on_written callback failed", self.name)
            return True

    def _notify_error(self, exc: Exception) -> None:
        if self._on_error is None:
            return
        try:
            self._on_error(exc)
        except Exception:
            logger.exception("%s: on_error callback failed", self.name)
