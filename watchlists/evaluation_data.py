"""Labelled camera crops for the per-vehicle evaluation: each crop's labels, vehicle, fold (clip) and box.

A labelled set such as ``shared/datasets/traffic_crops_dev`` stores each crop as the detector box grown by a margin
(10 % there) and gives the box itself in frame pixels (``x1, y1, x2, y2``). The evaluation gives the classifier bank
the stored crop as the "frame" and the box inside it, so the bank cuts every model's crop as the service cuts it
from a camera frame (the tight box for the make model, some context for colour), up to the stored margin.

Vehicles follow the ``same_as`` convention (:func:`classifiers.evaluation.vehicles.vehicle_keys`: a row's vehicle
is its ``same_as``, or its own ``id`` when that is empty); folds are the values of a column such as ``clip``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.evaluation.vehicles import GroupingError, vehicle_keys
from classifiers.training.dataset import load_labelled
from detectors.types import Detections

BOX_COLUMNS = ("x1", "y1", "x2", "y2")
VEHICLE_COLUMNS = ("make", "model", "year", "body_type", "color")
"""Labels that describe the vehicle, not the crop: all its crops must agree on them."""


@dataclass(frozen=True)
class LabelledCrop:
    """One labelled crop.

    Attributes:
        path: the image file.
        row: its CSV columns.
        vehicle: the physical vehicle it shows.
        fold: its cross-validation group (e.g. the clip); "" without a fold column.
        box: ``x1, y1, x2, y2`` of the detector box inside the stored image (the whole image when the set gives
            no box).
    """

    path: Path
    row: Mapping[str, str]
    vehicle: str
    fold: str
    box: NDArray[np.float32] | None


def box_in_stored_crop(row: Mapping[str, str], shape: tuple[int, ...], margin: float) -> NDArray[np.float32]:
    """The detector box inside a crop stored as that box grown by ``margin`` (clipped at the frame's top/left).

    Without box columns, the whole image is the box.
    """
    height, width = shape[:2]
    try:
        x1, y1, x2, y2 = (float(row[name]) for name in BOX_COLUMNS)
    except (KeyError, ValueError):
        return np.array([0.0, 0.0, float(width), float(height)], np.float32)
    left = max(math.floor(x1 - margin * (x2 - x1)), 0)
    top = max(math.floor(y1 - margin * (y2 - y1)), 0)
    box = np.array([x1 - left, y1 - top, x2 - left, y2 - top], np.float32)
    return np.clip(box, 0, np.array([width, height, width, height], np.float32))


def load_crops(
    source: Path,
    *,
    path_column: str = "path",
    group_column: str | None = None,
    fold_column: str | None = None,
    limit: int | None = None,
) -> list[LabelledCrop]:
    """The crops of a labelled set, in file order (the first ``limit`` when given).

    Raises:
        DatasetError: the set cannot be read.
        GroupingError: a row has no vehicle, or crops of one vehicle disagree on a vehicle label.
    """
    data = load_labelled(source, path_column=path_column)
    items = data.items[:limit] if limit else data.items
    rows = [item.row for item in items]
    keys = vehicle_keys(rows, group_column=group_column) if group_column else [f"#{i}" for i in range(len(rows))]
    check_vehicle_labels(rows, keys)
    return [
        LabelledCrop(item.path, item.row, key, (item.row.get(fold_column) or "") if fold_column else "", None)
        for item, key in zip(items, keys, strict=True)
    ]


def check_vehicle_labels(rows: Sequence[Mapping[str, str]], keys: Sequence[str]) -> None:
    """Raises GroupingError when crops of one vehicle disagree on a vehicle label (colour, make ...)."""
    first: dict[str, Mapping[str, str]] = {}
    for row, key in zip(rows, keys, strict=True):
        seen = first.setdefault(key, row)
        for column in VEHICLE_COLUMNS:
            if (seen.get(column) or "").strip().lower() != (row.get(column) or "").strip().lower():
                raise GroupingError(
                    f"vehicle {key!r}: its crops disagree on {column!r} ({seen.get(column)!r}, {row.get(column)!r})"
                )


def one_box(box: NDArray[np.float32]) -> Detections:
    """A single-box detection (the crop's vehicle) for the classifier bank."""
    return Detections(
        boxes=box.reshape(1, 4).astype(np.float32),
        scores=np.ones(1, np.float32),
        class_ids=np.zeros(1, np.int32),
        class_names=("car",),
    )


def vehicles_in_order(crops: Sequence[LabelledCrop]) -> dict[str, list[int]]:
    """Vehicle → the indices of its crops, vehicles in order of first appearance."""
    order: dict[str, list[int]] = {}
    for index, crop in enumerate(crops):
        order.setdefault(crop.vehicle, []).append(index)
    return order
