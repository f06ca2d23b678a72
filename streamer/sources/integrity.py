"""Damaged input: a video file that ends before its container says it should, or a stream that does not decode.

FFmpeg reads a cut MP4 up to the cut and then reports the end, like a whole file; a stream with undecodable data
fails a read like a dropped connection. Both used to pass with only FFmpeg's own lines on stderr. This module
names them (:class:`SourceFault`) so the reader can warn once per camera and count them.

A file is judged truncated when its last frame read lies clearly before the container's declared length: more than
two frames *and* more than 1 % short, so containers whose frame count is an estimate (duration × fps) do not
raise false alarms.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["DeclaredLength", "FaultKind", "SourceFault", "truncation_fault"]

_TOLERANCE_FRAMES = 2
_TOLERANCE_FRACTION = 0.01


class FaultKind(enum.StrEnum):
    """What was wrong with the input (a small, fixed set, fit for a metric label)."""

    TRUNCATED = "truncated"
    """A video file ended before its declared length."""
    UNDECODABLE = "undecodable"
    """A source opened but delivered no decodable frame."""


@dataclass(frozen=True, slots=True)
class SourceFault:
    """Damaged input seen by a source.

    Attributes:
        kind: what was wrong.
        detail: one line for the operator (redacted; no camera id, the reader adds it).
    """

    kind: FaultKind
    detail: str


@dataclass(frozen=True, slots=True)
class DeclaredLength:
    """What a file's container says about its length; either may be unknown (``None``).

    Attributes:
        frames: the declared frame count.
        fps: the declared frame rate.
    """

    frames: int | None
    fps: float | None

    @property
    def duration_s(self) -> float | None:
        """The declared duration, when both the frame count and the frame rate are known."""
        if self.frames is None or self.fps is None:
            return None
        return self.frames / self.fps


def truncation_fault(frames_read: int, last_position_s: float | None, declared: DeclaredLength) -> SourceFault | None:
    """The fault of a file that reached its end after ``frames_read`` frames, or ``None`` if it ended where declared.

    Args:
        frames_read: frames decoded in this pass over the file.
        last_position_s: stream position of the last frame decoded, ``None`` when none was.
        declared: the container's length.
    """
    if declared.frames is None or declared.frames <= 0:
        return None
    missing = declared.frames - frames_read
    if missing <= max(_TOLERANCE_FRAMES, declared.frames * _TOLERANCE_FRACTION):
        return None
    if declared.fps is not None and declared.duration_s is not None and last_position_s is not None:
        # The position is what the container timestamps say; frame counts alone can differ after a seek.
        reached_s = last_position_s + 1.0 / declared.fps
        short_s = declared.duration_s - reached_s
        if short_s <= max(_TOLERANCE_FRAMES / declared.fps, declared.duration_s * _TOLERANCE_FRACTION):
            return None
        where = f"{reached_s:.1f} s of {declared.duration_s:.1f} s, {frames_read} of {declared.frames} frames"
    else:
        where = f"{frames_read} of {declared.frames} frames"
    return SourceFault(FaultKind.TRUNCATED, f"file ended early ({where}): truncated or damaged")
