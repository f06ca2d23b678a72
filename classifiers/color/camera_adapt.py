"""Per-camera adaptation: a camera's black and white levels, learnt from the vehicles it sees, mapped into the range
of levels of the cameras the recogniser was fitted on.

A dim, hazy or low-contrast camera lifts its blacks and lowers its whites: a black car comes out mid grey, and every
member (the CNNs and the paint statistic) reads it as grey. One crop cannot tell a grey car from a black car seen
through haze, but the camera's stream can: every vehicle has tyres, shadow under it and dark glass, so the darkest
pixels of its box show the camera's *black level*, and its brightest ones (lamps, white paint, reflections) its
*white level*. Over many vehicles the medians of those are the camera's levels (a camera whose darkest vehicle
pixels never get below luminance L has its black point at L).

``CameraAdapter`` (one per camera) keeps those statistics online: ``update`` with each classified crop (and its
track, so a parked car seen for an hour counts once), ``correction`` for the ``LevelsCorrection`` to apply to the
next crops. The correction is a luminance levels map (the same line on the three channels, so hues are kept) that
moves the camera's levels *into the envelope* of the fitted cameras' levels (``CameraLevelsSettings``, written in
the recogniser file by ``classifiers.color.build``): a camera inside the envelope is left exactly as it is (the
recogniser was fitted on cameras like it); a *washed-out* one (blacks above the envelope, or whites below it) is
moved to the envelope's edge, never further. Deeper blacks or brighter whites than the fitted cameras' are left
alone (lifting a contrasty camera's blacks turned a black car grey). With few tracks seen, the move is shrunk toward
no change (``pseudo_tracks``).

Per-channel versions (black levels per channel, i.e. removing the cast of the shadows) and full normalisation to a
reference camera were measured and not kept: they change cameras the recogniser already reads well
(``docs/color.md``).

Use in the service (the recogniser file gives the envelope; one adapter per camera):

.. code-block:: python

    adapter = CameraAdapter(recognizer.camera_settings)
    correction = adapter.correction()  # first: statistics of earlier crops only
    results = recognizer.recognize(crops, corrections=[correction] * len(crops))
    adapter.update_many(crops, crop_margin, track_ids)  # then learn from these crops
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from classifiers.color.balance import ring_mask

ImageArray = NDArray[np.uint8]

DARK_QUANTILE = 2.0
"""Percentile of a box's luminance taken as its dark level (tyres, shadow, glass)."""
BRIGHT_QUANTILE = 98.0
"""Percentile of a box's luminance taken as its bright level (lamps, white paint, reflections)."""
_MAX_PIXELS = 4096
DEFAULT_PSEUDO_TRACKS = 5.0
"""Shrinkage of the correction: after n tracks it moves the levels n / (n + 5) of the way (0.5 after 5 tracks)."""
_MIN_SPAN = 30.0
_VIEWS_PER_TRACK = 16


class CameraLevelsSettings(BaseModel):
    """The envelope of black and white levels of the cameras a recogniser was fitted on (luminance, 0-255).

    Example:
        >>> CameraLevelsSettings(black=(2.0, 36.0), white=(196.0, 252.0)).pseudo_tracks
        5.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    black: tuple[float, float] = Field(description="lowest and highest black level of the fitted cameras")
    white: tuple[float, float] = Field(description="lowest and highest white level of the fitted cameras")
    pseudo_tracks: float = Field(
        default=DEFAULT_PSEUDO_TRACKS,
        ge=0.0,
        description="the correction is shrunk by n / (n + this) after n tracks (0: none)",
    )
    max_tracks: int = Field(default=200, ge=1, description="the camera's levels are the medians over its last tracks")

    @model_validator(mode="after")
    def _ordered(self) -> CameraLevelsSettings:
        for name, (low, high) in (("black", self.black), ("white", self.white)):
            if not 0.0 <= low <= high <= 255.0:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high <= 255, got {(low, high)}")
        if self.black[1] + _MIN_SPAN > self.white[0]:
            raise ValueError(f"black {self.black} and white {self.white} must be at least {_MIN_SPAN:.0f} apart")
        return self


@dataclass(frozen=True, slots=True)
class CameraLevels:
    """A camera's measured levels: medians over ``tracks`` tracks of their dark and bright levels."""

    tracks: int
    black: float
    white: float


