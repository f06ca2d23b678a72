"""The alert message: what a watchlist match publishes to Redis, as versioned JSON.

Consumers check ``schema_version`` and de-duplicate on ``alert_id`` (a publish retried after a lost reply can
deliver the same alert twice). Version 2 added the entry's priority, source, plate and expiry, the threshold, the
score's factors and the per-field breakdown; version 3 the fleet stamp and the plate read; version 4 ``decided_by``
(which version of each head decided: the shipped model or a camera's adapted head). Older messages still parse
(the fields they lack take their defaults).
:func:`alert_json_schema` gives the JSON Schema (``vehiclewatch watchlist schema alert``).

Labels: inside the service a label is a :class:`classifiers.types.LabelScore` (label, prob), and a label's part in
a field score a :class:`watchlists.match_result.LabelContribution` (the same plus its weight). On the wire they are
:class:`LabelProb` and :class:`LabelShare` (which extends it with ``weight``): two shapes, because the published
schema names them apart (``LabelShare`` also describes its ``label`` in its own words), converted only here
(:func:`label_prob`, :func:`label_share`).

Example of the JSON (one line on the wire; see docs/alerts.md for a whole one)::

    {"schema_version": 4, "alert_id": "0190f5d2-6b8e-7c3a-9f1e-2b4c6d8e0a1b",
     "captured_at": "2024-07-01T12:00:00.250000Z", "published_at": "2024-07-01T12:00:00.310000Z",
     "camera_id": "gate", "frame_index": 1234, "box": {"x1": 410.0, "y1": 220.5, "x2": 690.0, "y2": 400.0},
     "detector_class": "car", "detector_confidence": 0.91,
     "classifications": {"make": [{"label": "Honda", "prob": 0.82}, ...], "color": [...]},
     "entry": {"id": "stolen-civic", "description": "Silver Honda Civic", "priority": "high", ...}, "score": 0.71,
     "threshold": 0.5, "field_scores": {"make": 0.82, "color": 0.87}, "factors": [...], "breakdown": [...],
     "snapshot_key": "vehiclewatch:snapshot:0190f5d2-...", "track_id": null, "views_fused": null,
     "decided_by": {"make": "gate/v0002", "color": "base"}}
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from classifiers.types import Classification, LabelScore
from watchlists.entry_model import Priority, WatchlistEntry
from watchlists.match_result import FieldScore, LabelContribution, Match
from watchlists.settings import DEFAULT_TOP_K

SCHEMA_VERSION: Literal[4] = 4

# The fleet's stamp, on alerts and track summaries alike (streamer.fleet.stamping sets it).
WorkerId = Annotated[
    str | None,
    Field(description="Fleet worker that read the camera (`run --worker`), or null (a single service)."),
]
LeaseToken = Annotated[
    int | None,
    Field(
        ge=1,
        description="Fencing token of the worker's lease on the camera: drop messages below the largest seen, or null.",
    ),
]

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


class PlateReadOut(BaseModel):
    """A vehicle's licence plate as the plate reader read it (fused over the track's reads)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(description="The plate: upper-case letters and digits, no separators.")
    confidence: float = Field(ge=0.0, le=1.0, description="Probability that the whole text is right.")
    char_confidences: list[float] = Field(description="Per character of text, the probability that it is right.")
    box: Box = Field(description="The plate's text in frame pixels (on the frame of the read it was taken from).")
    reads: int = Field(ge=1, description="Plate reads fused into the text.")


class LabelProb(BaseModel):
    """One label of a classifier head with its probability."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(description="Label name as the classifier gives it.")
    prob: float = Field(ge=0.0, le=1.0, description="Probability the head gives to the label.")


class LabelShare(LabelProb):
    """One label's part in a field score: prob × weight (weight below 1: a confusable colour's partial credit)."""

    label: str = Field(description="Label of the classifier head.")
    weight: float = Field(ge=0.0, le=1.0, description="How much the label counts for the field (1: it is the value).")


class EntryRef(BaseModel):
    """The watchlist entry an alert is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Entry id from the watchlist.")
    description: str = Field(default="", description="Entry description from the watchlist.")
    priority: Priority = Field(default=Priority.NORMAL, description="Entry priority: low, normal, high, critical.")
    source: str | None = Field(default=None, description="Where the entry came from (agency, alert number).")
    plate: str | None = Field(
        default=None, description="The entry's plate or partial plate pattern ('?' one character, '*' any run)."
    )
    expires_at: AwareDatetime | None = Field(default=None, description="When the entry expires (UTC), or null.")


class FieldExplanation(BaseModel):
    """Why one field of the entry scored what it did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(description="make, model, color, body_type, year or plate.")
    wanted: str = Field(description="What the entry asks for, e.g. 'dark blue', '2015-2017', '*7XK* (partial)'.")
    head: str | None = Field(
        description="Classifier head that judged it ('plate_reader' for plates); null: not judged."
    )
    score: float | None = Field(ge=0.0, le=1.0, description="The field's own probability mass; null: not judged.")
    uncertain: bool = Field(default=False, description="Marked uncertain in the entry: shown, not part of the score.")
    labels: list[LabelShare] = Field(default_factory=list, description="Labels that contributed most, largest first.")
    note: str = Field(default="", description="How it was judged, when that needs saying.")


class ScoreFactorRef(BaseModel):
    """One factor of the score: the joint mass one head gives to the entry's certain fields on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    head: str = Field(description="Classifier head (or 'plate_reader').")
    fields: list[str] = Field(description="The entry's fields judged together on that head.")
    score: float = Field(ge=0.0, le=1.0, description="Their joint probability mass.")


