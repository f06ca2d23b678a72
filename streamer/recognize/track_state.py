"""What the recognizer remembers per track, and which tracks get classified on a frame.

Three parts, each pure logic:

- the crop quality gate (`assess_quality`): big enough, sharp enough, not cut by the frame edge; its score ranks
  views (fusion weight, best snapshot);
- the scheduler (`decide`): classify a new track as soon as its crop passes the gate, again when its box has
  grown clearly (the vehicle came closer) or after ``refresh_frames`` frames, and never again once its label is
  confident and stable (or after ``max_views``);
- the per-camera track book (`TrackBook`): one `TrackRecord` per live track, forgotten after ``lost_frames``
  frames unseen or beyond ``max_tracks`` (oldest first), so memory stays bounded however long a camera runs.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from classifiers.fusion import FusionSettings, TrackFusion, top_labels
from classifiers.types import Classification
from watchlists.matching import Match

_SHARPNESS_SIDE = 96  # crops are resized to this shorter side before measuring sharpness, so sizes compare
_SNAPSHOT_MAX_SIDE = 512  # a track's best crop is kept at most this large (bounded memory per track)


class QualitySettings(BaseModel):
    """The crop quality gate: which views of a vehicle are worth classifying."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_size: int = Field(
        default=40,
        ge=8,
        description=(
            "Smallest shorter side of a box, in pixels, worth classifying. A track whose box never gets this large "
            "is never classified; higher waits for closer, more legible views."
        ),
    )
    min_sharpness: float = Field(
        default=25.0,
        ge=0.0,
        description=(
            "Smallest sharpness (variance of the Laplacian of the grey crop at 96 px shorter side); motion-blurred "
            "or out-of-focus crops score lower. Real traffic-camera crops score ~200-2500; 0 turns the check off."
        ),
    )
    edge_margin: int = Field(
        default=2,
        ge=0,
        description="A box within this many pixels of the frame edge is cut by it (part of the vehicle is unseen).",
    )
    full_detail_size: int = Field(
        default=160,
        ge=16,
        description=(
            "Shorter side, in pixels, from which a crop counts as fully detailed in its quality score (smaller "
            "crops score proportionally less)."
        ),
    )


class ScheduleSettings(BaseModel):
    """When a track is classified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    refresh_frames: int = Field(
        default=10,
        ge=1,
        description="A classified track is classified again after this many frames with a box (if not yet stable).",
    )
    growth: float = Field(
        default=1.5,
        gt=1.0,
        description=(
            "A track is classified again, sooner than refresh_frames, when its box area reaches this many times "
            "the area at its last classification (the vehicle came closer: a better view)."
        ),
    )
    stop_confidence: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="A track stops being classified once every head's fused top-1 probability reaches this ...",
    )
    stable_views: int = Field(
        default=3,
        ge=1,
        description="... and no head's fused top-1 label changed over this many last views.",
    )
    max_views: int = Field(
        default=8, ge=1, description="Most classifications of one track (caps the cost of vehicles never certain)."
    )
    patience_frames: int = Field(
        default=15,
        ge=1,
        description=(
            "A track whose crops are large enough but fail the sharpness or edge check is classified anyway once "
            "this many frames passed since its last classification (or its first box): a vehicle that stays at the "
            "frame edge or blurred still gets a label, refreshed more slowly."
        ),
    )
    min_views_to_alert: int = Field(
        default=2,
        ge=1,
        description=(
            "Views fused before the track's label may raise an alert: 1 alerts soonest, more trusts a label only "
            "once views agree (a single view's flicker raises no alert)."
        ),
    )

    @model_validator(mode="after")
    def _alerts_possible(self) -> ScheduleSettings:
        if self.min_views_to_alert > self.max_views:
            raise ValueError(
                f"min_views_to_alert ({self.min_views_to_alert}) must not exceed max_views ({self.max_views}): "
                "no track could ever alert"
            )
        return self


class GateResult(enum.StrEnum):
    OK = "ok"
    TOO_SMALL = "too_small"
    CUT = "cut_by_edge"
    BLURRY = "blurry"


@dataclass(frozen=True, slots=True)
class CropQuality:
    """How good one view of a vehicle is.

    Attributes:
        gate: why the crop fails the gate, or ``GateResult.OK``.
        short_side: the box's shorter side inside the frame, pixels.
        sharpness: variance of the Laplacian of the grey crop at 96 px shorter side (0 when not measured).
        score: in (0, 1]: size (up to ``full_detail_size``) times a saturating sharpness term, halved when cut.
    """

    gate: GateResult
    short_side: float
    sharpness: float
    score: float

    @property
    def ok(self) -> bool:
        return self.gate is GateResult.OK


def sharpness(crop_bgr: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian of the grey crop resized to a 96 px shorter side (higher is sharper)."""
    h, w = crop_bgr.shape[:2]
    if h < 2 or w < 2:
        return 0.0
    scale = _SHARPNESS_SIDE / min(h, w)
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def assess_quality(image: NDArray[np.uint8], box: NDArray[np.float32], settings: QualitySettings) -> CropQuality:
    """Gates and scores the view of ``box`` (x1, y1, x2, y2 in pixels) in the BGR frame ``image``.

    Sharpness is measured only for boxes large enough (it costs a resize and a Laplacian).
    """
    height, width = image.shape[:2]
    x1, y1 = max(float(box[0]), 0.0), max(float(box[1]), 0.0)
    x2, y2 = min(float(box[2]), float(width)), min(float(box[3]), float(height))
    short = max(min(x2 - x1, y2 - y1), 0.0)
    size_term = min(short / settings.full_detail_size, 1.0)
    if not short >= settings.min_size:
        return CropQuality(GateResult.TOO_SMALL, short, 0.0, max(size_term, 1e-3) * 0.5)
    m = settings.edge_margin
    cut = box[0] <= m or box[1] <= m or box[2] >= width - 1 - m or box[3] >= height - 1 - m
    crop = image[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))]
    sharp = sharpness(crop)
    # Saturating: a crop at 100 scores 0.5, at 500 0.83; sharpness beyond a few hundred adds little.
    score = size_term * (sharp / (sharp + 100.0) if sharp > 0 else 0.0)
    score = max(score * (0.5 if cut else 1.0), 1e-3)
    if sharp < settings.min_sharpness:
        return CropQuality(GateResult.BLURRY, short, sharp, score)
    if cut:
        return CropQuality(GateResult.CUT, short, sharp, score)
    return CropQuality(GateResult.OK, short, sharp, score)


