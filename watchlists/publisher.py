"""Writes alerts to Redis from a thread of its own, so that no alert is lost while Redis is slow or away.

Per alert, in one atomic Lua script (:func:`redisbus.xadd_once.xadd_once`): ``SET <prefix><alert_id> <jpeg> EX
ttl`` (when there is a crop), ``XADD <stream> MAXLEN ~ n * alert_id … alert <json>`` and ``PUBLISH <channel>
<json>``, only if the alert id was not written before (a ``<stream>:seen:<alert_id>`` key, kept ``dedup_ttl_s``).
So a consumer never sees an alert whose snapshot key was never written, nor the same alert twice.

Delivery, with a spool (the service's default): :meth:`AlertPublisher.submit` writes the alert (and its crop's
JPEG) to the on-disk spool before it returns True, so an accepted alert survives a crash, ``kill -9`` or OOM kill;
the publishing thread writes spooled alerts to Redis oldest first, retrying with exponential backoff and jitter
however long Redis is away, and removes each once written. Alerts left in the spool at close or at a crash are
sent at the next start. A full spool refuses the alert (counted and logged; see :mod:`redisbus.spool`).

Without a spool the alerts wait in memory (bounded by ``max_pending``): when the queue is full, ``submit`` waits up
to ``submit_timeout_s`` (slowing the pipeline instead of dropping), then refuses the alert, counted and logged;
:meth:`AlertPublisher.close` drains the queue within its timeout and reports what could not be written.
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

from redisbus.backlog import Encoded, SpoolBacklog
from redisbus.settings import DEFAULT_DEDUP_TTL_S
from redisbus.spool import Spool
from redisbus.writer import RedisWriter, WriterClosedError, encode_jpeg
from redisbus.xadd_once import Snapshot, xadd_once
from watchlists.alerts import Alert
from watchlists.settings import AlertSettings

logger = logging.getLogger(__name__)

STREAM_FIELD_ALERT = "alert"
"""Stream entry field holding the alert JSON (``alert_id``, ``entry_id`` and ``camera_id`` sit beside it)."""
SPOOL_KIND = "alert"
"""The alerts' records in the spool (never evicted to make room: see :mod:`redisbus.spool`)."""


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
    duplicates: int = 0
    """Alerts skipped because Redis had them already (a replay after a crash between write and spool removal)."""
    kept_at_close: int = 0
    """Alerts left in the spool at close, sent at the next start."""


@dataclass(frozen=True, slots=True, eq=False)
class _Pending:
    alert: Alert
    jpeg: bytes | None


def _encode(pending: _Pending) -> Encoded:
    return Encoded(pending.alert.alert_id, pending.alert.to_json().encode(), pending.jpeg)


def _decode(body: bytes, attachment: bytes | None) -> _Pending:
    return _Pending(Alert.from_json(body), attachment)  # a malformed body raises ValueError (pydantic's)


PublisherClosedError = WriterClosedError
"""submit() or start() after close()."""


