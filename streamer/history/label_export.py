"""The labels exported as a dataset (issue 19's format): a folder with ``labels.csv`` and the crops, one row per
view. Directly usable by `vehiclewatch train` / `eval` (``--label-column make``) and by `vehiclewatch adapt`.

Per vehicle (camera + track), each field's value over its live labels: the one value named; ``unknown`` when only
"can't tell" was said; empty when nothing was, or when labels disagree (a conflict: counted, never averaged).
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from classifiers.adaptation.fields import CANT_TELL
from streamer.history.label_fields import FIELDS, LabelError
from streamer.history.labels import Label, LabelsStore, slug

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


class ExportSummary(BaseModel):
    """What an export wrote, and what it left out (and why)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    rows: int = Field(description="Views written (rows of labels.csv).")
    tracks: int = Field(description="Vehicles (tracks) with at least one view written.")
    labels: int = Field(description="Live labels read.")
    conflicted_fields: int = Field(description="Track fields left empty because live labels disagree on them.")
    left_out: dict[str, int] = Field(description="Views not written, by reason.")


def export_labels(
    store: LabelsStore, folder: Path, camera: str | None = None, named: str | None = None
) -> ExportSummary:
    """Writes ``labels.csv`` + the crops (``crops/<camera>/...``) into ``folder`` (new or empty).

    Args:
        store: the labels.
        folder: where to write (created; must be empty).
        camera: one camera's labels; None: all.
        named: only the vehicles with a value named for this field (not empty, not ``unknown``): a set that
            `vehiclewatch train --label-column FIELD` takes as it is (it refuses empty labels).

    Raises:
        LabelError: the folder holds files already, or ``named`` is no field.
    """
    if named is not None and named not in FIELDS:
        raise LabelError(f"unknown field {named!r}: the fields are {', '.join(FIELDS)}")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise LabelError(f"{folder}: not an empty folder (an export never overwrites)")
    live = store.find(camera)
    merged, conflicted = merge_tracks(live)
    rows: list[dict[str, str]] = []
    left_out: dict[str, int] = defaultdict(int)
    seen: set[tuple[str, str, str]] = set()
    folder.mkdir(parents=True, exist_ok=True)
    for label in sorted(live, key=lambda x: (x.camera_id, x.track, -x.labelled_at.timestamp())):
        values = merged[(label.camera_id, label.track)]
        for view in label.views:
            source = Path(view)
            relative = Path("crops") / slug(label.camera_id) / source.name
            # The same view of a vehicle labelled twice (two people): one row. The same picture in two vehicles
            # (identical frames are stored once) is a row for each.
            key = (label.camera_id, label.track, relative.as_posix())
            if key in seen:
                continue
            seen.add(key)
            if not any(values.values()):
                left_out["no field value (verdict only, or every field in conflict)"] += 1
            elif named is not None and values[named] in (None, CANT_TELL):
                left_out[f"no {named} named (not given, can't tell, or in conflict)"] += 1
            elif not source.is_file():
                left_out["view file missing"] += 1
            else:
                if not (folder / relative).exists():
                    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, folder / relative)
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
