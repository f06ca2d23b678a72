"""The classifier bank adapts its colour recogniser to each camera, learning from the boxes it classifies: a dim
camera's black car reads black once the camera has been seen, a camera of its own is not moved by another's
statistics, and without cameras (or with the setting off) nothing is corrected."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.color.camera_adapt import CameraLevelsSettings
from classifiers.color.recognizer import ColorRecognizer, MemberConfig, RecognizerConfig
from detectors.types import Detections
from tests.classifiers.test_color_camera_adapt import BODIES, HAZE, MARGIN, fitted_envelope, paint_recognizer
from tests.classifiers.test_color_paint import vehicle
from tests.synthetic_detector import detections_of

__all__ = ["fitted_envelope"]  # the fixture, imported for these tests


def box_of(image: NDArray[np.uint8]) -> Detections:
    """The vehicle box inside a ``vehicle()`` image (stored with ``MARGIN`` around it)."""
    h, w = image.shape[:2]
    inner = 1 / (1 + 2 * MARGIN)
    x1, y1 = round(w * MARGIN * inner), round(h * MARGIN * inner)
    return detections_of((x1, y1, w - x1, h - y1))


def bank_with(envelope: CameraLevelsSettings, *, adapt: bool) -> ClassifierBank:
    plain = paint_recognizer()
    config = RecognizerConfig(members=(MemberConfig(name="paint", kind="paint", weight=1.0),), camera=envelope)
    recognizer = ColorRecognizer(config, path=plain.path, crop_margin=MARGIN)
    return ClassifierBank([], crop_margin=MARGIN, color_recognizer=recognizer, camera_adaptation=adapt)


def colour_of(bank: ClassifierBank, image: NDArray[np.uint8], camera: str | None, track: int = 999) -> str:
    results = bank.classify_boxes(
        [(image, box_of(image))],
        cameras=None if camera is None else [camera],
        tracks=None if camera is None else [[track]],
    )
    classification = results.frames[0][0]
    assert classification is not None
    return classification.top(1)["color"][0].label


def watch(bank: ClassifierBank, camera: str, tracks: int) -> None:
    """The camera's stream: every body colour, one track each, in batches of one frame per body."""
    for track in range(tracks):
        image = HAZE.apply(vehicle(BODIES[track % len(BODIES)]))
        bank.classify_boxes([(image, box_of(image))], cameras=[camera], tracks=[[track]])


def test_a_dim_cameras_black_car_reads_black_once_the_camera_is_known(fitted_envelope: CameraLevelsSettings) -> None:
    bank = bank_with(fitted_envelope, adapt=True)
    black_in_haze = HAZE.apply(vehicle(BODIES[0]))
    assert colour_of(bank, black_in_haze, "dim") == "grey"  # nothing seen yet: the haze lifts black to grey
    watch(bank, "dim", 20)
    assert colour_of(bank, black_in_haze, "dim") == "black"
    assert colour_of(bank, black_in_haze, "other") == "grey"  # another camera learns on its own
    assert colour_of(bank, black_in_haze, None) == "grey"  # a batch without cameras is not corrected
    assert bank.camera_adapters is not None
    levels = bank.camera_adapters.levels()
    assert set(levels) == {"dim", "other"}
    assert levels["dim"].tracks == 20 + 1  # the 20 watched tracks and the probe's track


def test_adaptation_off_or_a_file_without_an_envelope_corrects_nothing(fitted_envelope: CameraLevelsSettings) -> None:
    off = bank_with(fitted_envelope, adapt=False)
    assert off.camera_adapters is None
    watch(off, "dim", 20)
    assert colour_of(off, HAZE.apply(vehicle(BODIES[0])), "dim") == "grey"
    no_envelope = ClassifierBank([], crop_margin=MARGIN, color_recognizer=paint_recognizer(), camera_adaptation=True)
    assert no_envelope.camera_adapters is None


def test_a_fold_bank_starts_its_cameras_afresh(fitted_envelope: CameraLevelsSettings) -> None:
    bank = bank_with(fitted_envelope, adapt=True)
    watch(bank, "dim", 10)
    fold = bank.with_parts(abstain=bank.abstain)
    assert fold.camera_adapters is not None
    assert fold.camera_adapters.levels() == {}


def test_cameras_must_match_the_frames(fitted_envelope: CameraLevelsSettings) -> None:
    bank = bank_with(fitted_envelope, adapt=True)
    image = vehicle(BODIES[1])
    with pytest.raises(ValueError, match="one camera"):
        bank.classify_boxes([(image, box_of(image))], cameras=["a", "b"])