class Decision(enum.StrEnum):
    """What the scheduler decided for a track on a frame; the ``CLASSIFY_*`` ones classify it."""

    CLASSIFY_NEW = "new"
    CLASSIFY_GROWN = "grown"
    CLASSIFY_REFRESH = "refresh"
    CLASSIFY_PATIENCE = "patience"
    SKIP_SETTLED = "settled"
    SKIP_MAX_VIEWS = "max_views"
    SKIP_QUALITY = "low_quality"
    SKIP_WAITING = "waiting"

    @property
    def classify(self) -> bool:
        return self in _CLASSIFY


_CLASSIFY = frozenset(
    {Decision.CLASSIFY_NEW, Decision.CLASSIFY_GROWN, Decision.CLASSIFY_REFRESH, Decision.CLASSIFY_PATIENCE}
)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """The facts about a track the scheduler needs (a snapshot of its `TrackRecord`).

    Attributes:
        views: classifications fused so far.
        frames_since_view: frames with a box since the last classification (since the first box when none).
        last_area: box area at the last classification (0 when none).
        settled: the fused label is confident and stable.
    """

    views: int
    frames_since_view: int
    last_area: float
    settled: bool


def decide(state: ScheduleState, quality: CropQuality, area: float, settings: ScheduleSettings) -> Decision:
    """Whether to classify a track's box on this frame.

    Args:
        state: the track so far.
        quality: this frame's view of it.
        area: this frame's box area in pixels.
        settings: the schedule.
    """
    if state.settled:
        return Decision.SKIP_SETTLED
    if state.views >= settings.max_views:
        return Decision.SKIP_MAX_VIEWS
    if not quality.ok:
        # A track waits at most patience_frames for a good view, then takes a large enough one as it comes.
        waited = state.frames_since_view >= settings.patience_frames
        if waited and quality.gate is not GateResult.TOO_SMALL:
            return Decision.CLASSIFY_PATIENCE
        return Decision.SKIP_QUALITY
    if state.views == 0:
        return Decision.CLASSIFY_NEW
    if area >= settings.growth * state.last_area:
        return Decision.CLASSIFY_GROWN
    if state.frames_since_view >= settings.refresh_frames:
        return Decision.CLASSIFY_REFRESH
    return Decision.SKIP_WAITING


