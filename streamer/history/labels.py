"""Operators' labels: the ``labels`` table, next to the sightings in the history database.

A label says what a vehicle is, field by field (``make``, ``color``, ``body_type``): a label the loaded heads know,
``unknown`` ("can't tell"), or nothing (not given). For an alert it may also carry the operator's verdict
(``right_vehicle`` / ``wrong_vehicle`` with the wrong fields named). Labels come from the review page or the API
(on a sighting: its snapshot is the view) and from ``vehiclewatch label`` (on loose crops). Each view is copied
into the labels folder when the label is made, so a label outlives the sightings' retention.

Labels are never deleted: undo marks one undone (who and when), kept for audit. A new label by the same person on
the same views of the same track replaces their previous one (it is marked undone by them): correcting oneself is
not a disagreement. Two live labels of one track naming different values for a field are a conflict: flagged, never
averaged; the export (`streamer.history.label_export`) leaves that field empty and counts it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from classifiers.adaptation.fields import CANT_TELL
from redisbus.data_dir import default_data_dir
from streamer.history.label_fields import (
    FIELDS,
    LabelError,
    Vocabulary,
    check_fields,
    check_verdict,
)
from streamer.history.settings import HistorySettings
from streamer.history.store import Sighting, SightingsStore, metadata, sightings

MAX_CAMERA, MAX_TRACK, MAX_WHO = 128, 160, 128  # the columns' sizes (PostgreSQL refuses longer values)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("camera_id", sa.String(MAX_CAMERA), nullable=False, index=True),
    sa.Column("sighting_id", sa.String(64), index=True),
    sa.Column("track_id", sa.Integer),
    sa.Column("track", sa.String(MAX_TRACK), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("seen_at", sa.Float, nullable=False),
    sa.Column("make", sa.String(64)),
    sa.Column("color", sa.String(32)),
    sa.Column("body_type", sa.String(32)),
    sa.Column("verdict", sa.String(16)),
    sa.Column("wrong_fields", sa.String(64)),
    sa.Column("views_json", sa.Text, nullable=False),
    sa.Column("labelled_by", sa.String(MAX_WHO), nullable=False),
    sa.Column("labelled_at", sa.Float, nullable=False),
    sa.Column("undone_at", sa.Float),
    sa.Column("undone_by", sa.String(MAX_WHO)),
)


class Label(BaseModel):
    """One operator's label, as the API and the CLI show it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    camera_id: str
    sighting_id: str | None = Field(description="The labelled sighting; null for loose crops labelled by the CLI.")
    track_id: int | None
    track: str = Field(description="The vehicle's key within the camera (all its views share it).")
    kind: Literal["track", "alert"]
    seen_at: datetime = Field(description="When the vehicle was seen (the sighting's first frame, or the crop's file).")
    make: str | None = Field(description="The make; 'unknown' = can't tell; null = not given.")
    color: str | None
    body_type: str | None
    verdict: Literal["right_vehicle", "wrong_vehicle"] | None = Field(description="Alerts: the operator's verdict.")
    wrong_fields: list[str] = Field(description="Alerts judged the wrong vehicle: the fields that were wrong.")
    views: list[str] = Field(description="The labelled views (crops kept in the labels folder).")
    labelled_by: str = Field(description="Who: the API token's name, or the CLI user.")
    labelled_at: datetime
    undone_at: datetime | None
    undone_by: str | None

    @property
    def live(self) -> bool:
        return self.undone_at is None

    def value(self, field: str) -> str | None:
        found: str | None = getattr(self, field)
        return found


