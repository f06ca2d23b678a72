"""Track summary events: one message per vehicle when its track ends, on a Redis Stream of its own.

For consumers that want every vehicle, not only watchlist hits (counting, search, dashboards). Off by default
(``tracking.events.enabled``). Each event says when and where the vehicle was seen, its fused labels and the key
of its best snapshot (the highest-quality crop of the track, as JPEG, expiring).

Delivery is best effort, unlike alerts: events wait while Redis is slow or away and are retried with backoff, in
the on-disk spool when the service has one (kept through a restart, but the first records the size cap drops, to
make room for alerts), else in memory up to ``max_pending``; an event that finds no room is dropped (counted and
logged) instead of slowing the pipeline. Per event, in one atomic Lua script
(:func:`redisbus.xadd_once.xadd_once`, at most once per ``event_id``): ``SET <prefix><event_id> <jpeg> EX ttl``
(when there is a snapshot) and ``XADD <stream> MAXLEN ~ n * event_id … camera_id … track <json>``.

Example of the JSON (one line on the wire)::

    {"schema_version": 2, "event_id": "0190f5d2-…", "camera_id": "gate", "track_id": 17,
     "first_seen": "2024-07-01T12:00:00.250000Z", "last_seen": "2024-07-01T12:00:04.100000Z",
     "first_frame": 1200, "last_frame": 1315, "frames_seen": 110, "views_fused": 4, "detector_class": "car",
     "labels": {"color": [{"label": "red", "prob": 0.97}, …], "make": […]}, "label_changes": 1,
     "alerted_entries": ["stolen-civic"], "best_snapshot_key": "vehiclewatch:track-snapshot:0190f5d2-…"}
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import redis
from numpy.typing import NDArray
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from classifiers.types import Classification
from redisbus.backlog import Encoded, SpoolBacklog
from redisbus.settings import DEFAULT_DEDUP_TTL_S
from redisbus.spool import Spool
from redisbus.writer import RedisWriter, WriterClosedError, encode_jpeg
from redisbus.xadd_once import Snapshot, xadd_once
from watchlists.alerts import LabelProb, LeaseToken, PlateReadOut, WorkerId, new_alert_id, utc_datetime
from watchlists.settings import TrackEventSettings

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Literal[2] = 2
STREAM_FIELD_TRACK = "track"
"""Stream entry field holding the event JSON (``event_id`` and ``camera_id`` sit beside it)."""
SPOOL_KIND = "track"
STREAM_FIELD_CAMERA = "camera"
"""Stream entry field holding a :class:`CameraEvent`'s JSON (in place of ``track``)."""
"""The track events' records in the spool (evicted first when it is full: see :mod:`redisbus.spool`)."""


class TrackSummary(BaseModel):
    """One vehicle's track, as published when the track ends (schema version 2; version 1 had no ``worker_id``,
    ``lease_token`` or ``plate_read``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1, 2] = Field(default=SCHEMA_VERSION, description="Message schema version.")
    event_id: str = Field(default_factory=new_alert_id, description="Unique, time-sortable id (UUIDv7).")
    camera_id: str = Field(description="Camera that saw the vehicle.")
    track_id: int = Field(ge=0, description="Tracker id of the vehicle (unique per camera while the service runs).")
    first_seen: AwareDatetime = Field(description="Capture time of the track's first frame (UTC).")
    last_seen: AwareDatetime = Field(description="Capture time of the track's last frame (UTC).")
    first_frame: int = Field(ge=0, description="Frame number of the first sighting in the camera's stream.")
    last_frame: int = Field(ge=0, description="Frame number of the last sighting.")
    frames_seen: int = Field(ge=1, description="Detected frames in which the track had a box.")
    views_fused: int = Field(ge=0, description="Classifications fused into the labels (0: never classified).")
    detector_class: str = Field(description="The detector class the track's boxes had most often.")
    labels: dict[str, list[LabelProb]] = Field(
        default_factory=dict, description="Classifier head → its top-k fused labels with probabilities."
    )
    label_changes: int = Field(ge=0, default=0, description="Times a head's fused top-1 label changed (flicker).")
    alerted_entries: list[str] = Field(default_factory=list, description="Watchlist entries the track alerted on.")
    best_snapshot_key: str | None = Field(
        default=None, description="Redis key of the track's best crop (JPEG, expires), or null."
    )
    worker_id: WorkerId = None
    lease_token: LeaseToken = None
    plate_read: PlateReadOut | None = Field(
        default=None, description="The track's fused plate read (tracking.plates on and a plate read), or null."
    )

    @field_validator("first_seen", "last_seen")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_json(self) -> str:
        """Compact JSON, one line (``plate_read`` left out when there is none, as in the messages before it)."""
        return self.model_dump_json(exclude={"plate_read"} if self.plate_read is None else None)

    @classmethod
    def from_json(cls, data: str | bytes) -> TrackSummary:
        """Parses and validates an event; raises pydantic's ``ValidationError`` (a ``ValueError``) when malformed."""
        return cls.model_validate_json(data)


