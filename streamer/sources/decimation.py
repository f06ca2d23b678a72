"""Decimation of a camera's frames to ``detect_fps`` by stream position."""

from __future__ import annotations

import math

__all__ = ["FrameDecimator"]


class FrameDecimator:
    """Sends on at most ``fps`` frames per second of stream time, chosen by position (deterministic for files).

    A frame is sent when it is the first one in its ``1/fps`` slot of the stream. A position that goes backwards
    (a looping file, a new connection) starts afresh.

    Example:
        >>> decimator = FrameDecimator(10.0)
        >>> [decimator.accept(i / 30) for i in range(6)]
        [True, False, False, True, False, False]
    """

    # Slot boundaries tolerate float noise in positions (150.00000000000003 ms must fall in the 0.15 s slot).
    _EPSILON = 1e-6

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps <= 0:
            raise ValueError(f"detect_fps must be positive, got {fps}")
        self._fps = fps
        self._last_slot: int | None = None
        self._last_position = -math.inf

    def accept(self, position_s: float) -> bool:
        """Whether the frame at ``position_s`` is sent on."""
        if self._fps is None:
            return True
        if position_s < self._last_position:
            self._last_slot = None
        self._last_position = position_s
        slot = math.floor(position_s * self._fps + self._EPSILON)
        if slot == self._last_slot:
            return False
        self._last_slot = slot
        return True
