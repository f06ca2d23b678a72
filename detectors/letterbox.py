"""Letterbox preprocessing: fit frames of any size into a detector's fixed input, and map boxes back.

The geometry follows Ultralytics' ``LetterBox`` (centred, scaled up or down, padded with grey 114) so that a
model sees exactly what it was validated on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

PAD_VALUE = 114
"""Grey of the padding, as Ultralytics trains and exports with it."""


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where one image sits inside the model input.

    Input coordinates are ``image * scale + pad``; the scales are per axis because the resized size is
    rounded to whole pixels.

    Attributes:
        image_height: rows of the original image.
        image_width: columns of the original image.
        scale_x: resized width / original width.
        scale_y: resized height / original height.
        pad_x: columns of padding on the left.
        pad_y: rows of padding on the top.
        resized_width: columns the image covers in the input.
        resized_height: rows the image covers in the input.
    """

    image_height: int
    image_width: int
    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    resized_width: int
    resized_height: int

    @classmethod
    def fit(cls, image_hw: tuple[int, int], input_hw: tuple[int, int]) -> Letterbox:
        """The placement of an ``image_hw`` image in an ``input_hw`` input, keeping its aspect ratio.

        Example:
            >>> Letterbox.fit((720, 1280), (640, 640)).pad_y
            140
        """
        h, w = image_hw
        in_h, in_w = input_hw
        if h <= 0 or w <= 0:
            raise ValueError(f"image size must be positive, got {h}x{w}")
        ratio = min(in_h / h, in_w / w)
        new_w = min(in_w, max(1, round(w * ratio)))
        new_h = min(in_h, max(1, round(h * ratio)))
        # -0.1 / +0.1 split an odd padding the way Ultralytics does (one more pixel at the bottom/right).
        pad_x = round((in_w - new_w) / 2 - 0.1)
        pad_y = round((in_h - new_h) / 2 - 0.1)
        return cls(h, w, new_w / w, new_h / h, pad_x, pad_y, new_w, new_h)

    def to_image(self, boxes: NDArray[np.float32]) -> NDArray[np.float32]:
        """Maps ``(N, 4)`` xyxy boxes from input pixels to image pixels, clipped to the image."""
        offset = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y], np.float32)
        upper = np.array([self.image_width, self.image_height, self.image_width, self.image_height], np.float32)
        mapped: NDArray[np.float32] = (boxes.astype(np.float32, copy=False) - offset) / scale
        np.clip(mapped, np.float32(0.0), upper, out=mapped)
        return mapped

    def to_input(self, boxes: NDArray[np.float32]) -> NDArray[np.float32]:
        """Maps ``(N, 4)`` xyxy boxes from image pixels to input pixels (the inverse of `to_image`, unclipped)."""
        offset = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y], np.float32)
        return (boxes.astype(np.float32, copy=False) * scale + offset).astype(np.float32, copy=False)


def _check_image(index: int, image: NDArray[np.uint8]) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image {index} must be a non-empty BGR (h, w, 3) array, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image {index} must be uint8, got {image.dtype}")


def letterbox_image(image: NDArray[np.uint8], input_hw: tuple[int, int]) -> tuple[NDArray[np.uint8], Letterbox]:
    """One BGR image letterboxed to ``input_hw`` as a uint8 BGR image (for inspection and tests).

    Returns:
        The ``(H, W, 3)`` padded image and its `Letterbox`.
    """
    _check_image(0, image)
    canvas = np.full((*input_hw, 3), PAD_VALUE, np.uint8)
    box = _paste(image, canvas, input_hw)
    return canvas, box


def _paste(image: NDArray[np.uint8], canvas: NDArray[np.uint8], input_hw: tuple[int, int]) -> Letterbox:
    box = Letterbox.fit((image.shape[0], image.shape[1]), input_hw)
    resized: NDArray[np.uint8] = image
    if (box.resized_height, box.resized_width) != image.shape[:2]:
        # INTER_LINEAR, as Ultralytics resizes: the model's accuracy was measured on such input.
        resized = np.asarray(
            cv2.resize(image, (box.resized_width, box.resized_height), interpolation=cv2.INTER_LINEAR), np.uint8
        )
    canvas[box.pad_y : box.pad_y + box.resized_height, box.pad_x : box.pad_x + box.resized_width] = resized
    return box


def letterbox_batch(
    images: Sequence[NDArray[np.uint8]],
    input_hw: tuple[int, int],
    *,
    batch_size: int | None = None,
    dtype: type[np.floating[Any]] = np.float32,
) -> tuple[NDArray[np.floating[Any]], list[Letterbox]]:
    """Letterboxes BGR images into one RGB 0..1 NCHW tensor.

    Args:
        images: BGR ``(h, w, 3)`` uint8 images of any sizes.
        input_hw: the model's input ``(height, width)``.
        batch_size: rows of the tensor (default ``len(images)``); rows past the images are zero, for models
            with a static batch larger than the number of images.
        dtype: the model input's float type (float16 models take float16).

    Returns:
        The ``(batch_size, 3, H, W)`` tensor and one `Letterbox` per image, to map boxes back.
    """
    count = len(images)
    rows = count if batch_size is None else batch_size
    if rows < count:
        raise ValueError(f"batch_size {rows} is smaller than the {count} images given")
    in_h, in_w = input_hw
    # Paste every image into one uint8 canvas, then convert the whole batch at once: the float conversion and
    # the BGR -> RGB, HWC -> CHW reorder are then three vectorised passes instead of work per image.
    canvas = np.full((count, in_h, in_w, 3), PAD_VALUE, np.uint8)
    boxes = []
    for index, image in enumerate(images):
        _check_image(index, image)
        boxes.append(_paste(image, canvas[index], input_hw))
    tensor = np.zeros((rows, 3, in_h, in_w), dtype) if rows > count else np.empty((rows, 3, in_h, in_w), dtype)
    inverse = np.float32(1.0 / 255.0)
    for channel in range(3):
        np.multiply(canvas[..., 2 - channel], inverse, out=tensor[:count, channel], casting="same_kind")
    return tensor, boxes
