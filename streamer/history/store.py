"""The sightings table (SQLAlchemy Core: SQLite by default, PostgreSQL by URL) and its queries.

One row per archived message: a track summary (``kind`` ``track``: one vehicle from its first to its last frame)
or an alert (``kind`` ``alert``: a watchlist match). Each head's top label and probability get columns of their
own (colour, make, model, body type, plate) so filters are indexed SQL; the whole label lists stay in
``labels_json`` for ranking "where else was this vehicle seen". Inserts are idempotent on the message's id: a
message delivered twice (at-least-once) is stored once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from redisbus.data_dir import default_data_dir
from streamer.history.settings import HistorySettings
from watchlists.colors import confusion_row

metadata = sa.MetaData()
sightings = sa.Table(
    "sightings",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("camera_id", sa.String(128), nullable=False, index=True),
    sa.Column("track_id", sa.Integer),
    sa.Column("first_seen", sa.Float, nullable=False, index=True),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("seconds_of_day", sa.Integer, nullable=False),
    sa.Column("detector_class", sa.String(32)),
    sa.Column("color", sa.String(32), index=True),
    sa.Column("color_prob", sa.Float),
    sa.Column("make", sa.String(64), index=True),
    sa.Column("make_prob", sa.Float),
    sa.Column("model", sa.String(128), index=True),
    sa.Column("model_prob", sa.Float),
    sa.Column("body_type", sa.String(32)),
    sa.Column("body_type_prob", sa.Float),
    sa.Column("plate", sa.String(32)),
    sa.Column("plate_prob", sa.Float),
    sa.Column("entry_id", sa.String(128)),
    sa.Column("score", sa.Float),
    sa.Column("labels_json", sa.Text, nullable=False),
    sa.Column("snapshot", sa.String(256)),
)

# Head name → column; the first head present gives the column its value.
HEAD_COLUMNS: dict[str, tuple[str, ...]] = {
    "color": ("color",),
    "make": ("make",),
    "model": ("make_model", "model"),
    "body_type": ("type", "body_type"),
    "plate": ("plate", "plate_reader"),
}


def database_url(settings: HistorySettings) -> str:
    if settings.database is not None:
        return settings.database.get_secret_value()
    folder = default_data_dir() / "history"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'sightings.sqlite3'}"


def snapshots_dir(settings: HistorySettings) -> Path:
    return (
        settings.snapshots_dir if settings.snapshots_dir is not None else default_data_dir() / "history" / "snapshots"
    )


class Sighting(BaseModel):
    """One archived sighting, as the API and the CLI show it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: str = Field(description="track (a vehicle's whole track) or alert (a watchlist match).")
    camera_id: str
    track_id: int | None
    first_seen: datetime
    last_seen: datetime
    detector_class: str | None
    color: str | None
    color_prob: float | None
    make: str | None
    make_prob: float | None
    model: str | None
    model_prob: float | None
    body_type: str | None
    body_type_prob: float | None
    plate: str | None
    entry_id: str | None
    score: float | None
    labels: dict[str, list[dict[str, Any]]]
    has_snapshot: bool
    similarity: float | None = Field(default=None, description="'Where else': agreement with the vehicle asked about.")


