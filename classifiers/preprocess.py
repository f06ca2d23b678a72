"""Turning BGR crops into a classifier's input tensor, as its manifest describes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.manifest import ClassifierManifest


def prepare_batch(crops: Sequence[NDArray[np.uint8]], manifest: ClassifierManifest) -> NDArray[np.float32]:
    """Resizes, reorders and normalises BGR uint8 crops into one float32 batch.

    Args:
        crops: BGR ``(h, w, 3)`` uint8 images of any size.
        manifest: the classifier's input contract.

    Returns:
        ``(N, 3, H, W)`` for NCHW models or ``(N, H, W, 3)`` for NHWC ones.
    """
    size = (manifest.input_width, manifest.input_height)
    batch = np.empty((len(crops), manifest.input_height, manifest.input_width, 3), np.float32)
    for i, crop in enumerate(crops):
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] == 0 or crop.shape[1] == 0:
            raise ValueError(f"crop {i} must be a non-empty (h, w, 3) image, got shape {crop.shape}")
        resized = cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR)
        batch[i] = resized[..., ::-1] if manifest.color_order == "RGB" else resized
    # mean/std are given in the model's channel order, so normalise after the reorder.
    batch -= np.asarray(manifest.mean, np.float32)
    batch /= np.asarray(manifest.std, np.float32)
    if manifest.input_layout == "NCHW":
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
    return batch