@dataclass(eq=False)
class TrackRecord:
    """Everything remembered about one live track of one camera."""

    camera_id: str
    track_id: int
    fusion: TrackFusion
    first_seen: float
    last_seen: float
    first_frame: int
    last_frame: int
    last_tick: int
    """The camera's detected-frame count when the track last had a box (for expiry)."""
    frames_seen: int = 0
    frames_since_view: int = 0
    last_area: float = 0.0
    detector_classes: dict[str, int] = field(default_factory=dict)
    best_score: float = 0.0
    best_crop: NDArray[np.uint8] | None = None
    best_frame: int = -1
    pending_views: int = 0
    """Classifications scheduled on this batch whose results have not come back yet."""
    fused: Classification | None = None
    """The fused classification, make and model reconciled, as last matched (None before matching)."""
    matches: tuple[Match, ...] = ()
    matched_revision: int = -1
    """The watchlist revision ``matches`` were computed with; another one means match again."""
    alerted: set[str] = field(default_factory=set)
    suppressed: set[str] = field(default_factory=set)
    alerts: int = 0
    settled: bool = False
    """The fused label is confident and stable: the track is not classified again."""
    _stable_for: int = 0
    _last_top: dict[str, str] = field(default_factory=dict)

    def seen(self, frame_index: int, captured_at: float, tick: int, detector_class: str) -> None:
        """The track has a box on this frame."""
        self.last_seen = captured_at
        self.last_frame = frame_index
        self.last_tick = tick
        self.frames_seen += 1
        self.frames_since_view += 1
        self.detector_classes[detector_class] = self.detector_classes.get(detector_class, 0) + 1

    def offer_snapshot(self, crop_bgr: NDArray[np.uint8], score: float, frame_index: int) -> None:
        """Keeps a copy of the crop if it is the track's best view so far (highest quality score)."""
        if score <= self.best_score or crop_bgr.size == 0:
            return
        h, w = crop_bgr.shape[:2]
        scale = _SNAPSHOT_MAX_SIDE / max(h, w)
        if scale < 1.0:
            size = (max(int(w * scale), 1), max(int(h * scale), 1))
            self.best_crop = np.asarray(cv2.resize(crop_bgr, size, interpolation=cv2.INTER_AREA), np.uint8)
        else:
            self.best_crop = crop_bgr.copy()  # a copy: a view would keep the whole frame alive
        self.best_score = score
        self.best_frame = frame_index

    def schedule(self, area: float) -> None:
        """The track is classified on this frame (the result comes with `add_view` or `drop_view`)."""
        self.pending_views += 1
        self.frames_since_view = 0
        self.last_area = area

    def drop_view(self) -> None:
        """A scheduled classification brought no result."""
        self.pending_views = max(self.pending_views - 1, 0)

    def add_view(self, classification: Classification, weight: float, settings: ScheduleSettings) -> None:
        """Fuses a scheduled classification of the track and updates whether its label is settled."""
        self.drop_view()
        self.fusion.add(classification, weight)
        top = top_labels(self.fusion.fused())
        self._stable_for = self._stable_for + 1 if top == self._last_top else 1
        self._last_top = top
        confident = all(c >= settings.stop_confidence for c in self.fusion.confidence().values())
        self.settled = confident and self._stable_for >= settings.stable_views

    def schedule_state(self) -> ScheduleState:
        return ScheduleState(
            self.fusion.views + self.pending_views, self.frames_since_view, self.last_area, self.settled
        )

    @property
    def detector_class(self) -> str:
        """The detector class the track's boxes had most often."""
        return max(self.detector_classes.items(), key=lambda item: item[1])[0] if self.detector_classes else ""


class TrackBook:
    """The live tracks of one camera, bounded: unseen ones expire, and at most ``max_tracks`` are kept.

    Args:
        camera_id: the camera.
        lost_frames: detected frames a track may go unseen before it ends (the tracker's own horizon).
        max_tracks: most tracks remembered; beyond it the longest-unseen ends first.
        fusion: settings for each new track's fusion.
    """

    def __init__(self, camera_id: str, lost_frames: int, max_tracks: int, fusion: FusionSettings) -> None:
        self.camera_id = camera_id
        self.lost_frames = lost_frames
        self.max_tracks = max_tracks
        self.fusion = fusion
        self.tick = 0
        # Ordered by last sighting (each sighting moves the track to the end): expired ones are at the front.
        self._tracks: OrderedDict[int, TrackRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._tracks

    def next_frame(self) -> None:
        """A new detected frame of the camera begins."""
        self.tick += 1

    def observe(self, track_id: int, frame_index: int, captured_at: float, detector_class: str) -> TrackRecord:
        """The track's record (made on its first box), marked as seen on the current frame."""
        record = self._tracks.get(track_id)
        if record is None:
            record = TrackRecord(
                camera_id=self.camera_id,
                track_id=track_id,
                fusion=TrackFusion(self.fusion),
                first_seen=captured_at,
                last_seen=captured_at,
                first_frame=frame_index,
                last_frame=frame_index,
                last_tick=self.tick,
            )
            self._tracks[track_id] = record
        else:
            self._tracks.move_to_end(track_id)
        record.seen(frame_index, captured_at, self.tick, detector_class)
        return record

    def expire(self) -> list[TrackRecord]:
        """Ends and returns the tracks unseen for more than ``lost_frames`` frames, and the oldest over the cap."""
        ended: list[TrackRecord] = []
        while self._tracks:
            oldest = next(iter(self._tracks.values()))
            if self.tick - oldest.last_tick <= self.lost_frames and len(self._tracks) <= self.max_tracks:
                break
            ended.append(self._tracks.popitem(last=False)[1])
        return ended

    def end_all(self) -> list[TrackRecord]:
        """Ends every track (the camera's stream is over)."""
        ended = list(self._tracks.values())
        self._tracks.clear()
        return ended

    def records(self) -> list[TrackRecord]:
        return list(self._tracks.values())
