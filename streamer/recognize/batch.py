"""What travels between the detect and recognize stages: the frames of one detector call with their vehicles."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.types import Detections
from streamer.sources.frames import Frame


@dataclass(frozen=True, slots=True, eq=False)
class DetectedFrame:
    """A frame with the vehicles found in it; later steps add per-box columns to ``detections`` (track ids,
    ``quality``, ``classification``) rather than passing indices around."""

    frame: Frame
    detections: Detections


@dataclass(frozen=True, slots=True, eq=False)
class DetectedBatch:
    """The frames of one detector call, recognized together so their crops batch together (any cameras, each
    camera's frames in order)."""

    frames: tuple[DetectedFrame, ...]
