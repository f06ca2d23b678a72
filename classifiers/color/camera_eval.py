"""Leave-one-clip-out evaluation of per-camera adaptation, simulating each camera's stream online.

Each clip is a camera. For the held-out clip:

- the envelope of levels (``camera_adapt.envelope``) comes from the *other* clips' levels only, each measured by a
  ``CameraAdapter`` fed with all of that clip's crops;
- its crops are fed to a fresh ``CameraAdapter`` in time order: a crop is corrected with the statistics of the crops
  of *earlier frames* only (``stream_corrections``), so nothing is learnt from the crop itself or from the future;
- the members run on the corrected crops, and the pool fitted on the other clips (their crops as they are: their
  cameras lie inside the envelope they define) combines them.

``CameraSimulation`` turns a clip into a dim, low-contrast or hazy camera (the same luminance map on every crop of
the held-out clip, before the adapter sees them) to measure what the adaptation is for, since the labelled clips
have no such camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifiers.color.camera_adapt import (
    DEFAULT_PSEUDO_TRACKS,
    CameraAdapter,
    CameraLevels,
    LevelsCorrection,
    envelope,
)
from classifiers.color.pool import PoolParams, fit_pool, pool_log_probs
from classifiers.color.recognizer import ColorRecognizer

ImageArray = NDArray[np.uint8]


@dataclass(frozen=True)
class CameraSimulation:
    """A camera that lifts the blacks by ``lift`` (of full scale) and scales everything by ``gain``:
    ``out = (lift + (1 - lift) · in) · gain``, on the three channels alike."""

    name: str
    lift: float
    gain: float

    def apply(self, crop: ImageArray) -> ImageArray:
        x = crop.astype(np.float32) / 255.0
        y = (self.lift + (1.0 - self.lift) * x) * self.gain
        out: ImageArray = np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return out


SIMULATIONS: tuple[CameraSimulation, ...] = (
    CameraSimulation("dim, low contrast (lift 0.18, gain 0.75)", 0.18, 0.75),
    CameraSimulation("hazy (lift 0.25, gain 0.9)", 0.25, 0.9),
)
"""The simulated cameras ``build`` reports (chosen before measuring, not tuned)."""


@dataclass(frozen=True)
class StreamCrops:
    """Camera crops with what a stream needs: clip (camera), frame (time) and vehicle (track) of each."""

    crops: list[ImageArray]
    clips: tuple[str, ...]
    frames: NDArray[np.int64]
    vehicles: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.crops)
        if not (len(self.clips) == len(self.frames) == len(self.vehicles) == n):
            raise ValueError(f"need clip, frame and vehicle for each of {n} crops")

    def of_clip(self, clip: str) -> NDArray[np.int64]:
        """Row indices of ``clip``, in time order (frame, then row order)."""
        rows = np.flatnonzero(np.asarray(self.clips) == clip)
        out: NDArray[np.int64] = rows[np.argsort(self.frames[rows], kind="stable")]
        return out


def clip_levels(data: StreamCrops, margin: float) -> dict[str, CameraLevels]:
    """Each clip's levels, from all of its crops (one track per vehicle)."""
    out: dict[str, CameraLevels] = {}
    for clip in dict.fromkeys(data.clips):
        adapter = CameraAdapter(None)
        rows = data.of_clip(clip)
        adapter.update_many([data.crops[i] for i in rows], margin, [data.vehicles[i] for i in rows])
        levels = adapter.levels()
        assert levels is not None  # the clip has crops
        out[clip] = levels
    return out


def stream_corrections(
    data: StreamCrops,
    rows: Sequence[int] | NDArray[np.int64],
    adapter: CameraAdapter,
    margin: float,
    crops: Sequence[ImageArray],
) -> list[LevelsCorrection]:
    """Feeds ``rows`` (one clip, time order) to ``adapter`` online; the correction of each row uses earlier frames.

    Args:
        data: frames and vehicles of the rows.
        rows: row indices in time order.
        adapter: the camera's adapter (fresh).
        margin: the crops' context margin.
        crops: the pixels to feed, one per row of ``rows`` (the data's crops, or a simulated camera's).
    """
    out: list[LevelsCorrection] = []
    pending: list[int] = []
    frame = None
    for position, row in enumerate(rows):
        if data.frames[row] != frame:
            for p in pending:
                adapter.update(crops[p], margin, data.vehicles[rows[p]])
            pending, frame = [], data.frames[row]
        out.append(adapter.correction())
        pending.append(position)
    return out


@dataclass(frozen=True)
class AdaptedCV:
    """Leave-one-clip-out probabilities with and without adaptation, on the same (possibly simulated) crops."""

    plain: NDArray[np.float64]
    adapted: NDArray[np.float64]
    corrected_share: float
    """Share of crops whose correction was not the identity."""


def adapted_loco(
    recognizer: ColorRecognizer,
    data: StreamCrops,
    train_log_probs: Sequence[NDArray[np.float64]],
    targets: NDArray[np.int64],
    *,
    margin: float,
    bias_penalty: float,
    simulation: CameraSimulation | None = None,
    pseudo_tracks: float = DEFAULT_PSEUDO_TRACKS,
) -> AdaptedCV:
    """Leave-one-clip-out with online per-camera adaptation (module doc); also without it on the same crops.

    Args:
        recognizer: runs the members.
        data: the camera crops.
        train_log_probs: the members' log-probabilities on ``data``'s crops as they are (the pool's training side).
        targets: colour index per crop (negative: not used).
        margin: the crops' context margin.
        bias_penalty: as ``fit_pool``.
        simulation: turn each held-out clip into this camera first (None: the clip as it is).
        pseudo_tracks: the adapter's shrinkage.
    """
    levels = clip_levels(data, margin)
    shape = train_log_probs[0].shape
    plain, adapted = np.zeros(shape), np.zeros(shape)
    corrected = 0
    for clip in dict.fromkeys(data.clips):
        rows = data.of_clip(clip)
        settings = envelope([lv for c, lv in levels.items() if c != clip], pseudo_tracks=pseudo_tracks)
        crops = [data.crops[i] for i in rows]
        if simulation is not None:
            crops = [simulation.apply(crop) for crop in crops]
        corrections = stream_corrections(data, rows, CameraAdapter(settings), margin, crops)
        corrected += sum(not c.is_identity for c in corrections)
        params = _fit_without(train_log_probs, targets, rows, bias_penalty)
        for out, fixes in ((plain, None), (adapted, corrections)):
            if fixes is None and simulation is None:
                members = [m[rows] for m in train_log_probs]
            else:
                shown = crops if fixes is None else [f.apply(c) for f, c in zip(fixes, crops, strict=True)]
                members = recognizer.member_outputs(shown, crop_margin=margin).log_probs
            out[rows] = np.exp(pool_log_probs(members, params))
    return AdaptedCV(plain, adapted, corrected / max(len(data.crops), 1))


def _fit_without(
    log_probs: Sequence[NDArray[np.float64]], targets: NDArray[np.int64], held: NDArray[np.int64], penalty: float
) -> PoolParams:
    train = np.asarray(targets, np.int64).copy()
    train[held] = -1
    return fit_pool(log_probs, train, bias_penalty=penalty)
