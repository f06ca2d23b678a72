"""The ``tracking:`` section of the configuration: tracker, crop quality gate, schedule, fusion and track events."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from classifiers.fusion import FusionSettings
from streamer.recognize.track_state import QualitySettings, ScheduleSettings
from streamer.recognize.tracking import TrackerSettings
from watchlists.track_events import TrackEventSettings


class TrackingSettings(BaseModel):
    """Tracking of vehicles and classification per track.

    With tracking on, each camera's boxes are linked into tracks; a track is classified on its best views only
    (see `streamer.recognize.track_state`), its classifications are fused, the watchlist is matched on the fused
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
