"""The alert message: what a watchlist match publishes to Redis, as versioned JSON.

Consumers check ``schema_version`` and de-duplicate on ``alert_id`` (a publish retried after a lost reply can
deliver the same alert twice).

Example of the JSON (one line on the wire)::

    {"schema_version": 1, "alert_id": "0190f5d2-6b8e-7c3a-9f1e-2b4c6d8e0a1b",
     "captured_at": "2024-07-01T12:00:00.250000Z", "published_at": "2024-07-01T12:00:00.310000Z",
     "camera_id": "gate", "frame_index": 1234, "box": {"x1": 410.0, "y1": 220.5, "x2": 690.0, "y2": 400.0},
     "detector_class": "car", "detector_confidence": 0.91,
     "classifications": {"make": [{"label": "Honda", "prob": 0.82}, ...], "color": [...]},
     "entry": {"id": "stolen-civic", "description": "Silver Honda Civic"}, "score": 0.71,
     "field_scores": {"make": 0.82, "color": 0.87}, "snapshot_key": "vehiclewatch:snapshot:0190f5d2-...",
     "track_id": null, "views_fused": null}
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from classifiers.types import Classification
from watchlists.matching import Match

SCHEMA_VERSION: Literal[1] = 1
DEFAULT_TOP_K = 3

_id_lock = threading.Lock()
_last_id_ms = 0
_id_sequence = 0


def new_alert_id(now: float | None = None) -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; ids sort by creation time.

    Within one millisecond a 12-bit counter (in the ``rand_a`` field, RFC 9562 method 1) keeps ids of this process
    increasing. Built with the standard library only (``uuid.uuid7`` arrives in Python 3.14).
    """
    global _last_id_ms, _id_sequence
    millis = int((time.time() if now is None else now) * 1000)
    with _id_lock:
        if millis <= _last_id_ms:
            _id_sequence += 1
            if _id_sequence > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_id_ms += 1
                _id_sequence = 0
            millis = _last_id_ms
        else:
            _last_id_ms = millis
            _id_sequence = int.from_bytes(os.urandom(2)) & 0x3FF  # random start leaves room to count up
        sequence = _id_sequence
    random_b = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | sequence << 64 | 0b10 << 62 | random_b
    return str(uuid.UUID(int=value))


class Box(BaseModel):
    """A box in frame pixels, corners (x1, y1) top-left and (x2, y2) bottom-right."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x1: float = Field(description="Left edge, pixels.")
    y1: float = Field(description="Top edge, pixels.")
    x2: float = Field(description="Right edge, pixels.")
    y2: float = Field(description="Bottom edge, pixels.")


class LabelProb(BaseModel):
    """One label of a classifier head with its probability."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(description="Label name as the classifier gives it.")
    prob: float = Field(ge=0.0, le=1.0, description="Probability the head gives to the label.")


class EntryRef(BaseModel):
    """The watchlist entry an alert is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Entry id from the watchlist.")
    description: str = Field(default="", description="Entry description from the watchlist.")


class Alert(BaseModel):
    """A watchlist match, as published (schema version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Message schema version.")
    alert_id: str = Field(default_factory=new_alert_id, description="Unique, time-sortable id (UUIDv7).")
    captured_at: AwareDatetime = Field(description="When the frame was captured (UTC).")
    published_at: AwareDatetime | None = Field(
        default=None, description="When the alert was written to Redis (UTC); set by the publisher."
    )
    camera_id: str = Field(description="Camera that saw the vehicle.")
    frame_index: int = Field(ge=0, description="Frame number in the camera's stream.")
    box: Box = Field(description="Detected vehicle box in frame pixels.")
    detector_class: str = Field(description="Detector class name (car, bus, truck, ...).")
    detector_confidence: float = Field(ge=0.0, le=1.0, description="Detector score of the box.")
    classifications: dict[str, list[LabelProb]] = Field(
        default_factory=dict, description="Classifier head → its top-k labels with probabilities."
    )
    entry: EntryRef = Field(description="The matched watchlist entry.")
    score: float = Field(ge=0.0, le=1.0, description="Match score (see watchlists.matching).")
    field_scores: dict[str, float] = Field(default_factory=dict, description="Field → its own probability mass.")
    snapshot_key: str | None = Field(default=None, description="Redis key of the JPEG crop (expires), or null.")
    track_id: int | None = Field(default=None, description="Tracker id of the vehicle, when tracking is on.")
    views_fused: int | None = Field(
        default=None, ge=1, description="Classifications fused into the labels (tracking on), or null (one crop)."
    )

    @field_validator("captured_at", "published_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def to_json(self) -> str:
        """Compact JSON, one line."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> Alert:
        """Parses and validates a message; raises pydantic's ``ValidationError`` (a ``ValueError``) when malformed."""
        return cls.model_validate_json(data)


def utc_datetime(timestamp: float) -> datetime:
    """A Unix timestamp (``time.time()``, ``Frame.captured_at``) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)


def build_alert(
    *,
    match: Match,
    camera_id: str,
    frame_index: int,
    captured_at: float,
    box: Sequence[float] | NDArray[np.floating[Any]],
    detector_class: str,
    detector_confidence: float,
    classification: Classification,
    top_k: int = DEFAULT_TOP_K,
    track_id: int | None = None,
    views_fused: int | None = None,
) -> Alert:
    """An alert for a match on one detected vehicle.

    Args:
        match: the watchlist match.
        camera_id: camera id (``Frame.camera_id``).
        frame_index: ``Frame.index``.
        captured_at: ``Frame.captured_at`` (Unix seconds).
        box: x1, y1, x2, y2 in frame pixels (a row of ``Detections.boxes`` will do).
        detector_class: the detector's class name for the box.
        detector_confidence: the detector's score.
        classification: the crop's classification; each head's ``top_k`` labels go into the alert.
        top_k: labels kept per head.
        track_id: tracker id, if a tracker runs.
        views_fused: how many classifications of the track were fused into ``classification`` (tracking on).
    """
    if len(box) != 4:
        raise ValueError(f"box must be x1, y1, x2, y2, got {len(box)} numbers")
    x1, y1, x2, y2 = (float(v) for v in box)
    return Alert(
        captured_at=utc_datetime(captured_at),
        camera_id=camera_id,
        frame_index=frame_index,
        box=Box(x1=x1, y1=y1, x2=x2, y2=y2),
        detector_class=detector_class,
        detector_confidence=min(max(float(detector_confidence), 0.0), 1.0),
        classifications={
            head: [LabelProb(label=s.label, prob=min(max(s.prob, 0.0), 1.0)) for s in scores]
            for head, scores in classification.top(top_k).items()
        },
        entry=EntryRef(id=match.entry.id, description=match.entry.description),
        score=min(max(match.score, 0.0), 1.0),
        field_scores=match.field_scores,
        track_id=track_id,
        views_fused=views_fused,
    )
