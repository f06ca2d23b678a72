"""The archiver: a Redis consumer group on the alert stream and one on the track events stream, each message
stored as a sighting (`streamer.history.store`), its snapshot JPEG copied from Redis to disk.

At least once: a message is acknowledged only after its row is committed (a redelivered one is stored once,
inserts being idempotent on its id). A malformed message is logged, acknowledged and skipped; a database error
leaves the message pending (taken back by ``XAUTOCLAIM`` and retried) and never stops the other stream. Every hour
(and at start) sightings older than ``retention_days`` are deleted with their snapshots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from pydantic import ValidationError

from common.redaction import redact_text
from redisbus.streams import StreamConsumer, StreamMessage
from streamer.history.settings import HistorySettings
from streamer.history.store import SightingsStore, database_url, row_values, snapshots_dir
from watchlists.alerts import Alert
from watchlists.publisher import STREAM_FIELD_ALERT
from watchlists.track_events import STREAM_FIELD_TRACK, TrackSummary

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


class Archiver:
    """Archives the alert and track streams into a `SightingsStore`.

    Args:
        client: Redis client (no ``decode_responses``).
        settings: the history settings.
        alert_stream: the alert stream (``alerts.stream``).
        track_stream: the track events stream (``tracking.events.stream``), or None.
        store: an open store (default: opened from ``settings.database``).
        block_ms: how long one read blocks (also how quickly `stop` is noticed).
    """

    def __init__(
        self,
        client: redis.Redis,
        settings: HistorySettings,
        alert_stream: str,
        track_stream: str | None,
        *,
        store: SightingsStore | None = None,
        block_ms: int = 1000,
    ) -> None:
        self.client = client
        self.settings = settings
        self.store = store or SightingsStore.open(database_url(settings))
        self.snapshots = snapshots_dir(settings)
        self.snapshots.mkdir(parents=True, exist_ok=True)
        streams: list[tuple[str, Callable[[StreamMessage], dict[str, Any] | None]]] = [(alert_stream, self._alert_row)]
        if track_stream is not None:
            streams.append((track_stream, self._track_row))
        self.consumers = [
            (StreamConsumer(client, stream, settings.group, start_id="0", block_ms=block_ms, noun="message"), parse)
            for stream, parse in streams
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.archived = 0

    def start(self) -> Archiver:
        self.purge()
        for consumer, parse in self.consumers:
            consumer.ensure_group()
            thread = threading.Thread(target=self._run, args=(consumer, parse), name="archiver", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("archiving sightings to %s", redact_text(str(self.store.engine.url)))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self.store.close()

    def purge(self) -> int:
        """Deletes sightings (and snapshots) older than the retention; returns how many snapshots went."""
        paths = self.store.purge(time.time() - self.settings.retention_days * 86400)
        for path in paths:
            Path(path).unlink(missing_ok=True)
        if paths:
            log.info("history: removed %d expired snapshot(s)", len(paths))
        return len(paths)

    def _run(self, consumer: StreamConsumer, parse: Callable[[StreamMessage], dict[str, Any] | None]) -> None:
        next_purge = time.monotonic() + PURGE_EVERY_S
        while not self._stop.is_set():
            try:
                for message in consumer.messages(self._stop):
                    self._archive(consumer, message, parse)
                    if time.monotonic() >= next_purge:
                        next_purge = time.monotonic() + PURGE_EVERY_S
                        self.purge()
            except Exception:
                log.exception("history: reading %s failed; retrying", consumer.stream)
                self._stop.wait(1.0)

    def _archive(
        self, consumer: StreamConsumer, message: StreamMessage, parse: Callable[[StreamMessage], dict[str, Any] | None]
    ) -> None:
        try:
            values = parse(message)
        except (ValidationError, ValueError, KeyError) as exc:
            log.warning("history: skipping malformed message %s on %s: %s", message.message_id, consumer.stream, exc)
            consumer.ack(message.message_id)
            return
        if values is None:  # not a sighting (a camera state event)
            consumer.ack(message.message_id)
            return
        try:
            if self.store.insert(values):
                self.archived += 1
        except Exception:
            log.exception("history: could not store %s; it stays pending and is retried", message.message_id)
            return
        consumer.ack(message.message_id)

    def _snapshot(self, key: str | None, sighting_id: str, seen: float) -> str | None:
        """Copies a snapshot JPEG from Redis to ``<snapshots>/<YYYY-MM-DD>/<id>.jpg``; None if it expired."""
        if not key:
            return None
        data = self.client.get(key)
        if not isinstance(data, bytes):
            return None
        folder = self.snapshots / time.strftime("%Y-%m-%d", time.gmtime(seen))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{sighting_id}.jpg"
        path.write_bytes(data)
        return str(path)

    def _alert_row(self, message: StreamMessage) -> dict[str, Any] | None:
        raw = message.fields.get(STREAM_FIELD_ALERT.encode())
        if raw is None:
            raise ValueError(f"no {STREAM_FIELD_ALERT!r} field")
        alert = Alert.from_json(raw)
        seen = alert.captured_at.timestamp()
        return row_values(
            message_id=alert.alert_id,
            kind="alert",
            camera_id=alert.camera_id,
            track_id=alert.track_id,
            first_seen=alert.captured_at,
            last_seen=alert.captured_at,
            detector_class=alert.detector_class,
            labels={h: [p.model_dump() for p in top] for h, top in alert.classifications.items()},
            entry_id=alert.entry.id,
            score=alert.score,
            snapshot=self._snapshot(alert.snapshot_key, alert.alert_id, seen),
        )

    def _track_row(self, message: StreamMessage) -> dict[str, Any] | None:
        raw = message.fields.get(STREAM_FIELD_TRACK.encode())
        if raw is None:
            return None  # a camera event (field "camera"): not a sighting
        track = TrackSummary.from_json(raw)
        if track.views_fused == 0:
            return None  # never classified (too small, too brief): nothing to search on
        return row_values(
            message_id=track.event_id,
            kind="track",
            camera_id=track.camera_id,
            track_id=track.track_id,
            first_seen=track.first_seen,
            last_seen=track.last_seen,
            detector_class=track.detector_class,
            labels={h: [p.model_dump() for p in top] for h, top in track.labels.items()},
            entry_id=",".join(track.alerted_entries) or None,
            snapshot=self._snapshot(track.best_snapshot_key, track.event_id, track.last_seen.timestamp()),
        )
