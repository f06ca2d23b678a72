"""Operators' labels (the ``labels`` table, next to the sightings in the history database) and their export.

A label says what a vehicle is, field by field (``make``, ``color``, ``body_type``): a label the loaded heads know,
``unknown`` ("can't tell"), or nothing (not given). For an alert it may also carry the operator's verdict
(``right_vehicle`` / ``wrong_vehicle`` with the wrong fields named). Labels come from the review page or the API
(on a sighting: its snapshot is the view) and from ``vehiclewatch label`` (on loose crops). Each view is copied
into the labels folder when the label is made, so a label outlives the sightings' retention.

Labels are never deleted: undo marks one undone (who and when), kept for audit. A new label by the same person on
the same views of the same track replaces their previous one (it is marked undone by them): correcting oneself is
not a disagreement. Two live labels of one track naming different values for a field are a conflict: flagged, never
averaged; the export leaves that field empty and counts it.

The export is the dataset format of issue 19 (``labels.csv`` + the crops, one row per view): directly usable by
`vehiclewatch train` / `eval` (``--label-column make``) and by `vehiclewatch adapt`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from redisbus.data_dir import default_data_dir
from streamer.history.store import Sighting, SightingsStore, metadata, sightings

# The label fields and the bank heads that answer them (first present wins). The same mapping as
# `classifiers.adaptation.fields.FIELD_HEADS` of issue 19's design (owned by the adaptation package); kept here
# until that package is merged so the history does not depend on it.
FIELD_HEADS: dict[str, tuple[str, ...]] = {"make": ("make",), "color": ("color",), "body_type": ("type", "body_type")}
FIELDS: tuple[str, ...] = tuple(FIELD_HEADS)
CANT_TELL = "unknown"
VERDICTS = ("right_vehicle", "wrong_vehicle")
CSV_COLUMNS = (
    "path",
    "camera_id",
    "track",
    "time",
    "make",
    "color",
    "body_type",
    "labelled_by",
    "labelled_at",
    "sighting_id",
)

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("camera_id", sa.String(128), nullable=False, index=True),
    sa.Column("sighting_id", sa.String(64), index=True),
    sa.Column("track_id", sa.Integer),
    sa.Column("track", sa.String(160), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("seen_at", sa.Float, nullable=False),
    sa.Column("make", sa.String(64)),
    sa.Column("color", sa.String(32)),
    sa.Column("body_type", sa.String(32)),
    sa.Column("verdict", sa.String(16)),
    sa.Column("wrong_fields", sa.String(64)),
    sa.Column("views_json", sa.Text, nullable=False),
    sa.Column("labelled_by", sa.String(128), nullable=False),
    sa.Column("labelled_at", sa.Float, nullable=False),
    sa.Column("undone_at", sa.Float),
    sa.Column("undone_by", sa.String(128)),
)

Vocabulary = Mapping[str, Sequence[str]]
"""Field → the labels the loaded heads know for it (a field with no head: absent or empty)."""


class LabelError(ValueError):
    """Bad input for a label (one line); nothing was changed."""


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


class ExportSummary(BaseModel):
    """What an export wrote, and what it left out (and why)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    rows: int = Field(description="Views written (rows of labels.csv).")
    tracks: int = Field(description="Vehicles (tracks) with at least one view written.")
    labels: int = Field(description="Live labels read.")
    conflicted_fields: int = Field(description="Track fields left empty because live labels disagree on them.")
    left_out: dict[str, int] = Field(description="Views not written, by reason.")


def labels_dir() -> Path:
    """Where the labelled views and exports are kept by default: ``labels/`` in the data directory."""
    return default_data_dir() / "labels"


