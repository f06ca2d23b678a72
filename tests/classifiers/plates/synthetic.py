"""Synthetic vehicles with a rendered licence plate, for the plate reader's tests (no shared data needed)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def plate_image(text: str, width: int = 150) -> NDArray[np.uint8]:
    """A white plate with a dark border and ``text`` in black, ``width`` pixels wide (aspect about 2:1)."""
    height = width // 2
    plate = np.full((height, width, 3), 235, np.uint8)
    cv2.rectangle(plate, (2, 2), (width - 3, height - 3), (40, 40, 40), 2)
    scale = width / 150.0
    size, _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, 1.1 * scale, max(int(2 * scale), 1))
    origin = ((width - size[0]) // 2, (height + size[1]) // 2)
    cv2.putText(plate, text, origin, cv2.FONT_HERSHEY_DUPLEX, 1.1 * scale, (20, 20, 20), max(int(2 * scale), 1))
    return plate


def car_with_plate(
    text: str, size: tuple[int, int] = (300, 420), plate_width: int = 150, seed: int = 0
) -> tuple[NDArray[np.uint8], tuple[int, int, int, int]]:
    """A car-coloured crop with the plate in its lower middle; returns the image and the plate box (x, y, w, h)."""
    rng = np.random.default_rng(seed)
    h, w = size
    image = np.clip(rng.normal(110, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    image[: h // 3] = np.clip(rng.normal(60, 8, (h // 3, w, 3)), 0, 255).astype(np.uint8)  # windscreen
    plate = plate_image(text, plate_width)
    ph, pw = plate.shape[:2]
    x, y = (w - pw) // 2, int(h * 0.68)
    image[y : y + ph, x : x + pw] = plate
    return image, (x, y, pw, ph)
