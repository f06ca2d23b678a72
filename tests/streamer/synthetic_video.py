"""Small generated videos for always-run tests: each frame's brightness encodes its number."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

_STEP = 8  # gray levels between consecutive frames; MJPG keeps a flat frame's mean within about 1 level


def write_video(path: Path, frames: int, fps: float = 20.0, size: tuple[int, int] = (64, 48)) -> Path:
    """Writes an MJPG .avi whose frame ``i`` is flat gray ``(i * 8) % 256`` (so up to 32 distinct numbers)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    width, height = size
    for i in range(frames):
        writer.write(np.full((height, width, 3), (i * _STEP) % 256, np.uint8))
    writer.release()
    return path


def frame_number(image: NDArray[np.uint8]) -> int:
    """The number written into a frame by :func:`write_video` (modulo 32)."""
    return round(float(image.mean()) / _STEP) % (256 // _STEP)
