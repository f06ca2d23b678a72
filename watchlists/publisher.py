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
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

import numpy as np
import redis
from numpy.typing import NDArray

from redisbus.writer import RedisWriter, WriterClosedError, encode_jpeg
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


PublisherClosedError = WriterClosedError
"""submit() or start() after close()."""


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
        self._writer: RedisWriter[_Pending, Alert] = RedisWriter(
            "alert-publisher",
            "alert",
            self._write,
            describe=lambda pending: f"alert {pending.alert.alert_id}",
            max_pending=settings.max_pending,
            retry_initial_s=settings.retry_initial_s,
            retry_max_s=settings.retry_max_s,
            on_written=self._written,
            on_error=lambda exc: self._notify("on_error", exc),
        )
        self._lock = threading.Lock()
        self._published_by_entry: Counter[str] = Counter()
        self._rejected = 0

    # lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> AlertPublisher:
        """Starts the publishing thread (alerts submitted before are queued and go out now)."""
        self._writer.start()
        return self

    def close(self, timeout: float = 10.0) -> int:
        """Stops taking alerts, writes the queued ones (retrying) for up to ``timeout`` seconds, then stops.

        Returns:
            How many alerts could not be written (0 when all were); each loss is logged.
        """
        return self._writer.close(timeout)

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
        jpeg = encode_jpeg(crop_bgr, self.settings.jpeg_quality)
        if jpeg is not None:
            alert = alert.model_copy(update={"snapshot_key": self.settings.snapshot_key_prefix + alert.alert_id})
        wait = self.settings.submit_timeout_s if timeout is None else timeout
        if self._writer.submit(_Pending(alert, jpeg), timeout=wait):
            return True
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

    # observation -------------------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Alerts submitted and not yet written (queued or being retried)."""
        return self._writer.pending

    def stats(self) -> PublisherStats:
        with self._lock:
            by_entry = dict(self._published_by_entry)
            rejected = self._rejected
        return PublisherStats(
            published=sum(by_entry.values()),
            published_by_entry=by_entry,
            errors=self._writer.errors,
            rejected=rejected,
            failed=self._writer.failed,
            pending=self.pending,
            lost_at_close=self._writer.lost,
        )

    def _notify(self, event: str, *args: object) -> None:
        try:
            getattr(self.observer, event)(*args)
        except Exception:
            logger.exception("alert publish observer failed in %s", event)

    # on the writer thread ----------------------------------------------------------------------------------------

    def _written(self, _pending: _Pending, alert: Alert, seconds: float) -> None:
        with self._lock:
            self._published_by_entry[alert.entry.id] += 1
        self._notify("on_published", alert, seconds)

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