class SightingsQuery(BaseModel):
    """Filters; every one given must hold (AND)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    time_of_day: str | None = Field(
        default=None, description="HH:MM-HH:MM in UTC, e.g. 14:00-16:00 (may wrap midnight)."
    )
    color: str | None = Field(default=None, description="Colour; near colours (silver for grey...) count too.")
    exact_color: bool = False
    make: str | None = None
    model: str | None = None
    body_type: str | None = None
    plate: str | None = Field(default=None, description="Plate text; '*' any run, '?' one character.")
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="Each filtered attribute's probability.")
    kind: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)


_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _seconds(hh: str, mm: str) -> int:
    hours, minutes = int(hh), int(mm)
    if hours > 24 or minutes > 59:
        raise ValueError("time_of_day: hours 0-24, minutes 0-59")
    return hours * 3600 + minutes * 60


def near_colors(color: str) -> list[str]:
    """The colour and the colours cameras confuse it with (`watchlists.colors`)."""
    key = color.strip().lower()
    return [key, *sorted(confusion_row(key, None))]


def _timestamp(value: datetime) -> float:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def row_values(
    *,
    message_id: str,
    kind: str,
    camera_id: str,
    track_id: int | None,
    first_seen: datetime,
    last_seen: datetime,
    detector_class: str | None,
    labels: Mapping[str, Sequence[Mapping[str, Any]]],
    entry_id: str | None = None,
    score: float | None = None,
    snapshot: str | None = None,
) -> dict[str, Any]:
    """The column values of a sighting."""
    first = _timestamp(first_seen)
    values: dict[str, Any] = {
        "id": message_id,
        "kind": kind,
        "camera_id": camera_id,
        "track_id": track_id,
        "first_seen": first,
        "last_seen": _timestamp(last_seen),
        "seconds_of_day": int(first % 86400),
        "detector_class": detector_class,
        "entry_id": entry_id,
        "score": score,
        "labels_json": json.dumps({head: list(map(dict, top)) for head, top in labels.items()}),
        "snapshot": snapshot,
    }
    for column, heads in HEAD_COLUMNS.items():
        top = next((labels[h][0] for h in heads if labels.get(h)), None)
        values[column] = str(top["label"]).lower() if top is not None else None
        values[f"{column}_prob"] = float(top["prob"]) if top is not None else None
    if values["make"] is None and values["model"]:
        values["make"] = values["model"].split()[0]
        values["make_prob"] = values["model_prob"]
    return values


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_").lower()


@dataclass
class SightingsStore:
    """The database: create, insert (idempotent), query, purge."""

    engine: sa.Engine

    @classmethod
    def open(cls, url: str) -> SightingsStore:
        engine = sa.create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":

            @sa.event.listens_for(engine, "connect")
            def _wal(connection: Any, _record: Any) -> None:
                # WAL: the archiver writes while the API and the CLI read.
                cursor = connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=5000")
                cursor.close()

        metadata.create_all(engine)
        return cls(engine)

    def close(self) -> None:
        """Closes the pooled connections."""
        self.engine.dispose()

    def insert(self, values: dict[str, Any]) -> bool:
        """Stores a sighting; False when one with its id is already there (a redelivered message)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(sightings.insert().values(**values))
        except sa.exc.IntegrityError:
            return False
        return True

    def get(self, sighting_id: str) -> Sighting | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(sightings).where(sightings.c.id == sighting_id)).mappings().first()
        return None if row is None else _sighting(row)

    def snapshot_path(self, sighting_id: str) -> str | None:
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(sightings.c.snapshot).where(sightings.c.id == sighting_id)
            ).scalar_one_or_none()
        return None if value is None else str(value)

    def search(self, query: SightingsQuery) -> list[Sighting]:
        c = sightings.c
        where: list[Any] = []
        if query.camera:
            where.append(c.camera_id == query.camera)
        if query.since is not None:
            where.append(c.last_seen >= _timestamp(query.since))
        if query.until is not None:
            where.append(c.first_seen <= _timestamp(query.until))
        if query.time_of_day:
            match = _TIME_OF_DAY.match(query.time_of_day.strip())
            if match is None:
                raise ValueError("time_of_day must be HH:MM-HH:MM, e.g. 14:00-16:00")
            start, end = _seconds(match[1], match[2]), _seconds(match[3], match[4])
            if start <= end:
                where.append(c.seconds_of_day.between(start, end))
            else:  # wraps midnight: 22:00-02:00
                where.append(sa.or_(c.seconds_of_day >= start, c.seconds_of_day <= end))
        if query.kind:
            where.append(c.kind == query.kind)
        floor = query.min_confidence
        if query.color:
            wanted = [query.color.lower()] if query.exact_color else near_colors(query.color)
            where += [c.color.in_(wanted), c.color_prob >= floor]
        for name, value in (("make", query.make), ("body_type", query.body_type)):
            if value:
                where += [c[name] == value.lower(), c[f"{name}_prob"] >= floor]
        if query.model:
            where += [c.model.like(f"%{_like(query.model)}%", escape="\\"), c.model_prob >= floor]
        if query.plate:
            where += [c.plate.like(_like(query.plate), escape="\\"), c.plate_prob >= floor]
        statement = sa.select(sightings).where(*where).order_by(c.first_seen.desc()).limit(query.limit)
        with self.engine.connect() as connection:
            return [_sighting(row) for row in connection.execute(statement).mappings()]

    def similar(self, sighting_id: str, limit: int = 20) -> list[Sighting]:
        """Other sightings of (probably) the same vehicle: same detector class and colour family, ranked by how
        much their label distributions agree (Bhattacharyya coefficient per shared head, averaged)."""
        this = self.get(sighting_id)
        if this is None:
            raise KeyError(sighting_id)
        c = sightings.c
        where: list[Any] = [c.id != sighting_id]
        if this.color:
            where.append(c.color.in_(near_colors(this.color)))
        if this.detector_class:
            where.append(c.detector_class == this.detector_class)
        if this.track_id is not None:  # an alert and the summary of its own track are the same sighting
            where.append(sa.not_(sa.and_(c.camera_id == this.camera_id, c.track_id == this.track_id)))
        with self.engine.connect() as connection:
            rows = [_sighting(r) for r in connection.execute(sa.select(sightings).where(*where).limit(5000)).mappings()]
        ranked = sorted(
            (other.model_copy(update={"similarity": agreement(this.labels, other.labels)}) for other in rows),
            key=lambda s: -(s.similarity or 0.0),
        )
        return ranked[:limit]

    def purge(self, before: float) -> list[str]:
        """Deletes sightings last seen before ``before`` (Unix seconds); returns their snapshot paths."""
        with self.engine.begin() as connection:
            paths = connection.execute(
                sa.select(sightings.c.snapshot).where(sightings.c.last_seen < before, sightings.c.snapshot.is_not(None))
            ).scalars()
            found = [str(p) for p in paths]
            connection.execute(sightings.delete().where(sightings.c.last_seen < before))
        return found

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(sightings)).scalar_one())


