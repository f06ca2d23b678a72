"""The operator's labelled dataset: a folder with ``labels.csv`` (one row per view of a vehicle) and its crops.

Columns, in this order: ``path,camera_id,track,time,make,color,body_type,labelled_by,labelled_at,sighting_id``.
``path`` is relative to the folder; ``track`` groups the views of one vehicle within a camera; a field is a label,
``unknown`` (the operator cannot tell) or empty (not labelled). The ``path`` column and one label column are also
what ``vehiclewatch train``/``eval`` read (``--label-column make``).

Optional trailing columns ``x1,y1,x2,y2``: the vehicle's box inside the crop (pixels). Where a view has one, each
model is scored on the box cut with its own margin, as the service cuts it (``ClassifierBank.raw_scores``).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from classifiers.adaptation.errors import DatasetError
from classifiers.adaptation.fields import FIELD_HEADS

COLUMNS: tuple[str, ...] = (
    "path",
    "camera_id",
    "track",
    "time",
    *FIELD_HEADS,
    "labelled_by",
    "labelled_at",
    "sighting_id",
)
BOX_COLUMNS: tuple[str, ...] = ("x1", "y1", "x2", "y2")
"""Optional: the vehicle's box inside the crop."""
LABELS_FILE = "labels.csv"


@dataclass(frozen=True, slots=True)
class LabelledView:
    """One labelled view (crop) of a vehicle.

    Attributes:
        path: the crop file (absolute once read; relative to the dataset folder when written).
        camera_id: the camera it was seen by.
        track: the vehicle's key within the camera (all its views share it).
        time: Unix seconds of the view (or of the track's first sighting).
        labels: field → value (a label or ``unknown``), only for the fields the operator labelled.
        labelled_by: who labelled it (a token name, or the CLI user).
        labelled_at: when, ISO-8601 UTC.
        sighting_id: the history sighting it came from, if any.
        box: the vehicle's box ``(x1, y1, x2, y2)`` inside the crop, if known.
    """

    path: Path
    camera_id: str
    track: str
    time: float
    labels: Mapping[str, str] = field(default_factory=dict)
    labelled_by: str = ""
    labelled_at: str = ""
    sighting_id: str | None = None
    box: tuple[float, float, float, float] | None = None

    @property
    def vehicle(self) -> tuple[str, str]:
        """The vehicle's key across cameras: (camera, track)."""
        return (self.camera_id, self.track)


def read_views(folder: Path) -> list[LabelledView]:
    """Every view of ``folder/labels.csv``, paths resolved against the folder.

    Raises:
        DatasetError: the folder or its labels.csv is missing, a column is missing, or a row is bad (its line number
            and what is wrong: an empty path/camera/track, a time that is not a number, a crop that is not there).
    """
    labels = folder / LABELS_FILE
    if not folder.is_dir():
        raise DatasetError(f"labelled dataset not found: {folder} is not a folder")
    if not labels.is_file():
        raise DatasetError(f"labelled dataset {folder}: no {LABELS_FILE} in it")
    try:
        with labels.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise DatasetError(f"{labels}: missing column(s) {', '.join(missing)}")
            return [_view(folder, labels, reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{labels}: cannot be read ({exc})") from exc


def _view(folder: Path, labels: Path, line: int, row: Mapping[str, str | None]) -> LabelledView:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    where = f"{labels} line {line}"
    for name in ("path", "camera_id", "track", "time"):
        if not cell(name):
            raise DatasetError(f"{where}: empty {name}")
    try:
        time = float(cell("time"))
    except ValueError:
        raise DatasetError(f"{where}: time {cell('time')!r} is not a number") from None
    if not math.isfinite(time):
        raise DatasetError(f"{where}: time {cell('time')!r} is not a finite number")
    path = folder / cell("path")
    if not path.is_file():
        raise DatasetError(f"{where}: crop {cell('path')} is not in the folder")
    return LabelledView(
        path=path,
        camera_id=cell("camera_id"),
        track=cell("track"),
        time=time,
        labels={name: cell(name) for name in FIELD_HEADS if cell(name)},
        labelled_by=cell("labelled_by"),
        labelled_at=cell("labelled_at"),
        sighting_id=cell("sighting_id") or None,
        box=_box(where, [cell(name) for name in BOX_COLUMNS]),
    )


def _box(where: str, cells: list[str]) -> tuple[float, float, float, float] | None:
    """The optional box columns: all empty (no box) or four numbers with x1 < x2 and y1 < y2."""
    if not any(cells):
        return None
    try:
        x1, y1, x2, y2 = (float(c) for c in cells)
    except ValueError:
        raise DatasetError(f"{where}: box {','.join(cells)!r} is not four numbers") from None
    if not (x1 < x2 and y1 < y2) or not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise DatasetError(f"{where}: box {','.join(cells)!r} is empty or not finite")
    return (x1, y1, x2, y2)


def write_views(folder: Path, views: Sequence[LabelledView], images: Sequence[bytes | Path | None]) -> Path:
    """Writes a dataset folder: each view's crop at its (relative) ``path`` and ``labels.csv``; returns the CSV.

    Args:
        folder: the dataset folder (created if needed).
        views: the rows, with ``path`` relative to ``folder``.
        images: per view, the encoded image to write at its path (bytes), a file to copy there (Path), or None
            (the crop is already in the folder).

    Raises:
        DatasetError: ``images`` is not one per view, or a view's path is absolute or leaves the folder.
    """
    if len(images) != len(views):
        raise DatasetError(f"write_views: need one image per view, got {len(images)} for {len(views)}")
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    for view, image in zip(views, images, strict=True):
        target = (folder / view.path).resolve()
        if view.path.is_absolute() or not target.is_relative_to(root):
            raise DatasetError(f"write_views: view path {view.path} must be relative and inside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(image, bytes):
            target.write_bytes(image)
        elif image is not None and Path(image).resolve() != target:
            shutil.copyfile(image, target)
    # The CSV last, atomically: a reader never sees rows whose crops are not written yet.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".labels.", suffix=".csv")
    boxed = any(v.box is not None for v in views)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS + (BOX_COLUMNS if boxed else ()))
        for v in views:
            box = [repr(float(c)) for c in v.box] if v.box is not None else ["", "", "", ""]
            writer.writerow(
                [
                    v.path.as_posix(),
                    v.camera_id,
                    v.track,
                    repr(float(v.time)),
                    *(v.labels.get(name, "") for name in FIELD_HEADS),
                    v.labelled_by,
                    v.labelled_at,
                    v.sighting_id or "",
                    *(box if boxed else ()),
                ]
            )
    Path(tmp).replace(folder / LABELS_FILE)
    return folder / LABELS_FILE
