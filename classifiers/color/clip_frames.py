"""Frames of a traffic clip, decoded in order with OpenCV, and crops cut from them as ``traffic_crops_dev`` cuts them.

The labelled camera crops (``traffic_crops_dev`` and the extra labels of ``tests/classifiers/data``) name a clip, a
0-based frame index *in decoding order* and a detector box; a crop is the box grown by 10 % of its width and height
on every side, each edge rounded to the nearest pixel and clipped to the frame (``crop_rect``). OpenCV decodes the
shared H.264 clips bit-exactly from run to run, so the same labels always give the same pixels.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

ImageArray = NDArray[np.uint8]

CROP_MARGIN = 0.1
"""The camera crops' context margin: the box grown by 10 % of its size on every side."""


class ClipError(ValueError):
    """A clip cannot be opened, or a wanted frame is past its end."""


def clip_fps(path: Path) -> float:
    """The frame rate the container declares (the decoded frame count may differ from its frame count)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ClipError(f"cannot open video {path}")
        return float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()


def iter_frames(path: Path, wanted: Collection[int] | None = None) -> Iterator[tuple[int, ImageArray]]:
    """``(index, BGR frame)`` in decoding order: every frame, or only those in ``wanted`` (stops after the last).

    Frames are decoded one after the other (never by seeking), so an index means the same picture every time.

    Raises:
        ClipError: the file cannot be opened, or a wanted frame lies past the end of the clip.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ClipError(f"cannot open video {path}")
    last = max(wanted) if wanted else None
    index = 0
    try:
        while last is None or index <= last:
            ok, frame = capture.read()
            if not ok:
                break
            if wanted is None or index in wanted:
                yield index, np.asarray(frame, np.uint8)
            index += 1
    finally:
        capture.release()
    if last is not None and index <= last:
        raise ClipError(f"{path.name} has {index} decodable frames; frame {last} was asked for")


def crop_rect(
    box: tuple[float, float, float, float], height: int, width: int, margin: float = CROP_MARGIN
) -> tuple[int, int, int, int]:
    """The crop rectangle ``x1, y1, x2, y2`` (end exclusive) of a box: grown by ``margin``, rounded, clipped.

    Example:
        >>> crop_rect((421.9, 223.8, 498.4, 300.6), 720, 1280)
        (414, 216, 506, 308)
    """
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = max(0, round(x1 - dx)), max(0, round(y1 - dy))
    right, bottom = min(width, round(x2 + dx)), min(height, round(y2 + dy))
    if right <= left or bottom <= top:
        raise ValueError(f"box {box} leaves no pixels in a {width}x{height} frame")
    return left, top, right, bottom


def cut_crop(frame: ImageArray, box: tuple[float, float, float, float], margin: float = CROP_MARGIN) -> ImageArray:
    """The crop of ``box`` from ``frame`` (see ``crop_rect``), as a contiguous copy."""
    left, top, right, bottom = crop_rect(box, frame.shape[0], frame.shape[1], margin)
    return np.ascontiguousarray(frame[top:bottom, left:right])


def touches_border(box: tuple[float, float, float, float], height: int, width: int) -> bool:
    """The data set's border rule: ``x1 <= 2``, ``y1 <= 2``, ``x2 >= W - 3`` or ``y2 >= H - 3``."""
    x1, y1, x2, y2 = box
    return x1 <= 2 or y1 <= 2 or x2 >= width - 3 or y2 >= height - 3