class Conflict(BaseModel):
    """Live labels of one track that name different values for one field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str
    track: str
    field: str
    values: dict[str, list[int]] = Field(description="Each value named → the ids of the labels naming it.")


def labels_dir(settings: HistorySettings | None = None) -> Path:
    """Where the labelled views and exports are kept: ``history.labels_dir``, else ``labels/`` in the data
    directory."""
    if settings is not None and settings.labels_dir is not None:
        return Path(settings.labels_dir)
    return default_data_dir() / "labels"


def _iso(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _label(row: sa.RowMapping) -> Label:
    return Label(
        id=row["id"],
        camera_id=row["camera_id"],
        sighting_id=row["sighting_id"],
        track_id=row["track_id"],
        track=row["track"],
        kind=row["kind"],
        seen_at=datetime.fromtimestamp(row["seen_at"], UTC),
        make=row["make"],
        color=row["color"],
        body_type=row["body_type"],
        verdict=row["verdict"],
        wrong_fields=[f for f in (row["wrong_fields"] or "").split(",") if f],
        views=json.loads(row["views_json"]),
        labelled_by=row["labelled_by"],
        labelled_at=datetime.fromtimestamp(row["labelled_at"], UTC),
        undone_at=_iso(row["undone_at"]),
        undone_by=row["undone_by"],
    )


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._") or "_"


@dataclass
class LabelsStore:
    """The labels table on the sightings' engine, and the folder the labelled views are kept in.

    Args:
        history: the sightings store (its engine; sightings are looked up there).
        folder: where views are copied (``views/<camera>/<sha256>.<ext>``); default `labels_dir`.
    """

    history: SightingsStore
    folder: Path

    @classmethod
    def open(cls, history: SightingsStore, folder: Path | None = None) -> LabelsStore:
        labels.create(history.engine, checkfirst=True)
        return cls(history, folder if folder is not None else labels_dir())

    @property
    def engine(self) -> sa.Engine:
        return self.history.engine

    # --- adding -------------------------------------------------------------------------------------------------

    def label_sighting(
        self,
        sighting_id: str,
        fields: Mapping[str, str | None],
        who: str,
        vocabulary: Vocabulary,
        *,
        verdict: str | None = None,
        wrong_fields: Sequence[str] = (),
    ) -> Label:
        """Labels a sighting (its snapshot is the view).

        Raises:
            LabelError: an unknown sighting, one without views left, an unknown value, a verdict on a track.
        """
        checked = check_fields(fields, vocabulary)
        sighting = self.history.get(sighting_id)
        if sighting is None:
            raise LabelError(f"no sighting {sighting_id!r}")
        check_verdict(sighting.kind, verdict, wrong_fields)
        if not any(checked.values()) and verdict is None:
            raise LabelError("nothing to label: give a value (or 'unknown') for at least one field")
        snapshot = self.history.snapshot_path(sighting_id)
        if snapshot is None or not Path(snapshot).is_file():
            raise LabelError(f"sighting {sighting_id!r} has no views left (its snapshot expired or was never kept)")
        view = self._keep(sighting.camera_id, Path(snapshot))
        row = {
            "camera_id": sighting.camera_id,
            "sighting_id": sighting.id,
            "track_id": sighting.track_id,
            "track": self.track_of(sighting),
            "kind": sighting.kind,
            "seen_at": sighting.first_seen.timestamp(),
            "verdict": verdict,
            "wrong_fields": ",".join(sorted(set(wrong_fields))) or None,
            "views_json": json.dumps([view]),
            "labelled_by": who,
            **checked,
        }
        return self._add(row)

    def label_crop(
        self,
        camera_id: str,
        track: str,
        crop: Path,
        fields: Mapping[str, str | None],
        who: str,
        vocabulary: Vocabulary,
        *,
        seen_at: float | None = None,
    ) -> Label:
        """Labels a loose crop (no sighting): the file is copied into the labels folder.

        Raises:
            LabelError: an unreadable crop, an empty camera or track, an unknown value, nothing given.
        """
        checked = check_fields(fields, vocabulary)
        if not camera_id.strip() or not track.strip():
            raise LabelError("a crop label needs a camera id and a track")
        if len(camera_id) > MAX_CAMERA or len(track) > MAX_TRACK:
            raise LabelError(f"a camera id is at most {MAX_CAMERA} characters, a track at most {MAX_TRACK}")
        if not crop.is_file():
            raise LabelError(f"{crop}: no such file")
        if not any(checked.values()):
            raise LabelError("nothing to label: give a value (or 'unknown') for at least one field")
        view = self._keep(camera_id, crop)
        row = {
            "camera_id": camera_id,
            "sighting_id": None,
            "track_id": None,
            "track": track,
            "kind": "track",
            "seen_at": seen_at if seen_at is not None else crop.stat().st_mtime,
            "verdict": None,
            "wrong_fields": None,
            "views_json": json.dumps([view]),
            "labelled_by": who,
            **checked,
        }
        return self._add(row)

    def _keep(self, camera_id: str, source: Path) -> str:
        """Copies a view into the labels folder, named by its content (the same crop twice is one file)."""
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise LabelError(f"{source}: cannot read ({exc.strerror})") from None
        suffix = source.suffix.lower() if source.suffix.lower() in (".jpg", ".jpeg", ".png") else ".jpg"
        target = self.folder / "views" / slug(camera_id) / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".part")
            temporary.write_bytes(data)
            temporary.replace(target)
        return str(target)

    def track_of(self, sighting: Sighting) -> str:
        """The vehicle's key: a track summary's own id; an alert's, the summary of the track it fired on (same
        camera and track id, its time within the track's), else the alert's id."""
        if sighting.kind == "track" or sighting.track_id is None:
            return sighting.id
        c = sightings.c
        seen = sighting.first_seen.timestamp()
        statement = sa.select(c.id).where(
            c.kind == "track",
            c.camera_id == sighting.camera_id,
            c.track_id == sighting.track_id,
            c.first_seen <= seen,
            c.last_seen >= seen,
        )
        with self.engine.connect() as connection:
            found = connection.execute(statement.limit(1)).scalar_one_or_none()
        return str(found) if found is not None else sighting.id

    def _add(self, row: dict[str, Any]) -> Label:
        row["labelled_by"] = row["labelled_by"][:MAX_WHO]
        now = time.time()
        c = labels.c
        with self.engine.begin() as connection:
            # The same person labelling the same views of the same track again corrects themself.
            connection.execute(
                labels.update()
                .where(
                    c.camera_id == row["camera_id"],
                    c.track == row["track"],
                    c.kind == row["kind"],
                    c.labelled_by == row["labelled_by"],
                    c.views_json == row["views_json"],
                    c.undone_at.is_(None),
                )
                .values(undone_at=now, undone_by=row["labelled_by"])
            )
            inserted = connection.execute(labels.insert().values(**row, labelled_at=now)).inserted_primary_key
            assert inserted is not None  # an autoincrement key is always returned
            stored = connection.execute(sa.select(labels).where(c.id == inserted[0])).mappings().one()
        return _label(stored)

    # --- undo, reading ------------------------------------------------------------------------------------------

    def undo(self, label_id: int, who: str) -> Label:
        """Marks a label undone (kept for audit).

        Raises:
            LabelError: no such label, or it is undone already.
        """
        c = labels.c
        with self.engine.begin() as connection:
            row = connection.execute(sa.select(labels).where(c.id == label_id)).mappings().first()
            if row is None:
                raise LabelError(f"no label {label_id}")
            if row["undone_at"] is not None:
                raise LabelError(f"label {label_id} was already undone by {row['undone_by']}")
            connection.execute(
                labels.update().where(c.id == label_id).values(undone_at=time.time(), undone_by=who[:MAX_WHO])
            )
            row = connection.execute(sa.select(labels).where(c.id == label_id)).mappings().one()
        return _label(row)

    def get(self, label_id: int) -> Label | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(labels).where(labels.c.id == label_id)).mappings().first()
        return None if row is None else _label(row)

    def find(
        self,
        camera: str | None = None,
        *,
        include_undone: bool = False,
        sighting_ids: Iterable[str] | None = None,
        tracks: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[Label]:
        """Labels, newest first."""
        c = labels.c
        where: list[Any] = []
        if camera is not None:
            where.append(c.camera_id == camera)
        if not include_undone:
            where.append(c.undone_at.is_(None))
        if sighting_ids is not None:
            where.append(c.sighting_id.in_(list(sighting_ids)))
        if tracks is not None:
            where.append(c.track.in_(list(tracks)))
        statement = sa.select(labels).where(*where).order_by(c.labelled_at.desc(), c.id.desc())
        if limit is not None:
            statement = statement.limit(limit)
        with self.engine.connect() as connection:
            return [_label(row) for row in connection.execute(statement).mappings()]

    def conflicts(self, camera: str | None = None, tracks: Iterable[str] | None = None) -> list[Conflict]:
        """Fields on which a track's live labels name different values ("can't tell" disagrees with nobody)."""
        return find_conflicts(self.find(camera, tracks=tracks))

    def cameras(self) -> list[str]:
        """The cameras with sightings or labels, sorted."""
        with self.engine.connect() as connection:
            seen = set(connection.execute(sa.select(sightings.c.camera_id).distinct()).scalars())
            seen |= set(connection.execute(sa.select(labels.c.camera_id).distinct()).scalars())
        return sorted(seen)

    # --- export -------------------------------------------------------------------------------------------------


def find_conflicts(live: Iterable[Label]) -> list[Conflict]:
    """Per track and field, the named values when there is more than one (``unknown`` is no claim)."""
    named: dict[tuple[str, str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for label in live:
        for field in FIELDS:
            value = label.value(field)
            if value is not None and value != CANT_TELL:
                named[(label.camera_id, label.track, field)][value].append(label.id)
    return [
        Conflict(camera_id=camera, track=track, field=field, values={k: sorted(v) for k, v in sorted(values.items())})
        for (camera, track, field), values in sorted(named.items())
        if len(values) > 1
    ]
