"""Labelled crops through the classifier bank as the service runs it, and one fused decision per vehicle.

Each crop is given to :meth:`classifiers.bank.ClassifierBank.classify_boxes` as a frame holding one box (see
:mod:`watchlists.evaluation_data`), so every model gets the crop the service would cut, calibration and abstention
included. A crop the service's quality gate would not classify is left out (``gate``: the CLI passes the
service's own gate, which this package may not import). Each vehicle's views are then fused exactly as the service
fuses a track (:class:`classifiers.fusion.TrackFusion`: quality-weighted log-probability average, then
:func:`classifiers.fusion.reconcile_make`), and the watchlist is matched once per vehicle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.calibration.abstention import CropFacts, crop_facts
from classifiers.crops import ImageArray
from classifiers.fusion import TrackFusion, reconcile_make
from classifiers.settings import FusionSettings
from classifiers.types import Classification
from watchlists.evaluation_data import LabelledCrop, box_in_stored_crop, one_box, vehicles_in_order

ViewGate = Callable[[ImageArray, NDArray[np.float32]], float | None]
"""A view's quality weight for fusion, or None when the service would not classify it (the quality gate)."""
Progress = Callable[[int], None]


@dataclass(frozen=True)
class CropImages:
    """The labelled crops read once: each image, its box, facts (size, exposure) and quality weight."""

    crops: tuple[LabelledCrop, ...]
    images: tuple[ImageArray, ...]
    boxes: tuple[NDArray[np.float32], ...]
    facts: tuple[CropFacts, ...]
    weights: NDArray[np.float64]
    """The view's quality weight; 0 where the service's gate would not classify it."""

    def __len__(self) -> int:
        return len(self.crops)

    @property
    def gated(self) -> NDArray[np.bool_]:
        """Crops the service would classify."""
        return self.weights > 0


def read_crops(
    crops: Sequence[LabelledCrop],
    read: Callable[[Path], ImageArray],
    *,
    stored_margin: float,
    gate: ViewGate | None = None,
    progress: Progress | None = None,
) -> CropImages:
    """Reads every crop and finds its box (stored with ``stored_margin`` around it), facts and quality weight."""
    images: list[ImageArray] = []
    boxes: list[NDArray[np.float32]] = []
    facts: list[CropFacts] = []
    weights: list[float] = []
    for crop in crops:
        image = read(crop.path)
        box = box_in_stored_crop(crop.row, image.shape, stored_margin)
        images.append(image)
        boxes.append(box)
        facts.append(crop_facts(image, box))
        weight = 1.0 if gate is None else gate(image, box)
        weights.append(0.0 if weight is None else max(float(weight), 1e-3))
        if progress is not None:
            progress(1)
    return CropImages(tuple(crops), tuple(images), tuple(boxes), tuple(facts), np.asarray(weights))


def classify_views(
    bank: ClassifierBank,
    data: CropImages,
    indices: Sequence[int],
    *,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> dict[int, Classification]:
    """Crop index → the bank's classification, for the ``indices`` the gate passes (as the service cuts them).

    Each crop is given with its camera (the ``clip`` column, else its fold) and its vehicle as the track, in frame
    order per camera, so a bank that adapts to cameras learns each clip from its earlier crops only, as the service
    learns a camera from its stream.
    """
    wanted = sorted((i for i in indices if data.weights[i] > 0), key=lambda i: _stream_position(data.crops[i]))
    out: dict[int, Classification] = {}
    for start in range(0, len(wanted), batch_size):
        chunk = wanted[start : start + batch_size]
        cameras = [_camera(data.crops[i]) for i in chunk]
        results = bank.classify_boxes(
            [(data.images[i], one_box(data.boxes[i])) for i in chunk],
            cameras=cameras if all(cameras) else None,
            tracks=[[data.crops[i].vehicle] for i in chunk],
        )
        for i, frame in zip(chunk, results.frames, strict=True):
            if frame[0] is not None:
                out[i] = frame[0]
        if progress is not None:
            progress(len(chunk))
    return out


def _camera(crop: LabelledCrop) -> str:
    """The camera a crop was cut from: its clip, else its fold ("" when the set says neither)."""
    return crop.row.get("clip") or crop.fold


def _stream_position(crop: LabelledCrop) -> tuple[str, float]:
    """Camera, then frame: the order in which the service would have seen the crop."""
    try:
        frame = float(crop.row.get("frame") or 0.0)
    except ValueError:
        frame = 0.0
    return _camera(crop), frame


@dataclass(frozen=True)
class VehicleView:
    """One vehicle: its labels, its crops, and the fused classification the watchlist is matched on.

    Attributes:
        vehicle: the vehicle key.
        fold: its fold (clip).
        row: its labels (its first crop's row).
        crops: indices of its crops.
        views: how many of them were classified and fused.
        fused: the fused classification (None: no crop passed the gate).
        best_crop: its highest-quality crop (the alert's snapshot).
    """

    vehicle: str
    fold: str
    row: Mapping[str, str]
    crops: tuple[int, ...]
    views: int
    fused: Classification | None
    best_crop: int


def fuse_vehicles(
    data: CropImages,
    classified: Mapping[int, Classification],
    settings: FusionSettings | None = None,
    vehicles: Sequence[str] | None = None,
) -> list[VehicleView]:
    """One fused view per vehicle (those of ``vehicles``, default all), in order of first appearance."""
    settings = settings or FusionSettings()
    chosen = None if vehicles is None else set(vehicles)
    out: list[VehicleView] = []
    for vehicle, members in vehicles_in_order(data.crops).items():
        if chosen is not None and vehicle not in chosen:
            continue
        fusion = TrackFusion(settings)
        for i in members:
            if i in classified:
                fusion.add(classified[i], float(data.weights[i]))
        fused = reconcile_make(fusion.fused()) if fusion.views else None
        best = max(members, key=lambda i: float(data.weights[i]))
        first = data.crops[members[0]]
        out.append(VehicleView(vehicle, first.fold, first.row, tuple(members), fusion.views, fused, best))
    return out
