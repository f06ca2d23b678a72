"""Settings of the recognise flow (the ``pipeline:`` and ``tracking:`` sections): settings only, no runtime code.

Config loading imports this module, so it must stay cheap: pydantic models and the settings of the libraries'
own settings modules, nothing that loads OpenCV, a model runtime or Redis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from classifiers.plates.settings import PlateReaderSettings
from classifiers.settings import FusionSettings
from watchlists.settings import TrackEventSettings


class PipelineSettings(BaseModel):
    """How the stages hand work to each other."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detected_queue_size: int = Field(
        default=4,
        ge=1,
        description=(
            "Detector batches waiting for classification. Small keeps latency and memory low; when it is full the "
            "detector waits, and live cameras drop their oldest frames instead (counted)."
        ),
    )


class MotionGateSettings(BaseModel):
    """Motion-gated detection: the detector runs only on frames where pixels changed (as Frigate does)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=False,
        description=(
            "Skip detection on frames without motion. Saves the detector on quiet scenes (night, empty roads); on "
            "busy roads nearly every frame has motion and little is saved."
        ),
    )
    width: int = Field(
        default=160, ge=16, le=1920, description="Width, in pixels, of the small image motion is measured on."
    )
    pixel_threshold: int = Field(
        default=25,
        ge=1,
        le=255,
        description="Change of a colour channel (0-255, after a light blur) for a pixel to count as changed.",
    )
    min_changed: float = Field(
        default=0.002,
        gt=0.0,
        lt=1.0,
        description=(
            "Share of changed pixels that counts as motion (0.002 of a 160x90 image is 29 pixels: about a car "
            "of 25x25 px at 720p moving its own width in a few frames). Lower wakes on noise and compression."
        ),
    )
    background_alpha: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description=(
            "How fast the background follows the scene (running average weight of each new frame): higher forgets "
            "a car that stopped sooner, lower keeps it as motion longer."
        ),
    )
    full_frame_every_s: float = Field(
        default=2.0,
        gt=0.0,
        description=(
            "Floor rate: a frame is detected at least this often (stream time) even without motion, so a vehicle "
            "that stopped is still seen and its track kept."
        ),
    )


class DetectionScheduleSettings(BaseModel):
    """Which frames of a camera go through the detector (per camera)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: int = Field(
        default=1,
        ge=1,
        le=100,
        description=(
            "Detect every k-th frame sent on (after detect_fps); the tracker bridges the frames in between with its "
            "motion model (as DeepStream's interval). 1 detects every frame."
        ),
    )
    motion: MotionGateSettings = Field(default_factory=MotionGateSettings, description="Motion-gated detection.")