class AlertPublisher:
    """Publishes alerts to a Redis stream, a pub/sub channel and snapshot keys, never dropping one silently.

    Example:
        >>> with AlertPublisher(client, AlertSettings()) as publisher:  # doctest: +SKIP
        ...     publisher.submit(alert, crop_bgr)
    """

    def __init__(
        self,
        client: redis.Redis,
        settings: AlertSettings,
        observer: PublishObserver | None = None,
        *,
        spool: Spool | None = None,
        dedup_ttl_s: int = DEFAULT_DEDUP_TTL_S,
    ) -> None:
        """
        Args:
            client: the Redis client (its socket timeout bounds how long one write can hang).
            settings: stream, channel, trimming, snapshot and retry settings.
            observer: receives published / error / rejected events (metrics).
            spool: the on-disk spool alerts wait in (replaying what an earlier run left); None: in memory.
            dedup_ttl_s: seconds Redis remembers a written alert id, so a replayed alert is not added twice.
        """
        self.client = client
        self.settings = settings
        self.observer: PublishObserver = observer if observer is not None else NullObserver()
        self.dedup_ttl_s = dedup_ttl_s
        backlog = SpoolBacklog(spool, SPOOL_KIND, _encode, _decode, evictable=False) if spool is not None else None
        self._writer: RedisWriter[_Pending, Alert | None] = RedisWriter(
            "alert-publisher",
            "alert",
            self._write,
            describe=lambda pending: f"alert {pending.alert.alert_id}",
            max_pending=settings.max_pending,
            retry_initial_s=settings.retry_initial_s,
            retry_max_s=settings.retry_max_s,
            on_written=self._written,
            on_error=lambda exc: self._notify("on_error", exc),
            backlog=backlog,
            probe=client.ping,
        )
        self._lock = threading.Lock()
        self._published_by_entry: Counter[str] = Counter()
        self._rejected = 0
        self._duplicates = 0

    # lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> AlertPublisher:
        """Starts the publishing thread (alerts submitted before are queued and go out now)."""
        self._writer.start()
        return self

    def close(self, timeout: float = 10.0) -> int:
        """Stops taking alerts, writes the queued ones (retrying) for up to ``timeout`` seconds, then stops.

        Returns:
            How many alerts could not be written and are lost (0 when all were, and with a spool: those left are
            kept for the next start); each loss is logged.
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
            True when accepted (with a spool: on disk); False when refused, logged and counted: the memory queue
            stayed full, or the spool is full of alerts or cannot be written.

        Raises:
            PublisherClosedError: after :meth:`close`.
            ValueError: the crop is not a BGR uint8 image.
        """
        jpeg = encode_jpeg(crop_bgr, self.settings.jpeg_quality)
        if jpeg is not None:
            alert = alert.model_copy(update={"snapshot_key": self.settings.snapshot_key_prefix + alert.alert_id})
        wait = self.settings.submit_timeout_s if timeout is None else timeout
        if self._writer.submit(_Pending(alert, jpeg), timeout=wait):
            # One line per accepted alert: the audit trail of what the service promised to deliver.
            logger.info("alert %s for entry %r on camera %r accepted", alert.alert_id, alert.entry.id, alert.camera_id)
            return True
        with self._lock:
            self._rejected += 1
        if self._writer.durable:
            logger.error(
                "alert %s for entry %r refused: the spool is full or cannot be written", alert.alert_id, alert.entry.id
            )
        else:
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

    @property
    def deliverable(self) -> bool:
        """False while Redis does not take writes (from a failed write or probe until one succeeds)."""
        return self._writer.deliverable

    def stats(self) -> PublisherStats:
        with self._lock:
            by_entry = dict(self._published_by_entry)
            rejected = self._rejected
            duplicates = self._duplicates
        return PublisherStats(
            published=sum(by_entry.values()),
            published_by_entry=by_entry,
            errors=self._writer.errors,
            rejected=rejected,
            failed=self._writer.failed,
            pending=self.pending,
            lost_at_close=self._writer.lost,
            duplicates=duplicates,
            kept_at_close=self._writer.kept,
        )

    def _notify(self, event: str, *args: object) -> None:
        try:
            getattr(self.observer, event)(*args)
        except Exception:
            logger.exception("alert publish observer failed in %s", event)

    # on the writer thread ----------------------------------------------------------------------------------------

    def _written(self, pending: _Pending, alert: Alert | None, seconds: float) -> None:
        if alert is None:
            with self._lock:
                self._duplicates += 1
            logger.info(
                "alert %s was in Redis already (replayed after a crash): not added again", pending.alert.alert_id
            )
            return
        with self._lock:
            self._published_by_entry[alert.entry.id] += 1
        self._notify("on_published", alert, seconds)

    def _write(self, item: _Pending) -> Alert | None:
        """Writes one alert; None when Redis had it already."""
        settings = self.settings
        alert = item.alert.model_copy(update={"published_at": datetime.now(UTC)})
        payload = alert.to_json()
        snapshot = None
        if item.jpeg is not None and alert.snapshot_key is not None:
            snapshot = Snapshot(alert.snapshot_key, item.jpeg, settings.snapshot_ttl_s)
        written = xadd_once(
            self.client,
            stream=settings.stream,
            record_id=alert.alert_id,
            fields={
                "alert_id": alert.alert_id,
                "entry_id": alert.entry.id,
                "camera_id": alert.camera_id,
                STREAM_FIELD_ALERT: payload,
            },
            maxlen=settings.stream_maxlen,
            dedup_ttl_s=self.dedup_ttl_s,
            snapshot=snapshot,
            channel=settings.channel,
            message=payload,
        )
        return alert if written else None