def agreement(a: Mapping[str, Iterable[Mapping[str, Any]]], b: Mapping[str, Iterable[Mapping[str, Any]]]) -> float:
    """Mean over the heads both have of Σ sqrt(p·q) over their (top-k) labels: 1 for identical distributions."""
    scores = []
    for head in set(a) & set(b):
        p = {str(x["label"]): float(x["prob"]) for x in a[head]}
        q = {str(x["label"]): float(x["prob"]) for x in b[head]}
        scores.append(sum(math.sqrt(p[k] * q[k]) for k in set(p) & set(q)))
    return round(sum(scores) / len(scores), 4) if scores else 0.0


def _sighting(row: sa.RowMapping) -> Sighting:
    return Sighting(
        id=row["id"],
        kind=row["kind"],
        camera_id=row["camera_id"],
        track_id=row["track_id"],
        first_seen=datetime.fromtimestamp(row["first_seen"], UTC),
        last_seen=datetime.fromtimestamp(row["last_seen"], UTC),
        detector_class=row["detector_class"],
        color=row["color"],
        color_prob=row["color_prob"],
        make=row["make"],
        make_prob=row["make_prob"],
        model=row["model"],
        model_prob=row["model_prob"],
        body_type=row["body_type"],
        body_type_prob=row["body_type_prob"],
        plate=row["plate"],
        entry_id=row["entry_id"],
        score=row["score"],
        labels=json.loads(row["labels_json"]),
        has_snapshot=row["snapshot"] is not None,
    )