def view_levels(crop: ImageArray, margin: float) -> tuple[float, float]:
    """(dark, bright) luminance levels of the vehicle box in a crop cut with ``margin`` (the ring is left out).

    Raises:
        ValueError: the crop is not a non-empty BGR uint8 image.
    """
    if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3 or 0 in crop.shape:
        raise ValueError(f"crop must be a non-empty BGR (h, w, 3) uint8 image, got {crop.dtype} {crop.shape}")
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    box = gray[~ring_mask(gray.shape[0], gray.shape[1], margin)]
    if len(box) == 0:
        box = gray.ravel()
    step = max(1, len(box) // _MAX_PIXELS)
    dark, bright = np.percentile(box[::step], (DARK_QUANTILE, BRIGHT_QUANTILE))
    return float(dark), float(bright)


@dataclass(frozen=True, slots=True)
class LevelsCorrection:
    """A luminance levels map: ``black_from`` goes to ``black_to`` and ``white_from`` to ``white_to``, linearly,
    the same on the three channels (so hues are kept), clipped to 0-255.

    Example:
        >>> LevelsCorrection(40.0, 160.0, 20.0, 200.0).apply(np.full((1, 1, 3), 40, np.uint8)).ravel().tolist()
        [20, 20, 20]
    """

    black_from: float = 0.0
    white_from: float = 255.0
    black_to: float = 0.0
    white_to: float = 255.0

    @property
    def is_identity(self) -> bool:
        return abs(self.black_from - self.black_to) < 0.5 and abs(self.white_from - self.white_to) < 0.5

    def table(self) -> NDArray[np.uint8]:
        """The 256-entry lookup table of the map."""
        scale = (self.white_to - self.black_to) / max(self.white_from - self.black_from, _MIN_SPAN)
        values = self.black_to + (np.arange(256, dtype=np.float32) - self.black_from) * scale
        out: NDArray[np.uint8] = np.clip(values + 0.5, 0, 255).astype(np.uint8)
        return out

    def apply(self, crop: ImageArray) -> ImageArray:
        """The crop with the map applied (the crop itself when the map is the identity)."""
        if self.is_identity:
            return crop
        return np.asarray(cv2.LUT(crop, self.table()), np.uint8)


IDENTITY = LevelsCorrection()


def correction_for(levels: CameraLevels | None, settings: CameraLevelsSettings | None) -> LevelsCorrection:
    """The map moving a washed-out camera's ``levels`` to the envelope of ``settings``: a black level above the
    envelope's highest down to it, a white level below its lowest up to it (identity otherwise, or with nothing
    seen)."""
    if levels is None or settings is None or levels.tracks == 0:
        return IDENTITY
    trust = levels.tracks / (levels.tracks + settings.pseudo_tracks)
    # Only washed-out cameras are corrected (blacks above the envelope, whites below it): deeper blacks or brighter
    # whites than the fitted cameras' do not make black paint look grey, and lifting them cost accuracy.
    black = min(levels.black, settings.black[1])
    white = max(levels.white, settings.white[0])
    black_to = levels.black + trust * (black - levels.black)
    white_to = levels.white + trust * (white - levels.white)
    return LevelsCorrection(levels.black, max(levels.white, levels.black + _MIN_SPAN), black_to, white_to)


class CameraAdapter:
    """One camera's levels, learnt online from the crops it classifies (see the module doc). Thread-safe.

    Args:
        settings: the envelope from the recogniser file (``ColorRecognizer.camera_settings``); None: the file has
            none, and every correction is the identity (the adapter still measures the camera's levels).
    """

    def __init__(self, settings: CameraLevelsSettings | None) -> None:
        self.settings = settings
        self._max_tracks = settings.max_tracks if settings is not None else 200
        self._tracks: OrderedDict[Hashable, list[tuple[float, float]]] = OrderedDict()
        self._anonymous = 0
        self._lock = threading.Lock()

    def update(self, crop: ImageArray, margin: float, track: Hashable | None = None) -> None:
        """Adds one view of a vehicle (a crop cut with ``margin``); ``track`` groups views of one vehicle (None:
        a vehicle of its own)."""
        self.add_levels(*view_levels(crop, margin), track=track)

    def update_many(self, crops: Sequence[ImageArray], margin: float, tracks: Sequence[Hashable | None]) -> None:
        """``update`` for each crop and its track."""
        if len(crops) != len(tracks):
            raise ValueError(f"need one track per crop, got {len(crops)} crops and {len(tracks)} tracks")
        for crop, track in zip(crops, tracks, strict=True):
            self.update(crop, margin, track)

    def add_levels(self, dark: float, bright: float, *, track: Hashable | None = None) -> None:
        """Adds one view's measured levels (as ``view_levels`` gives them)."""
        with self._lock:
            if track is None:
                self._anonymous += 1
                track = ("anonymous", self._anonymous)
            views = self._tracks.pop(track, [])
            views = [*views[-(_VIEWS_PER_TRACK - 1) :], (dark, bright)]
            self._tracks[track] = views
            while len(self._tracks) > self._max_tracks:
                self._tracks.popitem(last=False)

    def levels(self) -> CameraLevels | None:
        """The camera's levels so far (None before the first update)."""
        with self._lock:
            if not self._tracks:
                return None
            per_track = np.array([np.median(np.asarray(v), axis=0) for v in self._tracks.values()])
        return CameraLevels(len(per_track), float(np.median(per_track[:, 0])), float(np.median(per_track[:, 1])))

    def correction(self) -> LevelsCorrection:
        """The map to apply to this camera's next crops."""
        return correction_for(self.levels(), self.settings)


def envelope(levels: Sequence[CameraLevels], *, pseudo_tracks: float = DEFAULT_PSEUDO_TRACKS) -> CameraLevelsSettings:
    """The envelope (lowest to highest black and white level) of the fitted cameras' levels.

    Raises:
        ValueError: no cameras.
    """
    if not levels:
        raise ValueError("need the levels of at least one camera")
    blacks = [lv.black for lv in levels]
    whites = [lv.white for lv in levels]
    low_white = max(min(whites), max(blacks) + _MIN_SPAN)
    return CameraLevelsSettings(
        black=(round(min(blacks), 2), round(max(blacks), 2)),
        white=(round(low_white, 2), round(max(max(whites), low_white), 2)),
        pseudo_tracks=pseudo_tracks,
    )


class CameraAdapters:
    """One ``CameraAdapter`` per camera, made on first sight of the camera. Thread-safe.

    The classifier bank keeps one of these when the colour recogniser adapts to cameras: per batch, each crop gets
    its own camera's ``correction`` (statistics of earlier batches only), and the batch then updates its cameras.

    Example:
        >>> adapters = CameraAdapters(CameraLevelsSettings(black=(2.0, 36.0), white=(196.0, 252.0)))
        >>> adapters.corrections(["cam1", "cam2"])[0].is_identity
        True
    """

    def __init__(self, settings: CameraLevelsSettings | None) -> None:
        self.settings = settings
        self._adapters: dict[Hashable, CameraAdapter] = {}
        self._lock = threading.Lock()

    def adapter(self, camera: Hashable) -> CameraAdapter:
        """The camera's adapter (a new one on first sight)."""
        with self._lock:
            found = self._adapters.get(camera)
            if found is None:
                found = self._adapters[camera] = CameraAdapter(self.settings)
            return found

    def corrections(self, cameras: Sequence[Hashable]) -> list[LevelsCorrection]:
        """Each crop's correction, from its camera's levels so far (one computation per camera)."""
        per_camera = {camera: self.adapter(camera).correction() for camera in dict.fromkeys(cameras)}
        return [per_camera[camera] for camera in cameras]

    def update(
        self,
        crops: Sequence[ImageArray],
        margin: float,
        cameras: Sequence[Hashable],
        tracks: Sequence[Hashable | None],
    ) -> None:
        """Learns from classified crops (cut with ``margin``): each adds a view of its track to its camera.

        Raises:
            ValueError: ``cameras`` or ``tracks`` does not have one entry per crop.
        """
        if not len(crops) == len(cameras) == len(tracks):
            raise ValueError(f"need one camera and one track per crop, got {len(cameras)} and {len(tracks)}")
        for crop, camera, track in zip(crops, cameras, tracks, strict=True):
            self.adapter(camera).update(crop, margin, track)

    def levels(self) -> dict[Hashable, CameraLevels]:
        """Camera → its levels so far (cameras with no view yet are left out)."""
        with self._lock:
            adapters = dict(self._adapters)
        found = {camera: adapter.levels() for camera, adapter in adapters.items()}
        return {camera: levels for camera, levels in found.items() if levels is not None}