class Alert(BaseModel):
    """A watchlist match, as published (schema version 2; version-1 messages parse too)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1, 2, 3, 4] = Field(default=SCHEMA_VERSION, description="Message schema version.")
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
    score: float = Field(ge=0.0, le=1.0, description="Match score: the product of the factors (watchlists.matching).")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="The threshold the score reached.")
    field_scores: dict[str, float] = Field(default_factory=dict, description="Field → its own probability mass.")
    factors: list[ScoreFactorRef] = Field(default_factory=list, description="Factors whose product is the score.")
    breakdown: list[FieldExplanation] = Field(
        default_factory=list, description="Per field: the head, its score and the labels behind it."
    )
    snapshot_key: str | None = Field(default=None, description="Redis key of the JPEG crop (expires), or null.")
    track_id: int | None = Field(default=None, description="Tracker id of the vehicle, when tracking is on.")
    views_fused: int | None = Field(
        default=None, ge=1, description="Classifications fused into the labels (tracking on), or null (one crop)."
    )
    worker_id: WorkerId = None
    lease_token: LeaseToken = None
    plate_read: PlateReadOut | None = Field(
        default=None, description="The vehicle's plate as read (tracking.plates on and a plate read), or null."
    )
    decided_by: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Head → the version that decided it on this camera when the alert was made: 'base' (the shipped "
            "model) or '<camera>/vNNNN' (the camera's adapted head, taught by operators' labels)."
        ),
    )

    @field_validator("captured_at", "published_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def to_json(self) -> str:
        """Compact JSON, one line. ``plate_read`` is left out when there is none: without a plate reader a message
        is what it was before plates existed, so consumers of schema version 2 read it unchanged."""
        return self.model_dump_json(exclude={"plate_read"} if self.plate_read is None else None)

    @classmethod
    def from_json(cls, data: str | bytes) -> Alert:
        """Parses and validates a message; raises pydantic's ``ValidationError`` (a ``ValueError``) when malformed."""
        return cls.model_validate_json(data)


def _unit(value: float) -> float:
    """Clipped to [0, 1]: float32 sums can land a hair outside."""
    return min(max(float(value), 0.0), 1.0)


def alert_json_schema() -> dict[str, Any]:
    """The JSON Schema of an alert message (as validated when parsing)."""
    return Alert.model_json_schema(mode="validation")


def utc_datetime(timestamp: float) -> datetime:
    """A Unix timestamp (``time.time()``, ``Frame.captured_at``) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)


def label_prob(score: LabelScore) -> LabelProb:
    """A classifier label on the wire (the probability clipped to [0, 1])."""
    return LabelProb(label=score.label, prob=_unit(score.prob))


def label_share(contribution: LabelContribution) -> LabelShare:
    """A label's part in a field score on the wire (probability and weight clipped to [0, 1])."""
    return LabelShare(label=contribution.label, prob=_unit(contribution.prob), weight=_unit(contribution.weight))


def entry_ref(entry: WatchlistEntry) -> EntryRef:
    """What an alert carries of the matched entry."""
    return EntryRef(
        id=entry.id,
        description=entry.description,
        priority=entry.priority,
        source=entry.source,
        plate=entry.plate,
        expires_at=entry.expires_at,
    )


def field_explanation(item: FieldScore) -> FieldExplanation:
    """A field of the match's breakdown on the wire."""
    return FieldExplanation(
        field=item.field,
        wanted=item.wanted,
        head=item.head,
        score=None if item.score is None else _unit(item.score),
        uncertain=item.uncertain,
        labels=[label_share(c) for c in item.labels],
        note=item.note,
    )


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
    plate_read: PlateReadOut | None = None,
    decided_by: Mapping[str, str] | None = None,
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
        plate_read: the vehicle's plate as read, when a plate reader runs.
        decided_by: head → the version deciding it on the camera (``ClassifierBank.decided_by``); kept for the
            classification's heads only.
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
        detector_confidence=_unit(detector_confidence),
        classifications={head: [label_prob(s) for s in scores] for head, scores in classification.top(top_k).items()},
        entry=entry_ref(match.entry),
        score=_unit(match.score),
        threshold=_unit(match.threshold),
        field_scores=match.field_scores,
        factors=[ScoreFactorRef(head=f.head, fields=list(f.fields), score=_unit(f.score)) for f in match.factors],
        breakdown=[field_explanation(item) for item in match.breakdown],
        track_id=track_id,
        views_fused=views_fused,
        plate_read=plate_read,
        decided_by={head: version for head, version in (decided_by or {}).items() if head in classification.heads},
    )
