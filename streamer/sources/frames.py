"""The frame type that camera readers put on their buffers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded frame of one camera.

    Attributes:
        camera_id: the camera's configured id.
        index: frame number since the camera's reader (re)started, counting frames not sent on.
        captured_at: wall-clock time (``time.time()``) the frame was decoded; end-to-end latency starts here.
        position_s: position in the stream in seconds (file time for videos, reader time for live cameras).
        image: BGR uint8 ``(H, W, 3)``.
    """

    camera_id: str
    index: int
    captured_at: float
    position_s: float
    image: NDArray[np.uint8]

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"frame image must be uint8 (H, W, 3), got {self.image.dtype} {self.image.shape}")