def vocabulary_of(heads: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Field → sorted labels, from a bank's ``head → labels`` (first head of `FIELD_HEADS` present wins)."""
    out: dict[str, tuple[str, ...]] = {}
    for field, names in FIELD_HEADS.items():
        head = next((h for h in names if h in heads), None)
        if head is not None:
            out[field] = tuple(sorted(heads[head], key=str.lower))
    return out


def check_fields(fields: Mapping[str, str | None], vocabulary: Vocabulary) -> dict[str, str | None]:
    """The fields with each value spelled as its head spells it (or ``unknown``).

    Raises:
        LabelError: an unknown field, or a value no loaded head knows for it.
    """
    out: dict[str, str | None] = {}
    for field, raw in fields.items():
        if field not in FIELD_HEADS:
            raise LabelError(f"unknown field {field!r}: the fields are {', '.join(FIELDS)}")
        value = (raw or "").strip()
        if not value:
            out[field] = None
            continue
        if value.lower() in (CANT_TELL, "?"):
            out[field] = CANT_TELL
            continue
        known = {label.lower(): label for label in vocabulary.get(field, ())}
        if not known:
            raise LabelError(f"no loaded head knows {field} labels: {field} {value!r} cannot be checked")
        canonical = known.get(value.lower())
        if canonical is None:
            raise LabelError(f"unknown {field} {value!r}: not among the {len(known)} labels the loaded heads know")
        out[field] = canonical
    return out


def service_answers(sighting: Sighting) -> dict[str, tuple[str, float] | None]:
    """The service's top answer per field (label as its head spells it, calibrated probability)."""
    out: dict[str, tuple[str, float] | None] = {}
    for field, heads in FIELD_HEADS.items():
        top = next((sighting.labels[h][0] for h in heads if sighting.labels.get(h)), None)
        out[field] = None if top is None else (str(top["label"]), float(top["prob"]))
    return out


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


def _slug(text: str) -> str:
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
        _check_verdict(sighting.kind, verdict, wrong_fields)
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
            "track": self._track_key(sighting),
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
        target = self.folder / "views" / _slug(camera_id) / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".part")
            temporary.write_bytes(data)
            temporary.replace(target)
        return str(target)

    def _track_key(self, sighting: Sighting) -> str:
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
            connection.execute(labels.update().where(c.id == label_id).values(undone_at=time.time(), undone_by=who))
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

    def export(self, folder: Path, camera: str | None = None) -> ExportSummary:
        """Writes ``labels.csv`` + the crops (``crops/<camera>/...``) into ``folder`` (new or empty).

        Raises:
            LabelError: the folder holds files already.
        """
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise LabelError(f"{folder}: not an empty folder (an export never overwrites)")
        live = self.find(camera)
        merged, conflicted = merge_tracks(live)
        rows: list[dict[str, str]] = []
        left_out: dict[str, int] = defaultdict(int)
        written: set[tuple[str, str]] = set()
        folder.mkdir(parents=True, exist_ok=True)
        for label in sorted(live, key=lambda x: (x.camera_id, x.track, -x.labelled_at.timestamp())):
            key = (label.camera_id, label.track)
            values = merged[key]
            if not any(values.values()):
                left_out["no field value (verdict only, or every field in conflict)"] += len(label.views)
                continue
            for view in label.views:
                source = Path(view)
                relative = Path("crops") / _slug(label.camera_id) / source.name
                if (label.camera_id, relative.as_posix()) in written:
                    continue  # the same view labelled twice (two people): one row
                if not source.is_file():
                    left_out["view file missing"] += 1
                    continue
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, folder / relative)
                written.add((label.camera_id, relative.as_posix()))
                rows.append(
                    {
                        "path": relative.as_posix(),
                        "camera_id": label.camera_id,
                        "track": label.track,
                        "time": f"{label.seen_at.timestamp():.3f}",
                        **{f: values[f] or "" for f in FIELDS},
                        "labelled_by": label.labelled_by,
                        "labelled_at": label.labelled_at.isoformat(),
                        "sighting_id": label.sighting_id or "",
                    }
                )
        with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        return ExportSummary(
            path=str(folder),
            rows=len(rows),
            tracks=len({(r["camera_id"], r["track"]) for r in rows}),
            labels=len(live),
            conflicted_fields=conflicted,
            left_out=dict(left_out),
        )


def _check_verdict(kind: str, verdict: str | None, wrong_fields: Sequence[str]) -> None:
    if verdict is None:
        if wrong_fields:
            raise LabelError("wrong_fields need the verdict wrong_vehicle")
        return
    if kind != "alert":
        raise LabelError("a verdict (right/wrong vehicle) is for alerts; this sighting is a track")
    if verdict not in VERDICTS:
        raise LabelError(f"unknown verdict {verdict!r}: right_vehicle or wrong_vehicle")
    unknown = [f for f in wrong_fields if f not in FIELD_HEADS]
    if unknown:
        raise LabelError(f"unknown field {unknown[0]!r} in wrong_fields: the fields are {', '.join(FIELDS)}")
    if verdict == "wrong_vehicle" and not wrong_fields:
        raise LabelError("wrong_vehicle: name the field(s) that were wrong")
    if verdict == "right_vehicle" and wrong_fields:
        raise LabelError("right_vehicle takes no wrong_fields")


def find_conflicts(live: Iterable[Label]) -> list[Conflict]:
    """Per track and field, the named values when there is more than one (``unknown`` is no claim)."""
    named: dict[tuple[str, str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for label in live:
        for field in FIELDS:
            value = label.value(field)
            if value is not None and value != CANT_TELL:
                named[(label.camera_id, label.track, field)][value].append(label.id)
    return [
        Conflict(camera_id=camera, track=track, field=field, values={k: sorted(v) for k, v in values.items()})
        for (camera, track, field), values in sorted(named.items())
        if len(values) > 1
    ]


def merge_tracks(live: Iterable[Label]) -> tuple[dict[tuple[str, str], dict[str, str | None]], int]:
    """Per track, each field's value over its live labels: the one named value; ``unknown`` when only "can't tell"
    was said; None when nothing was, or when labels disagree (a conflict, counted)."""
    said: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: {f: set() for f in FIELDS})
    for label in live:
        for field in FIELDS:
            value = label.value(field)
            if value is not None:
                said[(label.camera_id, label.track)][field].add(value)
    merged: dict[tuple[str, str], dict[str, str | None]] = {}
    conflicted = 0
    for key, fields in said.items():
        merged[key] = {}
        for field, values in fields.items():
            named = values - {CANT_TELL}
            if len(named) > 1:
                conflicted += 1
            merged[key][field] = (
                next(iter(named)) if len(named) == 1 else (CANT_TELL if values == {CANT_TELL} else None)
            )
    return merged, conflicted