def build_summary(
    *,
    camera_id: str,
    track_id: int,
    first_seen: float,
    last_seen: float,
    first_frame: int,
    last_frame: int,
    frames_seen: int,
    views_fused: int,
    detector_class: str,
    classification: Classification | None,
    label_changes: int = 0,
    alerted_entries: list[str] | None = None,
    top_k: int = 3,
    plate_read: PlateReadOut | None = None,
) -> TrackSummary:
    """A track's summary; times are Unix seconds (``Frame.captured_at``)."""
    labels = (
        {
            head: [LabelProb(label=s.label, prob=min(max(s.prob, 0.0), 1.0)) for s in scores]
            for head, scores in classification.top(top_k).items()
        }
        if classification is not None
        else {}
    )
    return TrackSummary(
        camera_id=camera_id,
        track_id=track_id,
        first_seen=utc_datetime(first_seen),
        last_seen=utc_datetime(last_seen),
        first_frame=first_frame,
        last_frame=last_frame,
        frames_seen=frames_seen,
        views_fused=views_fused,
        detector_class=detector_class,
        labels=labels,
        label_changes=label_changes,
        alerted_entries=sorted(alerted_entries or []),
        plate_read=plate_read,
    )


class CameraEvent(BaseModel):
    """A camera came up, went down or stopped (schema version 1), on the track events stream beside the summaries.

    Dashboards alert on ``state``: ``reconnecting`` or ``stopped`` is a camera down, ``streaming`` one back up.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(default=1, description="Message schema version.")
    event_id: str = Field(default_factory=new_alert_id, description="Unique, time-sortable id (UUIDv7).")
    camera_id: str = Field(description="The camera.")
    state: str = Field(description="State entered: streaming, reconnecting or stopped.")
    previous: str = Field(description="State left: not_started, connecting, streaming or reconnecting.")
    reason: str = Field(description="Why, in one line (credentials redacted): an error, 'ended', 'stopped' ...")
    at: AwareDatetime = Field(description="When the state changed (UTC).")

    @field_validator("at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


@dataclass(frozen=True, slots=True, eq=False)
class _Pending:
    event: TrackSummary
    jpeg: bytes | None


def _encode(pending: _Pending) -> Encoded:
    return Encoded(pending.event.event_id, pending.event.to_json().encode(), pending.jpeg)


def _decode(body: bytes, attachment: bytes | None) -> _Pending:
    return _Pending(TrackSummary.from_json(body), attachment)  # a malformed body raises ValueError (pydantic's)


class TrackEventPublisher:
    """Writes track summaries to their Redis stream from a thread of its own (best effort, bounded).

    Example:
        >>> publisher = TrackEventPublisher(client, TrackEventSettings(enabled=True)).start()  # doctest: +SKIP
        >>> publisher.submit(summary, best_crop)  # doctest: +SKIP
        >>> publisher.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        client: redis.Redis,
        settings: TrackEventSettings,
        *,
        spool: Spool | None = None,
        dedup_ttl_s: int = DEFAULT_DEDUP_TTL_S,
    ) -> None:
        """
        Args:
            client: the Redis client.
            settings: stream, trimming, snapshot and retry settings.
            spool: the on-disk spool events wait in (evictable records); None: in memory (``max_pending``).
            dedup_ttl_s: seconds Redis remembers a written event id, so a replayed event is not added twice.
        """
        self.client = client
        self.settings = settings
        self.dedup_ttl_s = dedup_ttl_s
        backlog = SpoolBacklog(spool, SPOOL_KIND, _encode, _decode, evictable=True) if spool is not None else None
        self._writer: RedisWriter[_Pending, None] = RedisWriter(
            "track-events",
            "track event",
            self._write,
            describe=lambda pending: f"track {pending.event.camera_id}/{pending.event.track_id}",
            max_pending=settings.max_pending,
            retry_initial_s=settings.retry_initial_s,
            retry_max_s=settings.retry_max_s,
            backlog=backlog,
        )
        self._lock = threading.Lock()
        self.dropped = 0
        self._camera_writer: RedisWriter[CameraEvent, object] | None = None  # see submit_camera_event

    def start(self) -> TrackEventPublisher:
        self._writer.start()
        return self

    def close(self, timeout: float = 5.0) -> int:
        """Writes what is queued for up to ``timeout`` seconds, then stops; returns how many events were lost."""
        if self._camera_writer is not None:
            self._camera_writer.close(timeout)
        return self._writer.close(timeout)

    def submit(self, event: TrackSummary, crop_bgr: NDArray[np.uint8] | None = None) -> bool:
        """Queues an event (with its best crop); False when dropped (``max_pending`` events waiting, or closed)."""
        jpeg = encode_jpeg(crop_bgr, self.settings.jpeg_quality) if self.settings.snapshot else None
        if jpeg is not None:
            event = event.model_copy(update={"best_snapshot_key": self.settings.snapshot_key_prefix + event.event_id})
        try:
            # Never waits: a summary is not worth slowing the pipeline for, unlike an alert.
            queued = self._writer.submit(_Pending(event, jpeg), timeout=0)
        except WriterClosedError:
            return False
        if not queued:
            with self._lock:
                self.dropped += 1
            logger.warning("track event for %s/%d dropped: Redis is behind", event.camera_id, event.track_id)
        return queued

    def submit_camera_event(self, event: CameraEvent) -> bool:
        """Queues a camera state event for the stream (entry fields ``event_id``, ``camera_id``, ``camera``).

        Never waits; False when dropped. The events go through a small writer of their own, in memory, started on
        first use: a camera's state is news rather than a record to spool, and must not queue behind (or evict)
        track summaries.
        """
        with self._lock:
            if self._camera_writer is None:
                settings = self.settings
                self._camera_writer = RedisWriter(
                    "camera-events",
                    "camera event",
                    lambda e: self.client.xadd(
                        settings.stream,
                        {"event_id": e.event_id, "camera_id": e.camera_id, STREAM_FIELD_CAMERA: e.model_dump_json()},
                        maxlen=settings.stream_maxlen,
                        approximate=True,
                    ),
                    describe=lambda e: f"camera {e.camera_id} {e.state}",
                    max_pending=settings.max_pending,
                    retry_initial_s=settings.retry_initial_s,
                    retry_max_s=settings.retry_max_s,
                )
                self._camera_writer.start()
            writer = self._camera_writer
        try:
            return writer.submit(event, timeout=0)
        except WriterClosedError:
            return False

    @property
    def pending(self) -> int:
        return self._writer.pending

    @property
    def published(self) -> int:
        return self._writer.written

    @property
    def errors(self) -> int:
        return self._writer.errors

    def _write(self, item: _Pending) -> None:
        event = item.event
        snapshot = None
        if item.jpeg is not None and event.best_snapshot_key is not None:
            snapshot = Snapshot(event.best_snapshot_key, item.jpeg, self.settings.snapshot_ttl_s)
        xadd_once(
            self.client,
            stream=self.settings.stream,
            record_id=event.event_id,
            fields={"event_id": event.event_id, "camera_id": event.camera_id, STREAM_FIELD_TRACK: event.to_json()},
            maxlen=self.settings.stream_maxlen,
            dedup_ttl_s=self.dedup_ttl_s,
            snapshot=snapshot,
        )
