"""Writes alerts to Redis from a thread of its own, so that no alert is lost while Redis is slow or away.

Per alert, in one MULTI/EXEC transaction: ``SET <prefix><alert_id> <jpeg> EX ttl`` (when there is a crop),
``XADD <stream> MAXLEN ~ n * alert_id … alert <json>`` and ``PUBLISH <channel> <json>``. Either all three happen or
none, so a consumer never sees an alert whose snapshot key was never written.

Delivery: :meth:`AlertPublisher.submit` encodes the crop and queues the alert (bounded by ``max_pending``); the
publishing thread retries a failed write with exponential backoff and jitter until it succeeds, however long Redis
is away. When the queue is full, ``submit`` waits up to ``submit_timeout_s`` (slowing the pipeline instead of
dropping); only after that does it refuse the alert, counted and logged. :meth:`AlertPublisher.close` drains the
queue within its timeout and reports what could not be written. A retried write whose reply was lost may add an
alert twice: consumers de-duplicate on ``alert_id``.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

import cv2
import numpy as np
import redis
from numpy.typing import NDArray

from watchlists.alerts import Alert
from watchlists.settings import AlertSettings

logger = logging.getLogger(__name__)

STREAM_FIELD_ALERT = "alert"
"""Stream entry field holding the alert JSON (``alert_id``, ``entry_id`` and ``camera_id`` sit beside it)."""


class PublishObserver(Protocol):
    """Receives publishing events, e.g. to update Prometheus metrics. Called on the publisher's thread; keep it quick.

    Exceptions raised by an observer are logged and otherwise ignored.
    """

    def on_published(self, alert: Alert, seconds: float) -> None:
        """An alert is in Redis; ``seconds`` from submit() to the confirmed write (queueing and retries included)."""

    def on_error(self, exc: Exception) -> None:
        """A write failed and will be retried."""

    def on_rejected(self, alert: Alert) -> None:
        """submit() refused an alert: the queue stayed full for ``submit_timeout_s``."""


class NullObserver:
    """An observer that ignores every event."""

    def on_published(self, alert: Alert, seconds: float) -> None:
        """Ignored."""

    def on_error(self, exc: Exception) -> None:
        """Ignored."""

    def on_rejected(self, alert: Alert) -> None:
        """Ignored."""


@dataclass(frozen=True, slots=True)
class PublisherStats:
    """Counters since the publisher was made."""

    published: int
    published_by_entry: dict[str, int]
    errors: int
    rejected: int
    failed: int
    """Alerts dropped because writing them raised something other than a Redis error (a bug; logged)."""
    pending: int
    lost_at_close: int


@dataclass(frozen=True, slots=True, eq=False)
class _Pending:
    alert: Alert
    jpeg: bytes | None
    submitted: float = field(default_factory=time.monotonic)


class PublisherClosedError(RuntimeError):
    """submit() after close()."""


class AlertPublisher:
    """Publishes alerts to a Redis stream, a pub/sub channel and snapshot keys, never dropping one silently.

    Example:
        >>> with AlertPublisher(client, AlertSettings()) as publisher:  # doctest: +SKIP
        ...     publisher.submit(alert, crop_bgr)
    """

    def __init__(self, client: redis.Redis, settings: AlertSettings, observer: PublishObserver | None = None) -> None:
        """
        Args:
            client: the Redis client (its socket timeout bounds how long one write can hang).
            settings: stream, channel, trimming, snapshot and retry settings.
            observer: receives published / error / rejected events (metrics).
        """
        self.client = client
        self.settings = settings
        self.observer: PublishObserver = observer if observer is not None else NullObserver()
        self._queue: queue.Queue[_Pending] = queue.Queue(maxsize=settings.max_pending)
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._submitting = 0  # submit() calls between their closed-check and their put: close() waits for them
        self._published_by_entry: Counter[str] = Counter()
        self._errors = 0
        self._rejected = 0
        self._failed = 0
        self._lost = 0

    # lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> AlertPublisher:
        """Starts the publishing thread (alerts submitted before are queued and go out now)."""
        with self._lock:
            if self._closing.is_set():
                raise PublisherClosedError("the alert publisher is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alert-publisher", daemon=True)
                self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> int:
        """Stops taking alerts, writes the queued ones (retrying) for up to ``timeout`` seconds, then stops.

        Returns:
            How many alerts could not be written (0 when all were); each loss is logged.
        """
        with self._lock:
            self._closing.set()
        thread = self._thread
        if thread is None:  # never started: write what is queued from here
            thread = threading.Thread(target=self._run, name="alert-publisher", daemon=True)
            self._thread = thread
            thread.start()
        thread.join(timeout)
        if thread.is_alive():
            self._abandon.set()  # stop retrying; the thread counts what it had left
            thread.join()
        return self._lost

    def __enter__(self) -> AlertPublisher:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # the caller's side -------------------------------------------------------------------------------------------

    def submit(self, alert: Alert, crop_bgr: NDArray[np.uint8] | None = None, timeout: float | None = None) -> bool:
        """Queues an alert (and its crop's JPEG) for publishing.

        Args:
            alert: the alert; its ``snapshot_key`` is set here when a crop is given, ``published_at`` on writing.
            crop_bgr: the vehicle crop, BGR uint8 (H, W, 3), or None / empty for no snapshot.
            timeout: seconds to wait for room in a full queue; None uses ``submit_timeout_s``.

        Returns:
            True when queued; False when the queue stayed full (the alert is refused, logged and counted).

        Raises:
            PublisherClosedError: after :meth:`close`.
            ValueError: the crop is not a BGR uint8 image.
        """
        jpeg = self._encode(crop_bgr)
        if jpeg is not None:
            alert = alert.model_copy(update={"snapshot_key": self.settings.snapshot_key_prefix + alert.alert_id})
        wait = self.settings.submit_timeout_s if timeout is None else timeout
        with self._lock:
            if self._closing.is_set():
                raise PublisherClosedError("the alert publisher is closed")
            self._submitting += 1
        try:
            self._queue.put(_Pending(alert, jpeg), timeout=wait)
        except queue.Full:
            with self._lock:
                self._rejected += 1
            logger.error(
                "alert %s for entry %r refused: %d alerts already waiting for Redis (max_pending) for %.1f s",
                alert.alert_id,
                alert.entry.id,
                self.settings.max_pending,
                wait,
            )
            self._notify("on_rejected", alert)
            return False
        finally:
            with self._lock:
                self._submitting -= 1
        return True

    def _encode(self, crop_bgr: NDArray[np.uint8] | None) -> bytes | None:
        # Encoded here, not on the publishing thread: a queued crop would be a view that keeps its whole frame alive.
        if crop_bgr is None or crop_bgr.size == 0:
            return None
        if crop_bgr.dtype != np.uint8 or crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3:
            raise ValueError(f"crop must be a BGR uint8 (H, W, 3) image, got {crop_bgr.dtype} {crop_bgr.shape}")
        ok, buffer = cv2.imencode(".jpg", crop_bgr, [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality])
        if not ok:
            raise ValueError(f"crop of shape {crop_bgr.shape} could not be encoded as JPEG")
        return bytes(buffer)

    # observation -------------------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Alerts submitted and not yet written (queued or being retried)."""
        return self._queue.qsize() + self._in_flight

    def stats(self) -> PublisherStats:
        with self._lock:
            return PublisherStats(
                published=sum(self._published_by_entry.values()),
                published_by_entry=dict(self._published_by_entry),
                errors=self._errors,
                rejected=self._rejected,
                failed=self._failed,
                pending=self.pending,
                lost_at_close=self._lost,
            )

    def _notify(self, event: str, *args: object) -> None:
        try:
            getattr(self.observer, event)(*args)
        except Exception:
            logger.exception("alert publish observer failed in %s", event)

    # the publishing thread ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                with self._lock:
                    if self._closing.is_set() and self._submitting == 0 and self._queue.empty():
                        return
                continue
            self._in_flight = 1
            try:
                if self._abandon.is_set() or not self._publish_with_retry(item):
                    self._give_up(item)
            finally:
                self._in_flight = 0

    def _give_up(self, item: _Pending) -> None:
        left = [item]
        while True:
            try:
                left.append(self._queue.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            self._lost += len(left)
        ids = ", ".join(p.alert.alert_id for p in left[:5]) + (" …" if len(left) > 5 else "")
        logger.error("closing: %d alert(s) could not be written to Redis and are lost: %s", len(left), ids)

    def _publish_with_retry(self, item: _Pending) -> bool:
        """Writes one alert, retrying until it is written (True) or close() gives up waiting (False)."""
        delay = self.settings.retry_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                alert = self._write(item)
            except redis.RedisError as exc:
                with self._lock:
                    self._errors += 1
                self._notify("on_error", exc)
                logger.warning(
                    "writing alert %s to Redis failed (attempt %d, retry in %.2f s): %s: %s",
                    item.alert.alert_id,
                    attempt,
                    delay,
                    type(exc).__name__,
                    exc,
                )
                # Jitter: publishers of several services must not retry in lockstep against a recovering Redis.
                if self._abandon.wait(delay * random.uniform(0.5, 1.0)):
                    return False
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            except Exception as exc:
                # Not Redis being away but a bug: retrying would block every alert behind this one for ever, so this
                # one is dropped, counted and logged with its traceback.
                with self._lock:
                    self._failed += 1
                self._notify("on_error", exc)
                logger.exception("alert %s cannot be written and is dropped", item.alert.alert_id)
                return True
            with self._lock:
                self._published_by_entry[alert.entry.id] += 1
            self._notify("on_published", alert, time.monotonic() - item.submitted)
            return True

    def _write(self, item: _Pending) -> Alert:
        settings = self.settings
        alert = item.alert.model_copy(update={"published_at": datetime.now(UTC)})
        payload = alert.to_json()
        with self.client.pipeline(transaction=True) as pipe:
            if item.jpeg is not None and alert.snapshot_key is not None:
                pipe.set(alert.snapshot_key, item.jpeg, ex=settings.snapshot_ttl_s)
            pipe.xadd(
                settings.stream,
                {
                    "alert_id": alert.alert_id,
                    "entry_id": alert.entry.id,
                    "camera_id": alert.camera_id,
                    STREAM_FIELD_ALERT: payload,
                },
                maxlen=settings.stream_maxlen,
                approximate=True,
            )
            if settings.channel is not None:
                pipe.publish(settings.channel, payload)
            pipe.execute()
        return alert
