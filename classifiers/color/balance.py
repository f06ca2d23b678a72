"""White-balance (colour-cast) correction: estimate the light's colour from neutral surfaces, divide it out.

A camera that mis-judges the light tints everything: a grey car under a blue sky looks blue-grey, a white van in
low sun looks cream. The classic estimators assume some part of the picture is neutral on average and scale the
three channels (von Kries gains) so that part comes out grey:

- *gray-world*: the mean of all pixels is grey (``shades_of_gray_gains`` with ``p = 1``);
- *shades-of-gray*: the Minkowski ``p``-mean is grey; ``p ≈ 6`` leans toward bright surfaces and is the usual
  best compromise between gray-world and white-patch (``p → ∞``);
- *neutral pixels*: only the low-saturation, mid-brightness pixels (road, kerb, concrete) are averaged; this
  ignores a red car filling the crop, which would fool gray-world.

On a vehicle crop the car itself is not neutral, so the estimate should come from its surroundings: the margin
around the box (mostly road) or the whole frame. ``ring_mask`` selects that margin.

Gains are clipped (``max_gain``), so a scene that really is one colour (a yellow bus filling the view) is only
partly "corrected".
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

ImageArray = NDArray[np.uint8]
Gains = NDArray[np.float32]
"""Per-channel multipliers in BGR order, shape ``(3,)``."""

UNIT_GAINS: Gains = np.ones(3, np.float32)
_MIN_PIXELS = 32


def _check(image: ImageArray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(f"image must be a non-empty BGR (h, w, 3) uint8 array, got {image.dtype} {image.shape}")


def _gains_from_estimate(estimate: NDArray[np.float64], max_gain: float) -> Gains:
    """Gains that map the estimated light colour to grey of the same mean brightness."""
    est = np.maximum(estimate, 1e-6)
    gains: Gains = np.clip(est.mean() / est, 1.0 / max_gain, max_gain).astype(np.float32)
    return gains


def shades_of_gray_gains(
    image: ImageArray, *, p: float = 6.0, mask: NDArray[np.bool_] | None = None, max_gain: float = 1.6
) -> Gains:
    """Shades-of-gray estimate (Finlayson & Trezzi 2004): gains making the ``p``-mean of the pixels grey.

    Clipped (near 0 or 255) pixels are left out: they carry no colour information.

    Args:
        image: BGR uint8.
        p: Minkowski norm; 1 is gray-world, larger values weigh bright pixels more.
        mask: ``(h, w)`` bool, the pixels to use (default all).
        max_gain: no channel is scaled by more than this or less than its inverse.

    Returns:
        ``(3,)`` float32 gains; unit gains when fewer than 32 usable pixels remain.

    Example:
        >>> blue_cast = np.full((8, 8, 3), (150, 100, 100), np.uint8)
        >>> shades_of_gray_gains(blue_cast).round(2).tolist()
        [0.78, 1.17, 1.17]
    """
    _check(image)
    if p < 1:
        raise ValueError(f"p must be >= 1, got {p}")
    pixels = image.reshape(-1, 3) if mask is None else image[mask]
    pixels = pixels[(pixels.max(axis=1) < 250) & (pixels.min(axis=1) > 5)].astype(np.float64)
    if len(pixels) < _MIN_PIXELS:
        return UNIT_GAINS.copy()
    # Normalise before the power so large p cannot overflow.
    estimate = np.power(np.mean(np.power(pixels / 255.0, p), axis=0), 1.0 / p)
    return _gains_from_estimate(estimate, max_gain)


def neutral_pixel_gains(
    image: ImageArray,
    *,
    mask: NDArray[np.bool_] | None = None,
    max_saturation: int = 70,
    value_range: tuple[int, int] = (30, 235),
    max_gain: float = 1.6,
) -> Gains:
    """Gains making the mean of the near-neutral pixels (low HSV saturation, mid brightness) grey.

    Road, kerbs and concrete dominate those pixels in traffic footage, so this is a robust estimate of the light's
    colour even when a strongly coloured vehicle fills part of the view.

    Args:
        image: BGR uint8.
        mask: ``(h, w)`` bool, the pixels to consider (default all).
        max_saturation: largest OpenCV HSV saturation (0-255) of a pixel taken as neutral.
        value_range: HSV value (brightness) range of pixels taken as neutral (excludes shadows and clipping).
        max_gain: no channel is scaled by more than this or less than its inverse.

    Returns:
        ``(3,)`` float32 gains; unit gains when fewer than 32 neutral pixels are found.
    """
    _check(image)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    neutral = (hsv[..., 1] <= max_saturation) & (hsv[..., 2] >= value_range[0]) & (hsv[..., 2] <= value_range[1])
    if mask is not None:
        neutral &= mask
    pixels = image[neutral].astype(np.float64)
    if len(pixels) < _MIN_PIXELS:
        return UNIT_GAINS.copy()
    return _gains_from_estimate(pixels.mean(axis=0), max_gain)


def apply_gains(image: ImageArray, gains: Gains) -> ImageArray:
    """The image with each BGR channel multiplied by its gain (saturating at 255)."""
    _check(image)
    if np.allclose(gains, 1.0):
        return image
    table = np.clip(np.arange(256, dtype=np.float32)[:, None] * gains[None, :] + 0.5, 0, 255).astype(np.uint8)
    out = np.empty_like(image)
    for channel in range(3):
        out[..., channel] = table[image[..., channel], channel]
    return out


def ring_mask(height: int, width: int, margin: float) -> NDArray[np.bool_]:
    """The pixels of a crop outside its vehicle box, for a crop cut with ``margin`` of context on every side.

    A crop cut with margin ``m`` (a fraction of the box's width left and right, of its height above and below)
    has the box in its middle ``1 / (1 + 2m)`` part; everything around it is the ring (road, kerb, other cars).

    Returns:
        ``(height, width)`` bool; all False when the margin is 0.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    ring = np.zeros((height, width), bool)
    if margin == 0:
        return ring
    fx = margin / (1 + 2 * margin)
    dx, dy = max(1, round(width * fx)), max(1, round(height * fx))
    ring[:dy] = True
    ring[height - dy :] = True
    ring[:, :dx] = True
    ring[:, width - dx :] = True
    return ring


def ring_gains(crop: ImageArray, margin: float, *, max_gain: float = 1.6) -> Gains:
    """White-balance gains of a crop from its surroundings: neutral-pixel gains of the ring around the box.

    Falls back to shades-of-gray over the ring when too few neutral pixels are found (a strong cast makes the road
    itself look coloured), and to unit gains when the crop has no ring (``margin`` 0).
    """
    _check(crop)
    ring = ring_mask(crop.shape[0], crop.shape[1], margin)
    if not ring.any():
        return UNIT_GAINS.copy()
    gains = neutral_pixel_gains(crop, mask=ring, max_gain=max_gain)
    if np.allclose(gains, 1.0):
        gains = shades_of_gray_gains(crop, mask=ring, max_gain=max_gain)
    return gains


def correct_crop(crop: ImageArray, margin: float, *, max_gain: float = 1.6) -> ImageArray:
    """The crop white-balanced from its surroundings (``ring_gains``); unchanged when it has no ring."""
    return apply_gains(crop, ring_gains(crop, margin, max_gain=max_gain))
