"""Which frames go through the detector: every k-th frame of a camera, and (when enabled) only frames with motion.

Per camera, in the detect stage, before the detector runs. A frame that is not detected is dropped there and
counted by reason (``interval``, ``no_motion``); the tracker, which runs on detected frames only, bridges the gap
with its motion model, so a vehicle keeps its track id across skipped frames.

Motion is measured on a small blurred copy of the frame against a running-average background (a few tenths of a
millisecond per frame at the default 160 px width): the share of pixels where some colour channel differs by
more than ``pixel_threshold`` (grey alone misses a red car on asphalt of the same brightness). Without motion, a
frame is still detected at least every ``full_frame_every_s`` seconds of stream time, so a stopped vehicle is
still seen. The changed pixels' bounding box is kept as the decision's ``region`` (where the motion was, in frame
pixels); the detector still sees the whole frame.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from streamer.recognize.settings import DetectionScheduleSettings, MotionGateSettings
from streamer.sources.frames import Frame


class GateReason(enum.StrEnum):
    """Why a frame was, or was not, detected."""

    EVERY_FRAME = "every_frame"
    MOTION = "motion"
    FLOOR = "floor"
    INTERVAL = "interval"
    NO_MOTION = "no_motion"

    @property
    def detect(self) -> bool:
        return self in (GateReason.EVERY_FRAME, GateReason.MOTION, GateReason.FLOOR)


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether a frame is detected, why, and where motion was (x1, y1, x2, y2 in frame pixels; None: unmeasured)."""

    reason: GateReason
    changed: float | None = None
    region: tuple[int, int, int, int] | None = None

    @property
    def detect(self) -> bool:
        return self.reason.detect


class MotionMeter:
    """The share of changed pixels of each frame against a running-average background (one camera)."""

    def __init__(self, settings: MotionGateSettings) -> None:
        self.settings = settings
        self._background: NDArray[np.float32] | None = None

    def measure(self, image: NDArray[np.uint8]) -> tuple[float, tuple[int, int, int, int] | None]:
        """The share of changed pixels (1.0 on the first frame: nothing to compare with) and their bounding box."""
        height, width = image.shape[:2]
        small_w = min(self.settings.width, width)
        small_h = max(round(height * small_w / width), 1)
        small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        if self._background is None or self._background.shape != small.shape:
            self._background = small.astype(np.float32)
            return 1.0, (0, 0, width, height)
        # The largest change over the colour channels: a red car on grey asphalt of the same brightness is motion.
        delta = cv2.absdiff(small, cv2.convertScaleAbs(self._background)).max(axis=2)
        changed = delta > self.settings.pixel_threshold
        cv2.accumulateWeighted(small, self._background, self.settings.background_alpha)
        share = float(np.count_nonzero(changed)) / changed.size
        ys, xs = np.nonzero(changed)
        if not len(xs):
            return share, None
        sx, sy = width / small_w, height / small_h
        region = (
            int(xs.min() * sx),
            int(ys.min() * sy),
            int(np.ceil((xs.max() + 1) * sx)),
            int(np.ceil((ys.max() + 1) * sy)),
        )
        return share, region


class DetectionGate:
    """Decides, frame by frame of one camera (in order), whether the detector runs."""

    def __init__(self, settings: DetectionScheduleSettings) -> None:
        self.settings = settings
        self.motion = MotionMeter(settings.motion) if settings.motion.enabled else None
        self._frames = 0
        self._last_detected_s: float | None = None

    def decide(self, frame: Frame) -> GateDecision:
        self._frames += 1
        if (self._frames - 1) % self.settings.every:
            return GateDecision(GateReason.INTERVAL)
        if self.motion is None:
            return GateDecision(GateReason.EVERY_FRAME)
        changed, region = self.motion.measure(frame.image)
        if changed >= self.settings.motion.min_changed:
            decision = GateDecision(GateReason.MOTION, changed, region)
        elif self._due(frame.position_s):
            decision = GateDecision(GateReason.FLOOR, changed, region)
        else:
            return GateDecision(GateReason.NO_MOTION, changed, region)
        self._last_detected_s = frame.position_s
        return decision

    def _due(self, position_s: float) -> bool:
        last = self._last_detected_s
        # Stream time only grows within a pass: a later frame at or before the last detection's position is a file
        # that looped and started again.
        return last is None or position_s <= last or position_s - last >= self.settings.motion.full_frame_every_s


class DetectionGates:
    """One `DetectionGate` per camera, made on the camera's first frame from its settings (defaults if unknown)."""

    def __init__(self, settings: Mapping[str, DetectionScheduleSettings] | None = None) -> None:
        self.settings = dict(settings or {})
        self._gates: dict[str, DetectionGate] = {}

    @property
    def active(self) -> bool:
        """False when every camera detects every frame (the gate has nothing to decide)."""
        return any(s.every > 1 or s.motion.enabled for s in self.settings.values())

    def decide(self, frame: Frame) -> GateDecision:
        gate = self._gates.get(frame.camera_id)
        if gate is None:
            settings = self.settings.get(frame.camera_id, DetectionScheduleSettings())
            gate = self._gates[frame.camera_id] = DetectionGate(settings)
        return gate.decide(frame)

    def select(self, frames: Sequence[Frame]) -> tuple[list[Frame], list[tuple[Frame, GateDecision]]]:
        """The frames to detect, and the skipped ones with their decisions."""
        kept: list[Frame] = []
        skipped: list[tuple[Frame, GateDecision]] = []
        for frame in frames:
            decision = self.decide(frame)
            if decision.detect:
                kept.append(frame)
            else:
                skipped.append((frame, decision))
        return kept, skipped
