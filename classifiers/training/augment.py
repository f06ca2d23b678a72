"""Augmentation applied before embedding: horizontal flip, crop jitter and small photometric changes.

Each augmented view of an image is a pure function of (image bytes, config, seed, copy index), so its embedding can
be cached under that key and re-runs never recompute it.
"""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from classifiers.color.augment import CameraAugmentConfig, camera_augment


class AugmentConfig(BaseModel):
    """How many augmented copies of each training image to embed, and how strongly to change them.

    Hue is never shifted: a hue change would turn a red car into a green one and break colour labels.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    copies: int = Field(default=2, ge=0, le=16, description="augmented views per training image (0 = originals only)")
    flip: bool = Field(default=True, description="mirror left-right with probability 0.5")
    crop_jitter: float = Field(
        default=0.08, ge=0.0, lt=0.4, description="largest fraction of width/height cut from each side"
    )
    brightness: float = Field(default=0.15, ge=0.0, lt=1.0, description="largest relative brightness change")
    contrast: float = Field(default=0.15, ge=0.0, lt=1.0, description="largest relative contrast change")
    saturation: float = Field(default=0.1, ge=0.0, lt=1.0, description="largest relative saturation change")
    camera: bool = Field(
        default=False,
        description="then imitate a traffic camera (classifiers.color.augment: down-scaling, JPEG, blur, colour "
        "casts, sky reflection, haze, noise)",
    )

    def view_key(self, seed: int, copy: int) -> str:
        """A short stable key naming one augmented view (copy ≥ 1) of every image; ``orig`` for copy 0."""
        if copy == 0:
            return "orig"
        # Without camera steps the key is what it was before they existed, so cached views stay valid.
        spec = self.model_dump(exclude={"copies"} if self.camera else {"copies", "camera"})
        blob = json.dumps({"spec": spec, "seed": seed, "copy": copy}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def view_rng(seed: int, copy: int, file_sha256: str) -> np.random.Generator:
    """The random generator of one view of one image, independent of processing order."""
    return np.random.default_rng(np.random.SeedSequence([seed, copy, int(file_sha256[:16], 16)]))


def augment_image(image: NDArray[np.uint8], config: AugmentConfig, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Returns a randomly changed copy of a BGR uint8 image (the input is not modified)."""
    h, w = image.shape[:2]
    out = image
    if config.crop_jitter > 0:
        left, right, top, bottom = rng.uniform(0.0, config.crop_jitter, size=4)
        x0, x1 = round(left * w), w - round(right * w)
        y0, y1 = round(top * h), h - round(bottom * h)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            out = out[y0:y1, x0:x1]
    if config.flip and rng.random() < 0.5:
        out = out[:, ::-1]
    pixels = out.astype(np.float32)
    if config.saturation > 0:
        gray = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_BGR2GRAY).astype(np.float32)[..., None]
        pixels = gray + (pixels - gray) * (1.0 + rng.uniform(-config.saturation, config.saturation))
    if config.contrast > 0:
        mean = float(pixels.mean())
        pixels = mean + (pixels - mean) * (1.0 + rng.uniform(-config.contrast, config.contrast))
    if config.brightness > 0:
        pixels = pixels * (1.0 + rng.uniform(-config.brightness, config.brightness))
    out = np.ascontiguousarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))
    if config.camera:
        out = camera_augment(out, CameraAugmentConfig(flip=0.0), rng)  # flipped above already
    return out
