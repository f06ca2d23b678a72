"""Augmentations that make clean photos look like traffic-camera crops, for training colour heads.

Traffic crops differ from web photos in ways that each have a simple physical cause, and each step imitates one:

- ``exposure``: the camera's auto-exposure and gamma (paint looks lighter or darker than it is);
- ``color_cast``: the white balance is off for the scene's light (warm low sun, blue shade, magenta/green tints);
- ``sky_reflection``: glossy dark paint mirrors a blue sky, so dark colours turn bluish while light ones do not;
- ``haze``: atmosphere between camera and car, a veil of bright "airlight" that lifts the blacks and washes colour;
- ``blur``: focus, heat shimmer and motion;
- ``downscale``: the vehicle is 40-160 pixels across, then stretched to the classifier's input;
- ``noise``: sensor noise in poor light;
- ``jpeg``: the stream's lossy compression, which smears chroma at block edges.

They run in that order (light, then atmosphere, then optics, sensor and codec), each with its own probability.
Hue is never rotated: a hue change would turn a red car into a green one and make the label wrong. Casts and
reflections only tint, as real light does, within limits where a labeller would still name the same colour.

A view is a pure function of (image, config, rng), so augmented embeddings can be cached (see
``classifiers.training.augment.view_rng``).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

ImageArray = NDArray[np.uint8]


class CameraAugmentConfig(BaseModel):
    """Probabilities and strengths of the camera-imitating steps (see the module doc).

    Example:
        >>> cfg = CameraAugmentConfig()
        >>> view = camera_augment(np.full((80, 120, 3), 128, np.uint8), cfg, np.random.default_rng(0))
        >>> view.dtype, view.ndim
        (dtype('uint8'), 3)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    flip: float = Field(default=0.5, ge=0.0, le=1.0, description="probability of a left-right mirror")
    exposure: float = Field(default=0.6, ge=0.0, le=1.0, description="probability of a gamma/gain change")
    gamma_range: tuple[float, float] = Field(default=(0.75, 1.35), description="gamma drawn from this range")
    gain_range: tuple[float, float] = Field(default=(0.75, 1.2), description="overall gain drawn from this range")
    color_cast: float = Field(default=0.6, ge=0.0, le=1.0, description="probability of a white-balance error")
    cast_strength: float = Field(
        default=0.18, ge=0.0, lt=0.6, description="largest relative red/blue gain change (warm or cool cast)"
    )
    tint_strength: float = Field(default=0.06, ge=0.0, lt=0.3, description="largest relative green/magenta tint")
    sky_reflection: float = Field(
        default=0.25, ge=0.0, le=1.0, description="probability of a blue sky reflection on dark paint"
    )
    sky_strength: float = Field(
        default=28.0, ge=0.0, le=80.0, description="largest blue added to a black pixel (0..255 units)"
    )
    haze: float = Field(default=0.35, ge=0.0, le=1.0, description="probability of a haze veil")
    haze_strength: float = Field(default=0.35, ge=0.0, lt=0.8, description="largest airlight blend fraction")
    blur: float = Field(default=0.5, ge=0.0, le=1.0, description="probability of Gaussian or motion blur")
    blur_sigma: float = Field(default=1.4, ge=0.0, le=5.0, description="largest Gaussian sigma, in pixels at 224")
    downscale: float = Field(default=0.85, ge=0.0, le=1.0, description="probability of a resolution loss")
    short_side_range: tuple[int, int] = Field(
        default=(40, 160), description="the vehicle's shorter side, in pixels, after the resolution loss"
    )
    noise: float = Field(default=0.4, ge=0.0, le=1.0, description="probability of sensor noise")
    noise_sigma: float = Field(default=6.0, ge=0.0, le=30.0, description="largest noise sigma (0..255 units)")
    jpeg: float = Field(default=0.8, ge=0.0, le=1.0, description="probability of JPEG re-compression")
    jpeg_quality: tuple[int, int] = Field(default=(15, 70), description="JPEG quality drawn from this range")

    @model_validator(mode="after")
    def _ranges(self) -> CameraAugmentConfig:
        for name in ("gamma_range", "gain_range", "short_side_range", "jpeg_quality"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {(low, high)}")
        if self.jpeg_quality[1] > 100:
            raise ValueError(f"jpeg_quality must be at most 100, got {self.jpeg_quality}")
        return self


def _as_uint8(pixels: NDArray[np.float32]) -> ImageArray:
    return np.ascontiguousarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))


