"""The scheduler: which tracks are classified on a frame.

Classify a new track as soon as its crop passes the quality gate, again when its box has grown clearly (the
vehicle came closer) or after ``refresh_frames`` frames, and never again once its label is confident and stable
(or after ``max_views``). A track that only ever shows poor views is classified anyway after ``patience_frames``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from streamer.recognize.quality import CropQuality, GateResult
from streamer.recognize.settings import ScheduleSettings


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
