"""Camera-imitating augmentations: each step on synthetic images does what its physics says, and never turns a red
car into another colour."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from classifiers.color.augment import (
    CameraAugmentConfig,
    add_haze,
    add_noise,
    add_sky_reflection,
    adjust_exposure,
    apply_cast,
    camera_augment,
    downscale,
    gaussian_blur,
    jpeg_roundtrip,
    motion_blur,
)
from classifiers.training.augment import AugmentConfig, augment_image


def solid(bgr: tuple[int, int, int], h: int = 48, w: int = 64) -> NDArray[np.uint8]:
    image = np.empty((h, w, 3), np.uint8)
    image[:] = bgr
    return image


def car(body_bgr: tuple[int, int, int]) -> NDArray[np.uint8]:
    """A body-coloured box with a dark window band and a grey road around it: edges for blur and JPEG."""
    image = solid((110, 110, 110), 96, 128)
    image[20:80, 16:112] = body_bgr
    image[26:40, 30:98] = (35, 35, 35)
    return image


def hue_deg(image: NDArray[np.uint8]) -> float:
    """Mean CIELab hue angle of the image's most saturated quarter of pixels."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab).reshape(-1, 3)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    top = lab[chroma >= np.quantile(chroma, 0.75)]
    return float(np.degrees(np.arctan2(top[:, 2].mean(), top[:, 1].mean())) % 360)


def test_exposure_gamma_darkens_mid_tones_and_keeps_black() -> None:
    grey = solid((128, 128, 128))
    assert adjust_exposure(grey, 1.3, 1.0)[0, 0, 0] < 128
    assert adjust_exposure(grey, 0.8, 1.0)[0, 0, 0] > 128
    assert adjust_exposure(solid((0, 0, 0)), 0.8, 1.2)[0, 0, 0] == 0


def test_cast_scales_channels() -> None:
    out = apply_cast(solid((100, 100, 100)), (1.2, 1.0, 0.8))
    assert out[0, 0].tolist() == [120, 100, 80]


def test_sky_reflection_tints_dark_paint_more_than_light() -> None:
    dark = add_sky_reflection(solid((20, 20, 20)), 30.0)[0, 0].astype(int)
    light = add_sky_reflection(solid((230, 230, 230)), 30.0)[0, 0].astype(int)
    assert dark[0] - dark[2] > 20  # blue well above red on black paint
    assert light[0] - light[2] < 5


def test_haze_lifts_blacks_and_lowers_contrast() -> None:
    image = car((20, 20, 20))
    hazy = add_haze(image, 0.3, (200.0, 200.0, 200.0))
    assert hazy.min() >= 60
    assert hazy.astype(float).std() < image.astype(float).std()


@pytest.mark.parametrize("blur", [lambda im: gaussian_blur(im, 2.0), lambda im: motion_blur(im, 7, 30.0)])
def test_blur_smooths_edges(blur: Any) -> None:
    # A blurred step has the same total rise spread over more pixels: less gradient energy.
    image = car((0, 0, 200))
    energy = float((np.diff(image.astype(float), axis=1) ** 2).mean())
    assert float((np.diff(blur(image).astype(float), axis=1) ** 2).mean()) < 0.7 * energy
    assert gaussian_blur(image, 0.0) is image


@pytest.mark.parametrize(("short_side", "expected"), [(40, (40, 53)), (200, (96, 128))])
def test_downscale_to_short_side_never_enlarges(short_side: int, expected: tuple[int, int]) -> None:
    assert downscale(car((0, 0, 200)), short_side).shape[:2] == expected


def test_noise_has_the_asked_spread() -> None:
    noisy = add_noise(solid((128, 128, 128), 100, 100), 6.0, np.random.default_rng(0))
    assert 4.0 < float(noisy.astype(float).std()) < 9.0
    assert abs(float(noisy.astype(float).mean()) - 128) < 1.0


def test_jpeg_roundtrip_is_lossy_but_close() -> None:
    image = car((0, 0, 200))
    out = jpeg_roundtrip(image, 20)
    assert out.shape == image.shape
    assert not np.array_equal(out, image)
    assert float(np.abs(out.astype(float) - image.astype(float)).mean()) < 12.0


def test_views_are_deterministic_per_rng() -> None:
    image = car((180, 60, 30))
    cfg = CameraAugmentConfig()
    a = camera_augment(image, cfg, np.random.default_rng(7))
    b = camera_augment(image, cfg, np.random.default_rng(7))
    c = camera_augment(image, cfg, np.random.default_rng(8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.array_equal(image, car((180, 60, 30)))  # input untouched


def test_red_stays_red_and_blue_stays_blue_under_every_view() -> None:
    # The augmentations tint and wash colours but never rotate hue: the label stays true.
    cfg = CameraAugmentConfig()
    for body, low, high in [((20, 20, 200), 0.0, 65.0), ((190, 70, 20), 230.0, 320.0)]:
        image = car(body)
        for seed in range(30):
            hue = hue_deg(camera_augment(image, cfg, np.random.default_rng(seed)))
            assert low <= hue <= high, (body, seed, hue)


def test_all_steps_off_returns_the_image() -> None:
    off = CameraAugmentConfig(
        flip=0, exposure=0, color_cast=0, sky_reflection=0, haze=0, blur=0, downscale=0, noise=0, jpeg=0
    )
    image = car((0, 0, 200))
    assert np.array_equal(camera_augment(image, off, np.random.default_rng(0)), image)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"jpeg_quality": (50, 20)}, "jpeg_quality"),
        ({"jpeg_quality": (10, 120)}, "at most 100"),
        ({"short_side_range": (0, 40)}, "short_side_range"),
        ({"haze": 1.5}, "less than or equal"),
        ({"colour": 1}, "Extra inputs"),
    ],
)
def test_config_errors(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        CameraAugmentConfig(**fields)


@pytest.mark.parametrize("image", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32), np.zeros((0, 8, 3))])
def test_bad_image(image: NDArray[Any]) -> None:
    with pytest.raises(ValueError, match="BGR"):
        camera_augment(image, CameraAugmentConfig(), np.random.default_rng(0))


def test_training_views_can_imitate_cameras() -> None:
    # `vehiclewatch train --camera-augment`: the trainer's own steps, then the camera steps, under a new cache key.
    plain, camera = AugmentConfig(), AugmentConfig(camera=True)
    assert plain.view_key(0, 1) == "c513a854d9dc2fb1"  # unchanged by the camera option: old caches stay valid
    assert camera.view_key(0, 1) != plain.view_key(0, 1)
    assert camera.view_key(0, 0) == "orig"
    image = car((20, 20, 200))
    a = augment_image(image, camera, np.random.default_rng(3))
    assert np.array_equal(a, augment_image(image, camera, np.random.default_rng(3)))
    assert not np.array_equal(a, augment_image(image, plain, np.random.default_rng(3)))