def adjust_exposure(image: ImageArray, gamma: float, gain: float) -> ImageArray:
    """``255 · gain · (x / 255)^gamma``: gamma > 1 darkens the mid-tones, gain scales everything."""
    lut = np.clip(255.0 * gain * np.power(np.arange(256) / 255.0, gamma) + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(cv2.LUT(image, lut))


def apply_cast(image: ImageArray, gains_bgr: tuple[float, float, float]) -> ImageArray:
    """Multiplies the blue, green and red channels by ``gains_bgr`` (a white-balance error)."""
    return _as_uint8(image.astype(np.float32) * np.asarray(gains_bgr, np.float32))


def add_sky_reflection(image: ImageArray, strength: float) -> ImageArray:
    """Adds a bluish tint that is strongest on dark pixels: glossy dark paint mirroring the sky.

    Args:
        image: BGR uint8.
        strength: blue added to a black pixel (0..255 units); white pixels get none.
    """
    pixels = image.astype(np.float32)
    darkness = 1.0 - pixels.mean(axis=2, keepdims=True) / 255.0
    # Sky light is blue with some green; red is absorbed.
    tint = np.asarray([1.0, 0.55, 0.1], np.float32) * strength
    return _as_uint8(pixels + darkness * tint)


def add_haze(image: ImageArray, amount: float, airlight_bgr: tuple[float, float, float]) -> ImageArray:
    """Blends the image toward the airlight colour: ``x · (1 − amount) + airlight · amount``."""
    pixels = image.astype(np.float32)
    return _as_uint8(pixels * (1.0 - amount) + np.asarray(airlight_bgr, np.float32) * amount)


def gaussian_blur(image: ImageArray, sigma: float) -> ImageArray:
    """Gaussian blur with ``sigma`` pixels (no change for sigma <= 0)."""
    if sigma <= 0:
        return image
    return np.ascontiguousarray(cv2.GaussianBlur(image, (0, 0), sigmaX=sigma))


def motion_blur(image: ImageArray, length: int, angle_deg: float) -> ImageArray:
    """Averages along a line of ``length`` pixels at ``angle_deg`` (a moving vehicle, a slow shutter)."""
    if length <= 1:
        return image
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle_deg, 1.0)
    rotated = np.asarray(cv2.warpAffine(kernel, rotation, (length, length)), np.float32)
    kernel = rotated / max(float(rotated.sum()), 1e-6)
    return np.ascontiguousarray(cv2.filter2D(image, -1, kernel))


def downscale(image: ImageArray, short_side: int) -> ImageArray:
    """Shrinks the image so its shorter side is ``short_side`` pixels (never enlarges it)."""
    h, w = image.shape[:2]
    scale = short_side / min(h, w)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def add_noise(image: ImageArray, sigma: float, rng: np.random.Generator) -> ImageArray:
    """Adds Gaussian noise of ``sigma`` (0..255 units), partly shared across channels as real sensors show."""
    if sigma <= 0:
        return image
    shape = image.shape[:2]
    luma = rng.normal(0.0, sigma * 0.8, (*shape, 1))
    chroma = rng.normal(0.0, sigma * 0.6, (*shape, 3))
    return _as_uint8(image.astype(np.float32) + (luma + chroma).astype(np.float32))


def jpeg_roundtrip(image: ImageArray, quality: int) -> ImageArray:
    """Encodes and decodes the image as JPEG at ``quality`` (1-100), with the usual 4:2:0 chroma subsampling."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        return image
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(decoded, np.uint8)


def _cast_gains(config: CameraAugmentConfig, rng: np.random.Generator) -> tuple[float, float, float]:
    # Warm (red up, blue down) or cool (the reverse), plus a smaller green/magenta tint.
    temperature = rng.uniform(-config.cast_strength, config.cast_strength)
    tint = rng.uniform(-config.tint_strength, config.tint_strength)
    return (1.0 - temperature, 1.0 + tint, 1.0 + temperature)


def _airlight(rng: np.random.Generator) -> tuple[float, float, float]:
    # Haze is bright and nearly neutral: bluish-grey on clear days, warm in low sun.
    level = rng.uniform(150.0, 235.0)
    warmth = rng.uniform(-0.08, 0.08)
    return (level * (1.0 - warmth), level, level * (1.0 + warmth))


def camera_augment(image: ImageArray, config: CameraAugmentConfig, rng: np.random.Generator) -> ImageArray:
    """One camera-like view of a BGR uint8 image (the input is not modified); see the module doc for the steps.

    Raises:
        ValueError: the image is not a non-empty BGR uint8 array.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(f"image must be a non-empty BGR (h, w, 3) uint8 array, got {image.dtype} {image.shape}")
    out = np.ascontiguousarray(image)
    if rng.random() < config.flip:
        out = np.ascontiguousarray(out[:, ::-1])
    if rng.random() < config.exposure:
        out = adjust_exposure(out, rng.uniform(*config.gamma_range), rng.uniform(*config.gain_range))
    if rng.random() < config.color_cast:
        out = apply_cast(out, _cast_gains(config, rng))
    if rng.random() < config.sky_reflection:
        out = add_sky_reflection(out, rng.uniform(0.3, 1.0) * config.sky_strength)
    if rng.random() < config.haze:
        out = add_haze(out, rng.uniform(0.05, 1.0) * config.haze_strength, _airlight(rng))
    if rng.random() < config.blur:
        # Sigma is given for a 224-pixel image; scale it to this one's size so the loss of detail is the same.
        scale = min(out.shape[:2]) / 224.0
        if rng.random() < 0.7:
            out = gaussian_blur(out, rng.uniform(0.3, 1.0) * config.blur_sigma * scale)
        else:
            out = motion_blur(out, max(2, round(rng.uniform(2.0, 6.0) * scale)), rng.uniform(0.0, 180.0))
    if rng.random() < config.downscale:
        out = downscale(out, int(rng.integers(config.short_side_range[0], config.short_side_range[1] + 1)))
    if rng.random() < config.noise:
        out = add_noise(out, rng.uniform(0.2, 1.0) * config.noise_sigma, rng)
    if rng.random() < config.jpeg:
        out = jpeg_roundtrip(out, int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)))
    return out