class TrackerSettings(BaseModel):
    """How boxes are linked into tracks (ByteTrack)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Literal["bytetrack"] = Field(
        default="bytetrack", description="Tracking algorithm; ByteTrack from the `trackers` package."
    )
    activation_confidence: float = Field(
        default=0.35,
        gt=0.0,
        le=1.0,
        description=(
            "Detector score a box needs to start a new track. Higher avoids tracks on false detections but starts "
            "tracks later (or never) for vehicles the detector is unsure of; at least high_confidence."
        ),
    )
    high_confidence: float = Field(
        default=0.35,
        gt=0.0,
        le=1.0,
        description=(
            "Boxes scored at least this are matched to tracks first; lower-scored boxes only extend tracks left "
            "unmatched (ByteTrack's second pass), so a vehicle whose score dips keeps its id. The second pass needs "
            "the detector's confidence below this (the defaults, both 0.35, leave it idle: on the sample clips, "
            "vehicles the small YOLO scores 0.35-0.5 otherwise never start a track)."
        ),
    )
    min_iou: float = Field(
        default=0.1,
        gt=0.0,
        lt=1.0,
        description=(
            "Smallest overlap between a track's predicted box and a box for them to be linked. Lower follows fast "
            "or low-frame-rate vehicles; higher avoids swapping ids between close vehicles."
        ),
    )
    confirm_frames: int = Field(
        default=2,
        ge=1,
        le=30,
        description="Frames a new track must be seen in before it gets an id (filters one-frame false detections).",
    )
    merge_iou: float = Field(
        default=0.7,
        gt=0.0,
        le=1.0,
        description=(
            "Boxes overlapping more than this are one vehicle whatever their classes, and only the best-scored is "
            "kept. The detector's NMS is per class, so a car also scored as a truck gives two boxes, which would "
            "otherwise become two tracks of one vehicle; 1.0 keeps every box."
        ),
    )
    lost_frames: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description=(
            "Detector frames a track is kept without a box (bridges occlusions) before it is forgotten. Longer "
            "keeps ids through longer occlusions, but holds memory longer and risks giving the id to another vehicle."
        ),
    )

    @model_validator(mode="after")
    def _activation_is_high(self) -> TrackerSettings:
        if self.activation_confidence < self.high_confidence:
            raise ValueError(
                f"activation_confidence ({self.activation_confidence}) must be at least high_confidence "
                f"({self.high_confidence}): a track can only start from a box of the first pass"
            )
        return self


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


def _vehicle_crop_reader() -> PlateReaderSettings:
    # On a vehicle crop the plate sits in the lower part: text above ~1/3 of the height is a windscreen sticker,
    # a roof sign or a badge. Crops are not enlarged for detection: 2x doubled the plate stage's cost in the
    # service (vehiclewatch bench --plates) for a gain measured on small photos only. The plate finder's closer
    # look is off for the same reason: even one region tripled the plate stage's time per frame in that bench
    # (10-11 -> 31-40 ms on swdee_cars), for a gain measured on photos (plates_dev), not on vehicle crops.
    # Lines are read as they are, in batches as narrow as they allow (read_stretch 1, read_min_width 160): widening
    # squat lines costs ~50 % more per line read, and its gain (US plates) was measured on photos only.
    return PlateReaderSettings(
        min_center_y=0.35, max_upscale=1.0, finder_regions=0, read_stretch=1.0, read_min_width=160
    )


class PlateStageSettings(BaseModel):
    """Licence plate reading per track (needs the ``plates`` extra; off by default).

    A track's plate is read on frames where its box is wide enough, at most every ``every_frames`` detected
    frames, until ``max_reads`` reads or a settled plate; the reads are fused per track. Reading is bounded per
    batch (``max_crops_per_batch``, ``budget_ms``): what does not fit is skipped and counted, never queued.

    Example:
        >>> PlateStageSettings().enabled
        False
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Read licence plates (needs pip install 'vehiclewatch[plates]').")
    reader: PlateReaderSettings = Field(
        default_factory=_vehicle_crop_reader, description="How plates are found and read on a vehicle crop."
    )
    min_box_width: int = Field(
        default=160, ge=16, description="Narrowest vehicle box, in frame pixels, whose plate is read."
    )
    every_frames: int = Field(default=3, ge=1, description="Detected frames between two reads of one track's plate.")
    max_reads: int = Field(default=8, ge=1, description="Most plate reads per track.")
    settle_confidence: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="A track's plate is read no more once its fused confidence reaches this (after 2+ reads).",
    )
    max_crops_per_batch: int = Field(
        default=4, ge=1, description="Most plates read per detector batch (the widest boxes first); the rest skip."
    )
    budget_ms: float = Field(
        default=250.0,
        gt=0,
        description="Time per batch after which no further plate is read in it; the rest are skipped (counted).",
    )
    crop_margin: float = Field(default=0.05, ge=0, le=0.5, description="Context around the box for the plate crop.")


class TrackingSettings(BaseModel):
    """Tracking of vehicles and classification per track.

    With tracking on, each camera's boxes are linked into tracks; a track is classified on its best views only
    (see `streamer.recognize.schedule`), its classifications are fused, the watchlist is matched on the fused
    labels and
    an entry alerts at most once per track. With it off, every box of every frame is classified on its own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=True,
        description=(
            "Track vehicles and classify per track (far fewer classifier calls, steadier labels, one alert per "
            "vehicle); false classifies every box of every frame."
        ),
    )
    tracker: TrackerSettings = Field(default_factory=TrackerSettings, description="How boxes are linked into tracks.")
    quality: QualitySettings = Field(default_factory=QualitySettings, description="Crop quality gate.")
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings, description="When a track is classified.")
    fusion: FusionSettings = Field(default_factory=FusionSettings, description="How a track's views are fused.")
    max_tracks_per_camera: int = Field(
        default=1000,
        ge=1,
        description="Most tracks remembered per camera; beyond it the longest-unseen ends early (bounded memory).",
    )
    events: TrackEventSettings = Field(
        default_factory=TrackEventSettings, description="Track summary events on their own Redis stream."
    )
    plates: PlateStageSettings = Field(
        default_factory=PlateStageSettings, description="Licence plate reading per track (the 'plates' extra)."
    )

    def with_fitted_fusion(self, fitted: Mapping[str, float]) -> TrackingSettings:
        """These settings with a calibration file's per-head agreement exponents (fitted on labelled vehicles by
        ``vehiclewatch watchlist calibrate``); exponents the config names itself (``fusion.head_exponents``) win."""
        return self if not fitted else self.model_copy(update={"fusion": self.fusion.with_fitted(fitted)})

    def for_frame_step(self, step: int) -> TrackingSettings:
        """These settings for a camera whose detector sees every ``step``-th frame: the counts of frames (tracker
        horizon, refresh, patience) shrink by ``step``, so they span the same stream time."""
        if step <= 1:
            return self

        def scaled(frames: int) -> int:
            return max(round(frames / step), 1)

        tracker = self.tracker.model_copy(update={"lost_frames": scaled(self.tracker.lost_frames)})
        schedule = self.schedule.model_copy(
            update={
                "refresh_frames": scaled(self.schedule.refresh_frames),
                "patience_frames": scaled(self.schedule.patience_frames),
            }
        )
        return self.model_copy(update={"tracker": tracker, "schedule": schedule})
