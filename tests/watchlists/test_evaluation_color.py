"""The colour recogniser refitted per held-out fold: its camera-adaptation envelope never includes the held-out
camera's levels (like its pool), and the levels are measured per fold from the crops, one track per vehicle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifiers.color.camera_adapt import CameraLevelsSettings, envelope
from classifiers.color.labels import COLOR_LABELS
from classifiers.color.recognizer import ColorRecognizer, MemberConfig, RecognizerConfig
from tests.classifiers.test_color_camera_adapt import BODIES, HAZE, MARGIN
from tests.classifiers.test_color_paint import vehicle
from watchlists.evaluation_color import ColorFolds

ENVELOPE = CameraLevelsSettings(black=(0.0, 30.0), white=(200.0, 250.0), pseudo_tracks=3.0, max_tracks=50)


def test_the_held_out_folds_envelope_comes_from_the_other_folds_only() -> None:
    config = RecognizerConfig(members=(MemberConfig(name="paint", kind="paint", weight=1.0),), camera=ENVELOPE)
    recognizer = ColorRecognizer(config, path=Path("paint.yaml"), crop_margin=MARGIN)
    clear = [vehicle(body) for body in BODIES]
    hazy = [HAZE.apply(vehicle(body)) for body in BODIES]
    road = [vehicle(body, road=125) for body in BODIES]
    crops = clear + hazy + road
    folds = ["clear"] * 5 + ["hazy"] * 5 + ["road"] * 5
    targets = np.array([COLOR_LABELS.index(c) for c in ("black", "white", "grey", "red", "blue")] * 3)
    vehicles = [f"vehicle{i}" for i in range(len(crops))]
    colors = ColorFolds.measure(recognizer, crops, targets, folds, vehicles)
    assert set(colors.levels) == {"clear", "hazy", "road"}
    assert colors.levels["hazy"].black > colors.levels["clear"].black + 20  # the haze lifts the blacks

    without_hazy = colors.config_without("hazy").camera
    assert without_hazy is not None
    expected = envelope([colors.levels["clear"], colors.levels["road"]], pseudo_tracks=3.0)
    assert (without_hazy.black, without_hazy.white) == (expected.black, expected.white)
    assert (without_hazy.pseudo_tracks, without_hazy.max_tracks) == (3.0, 50)
    assert without_hazy.black[1] < colors.levels["hazy"].black  # so the hazy camera is corrected when held out
    assert colors.config_without("clear").camera != without_hazy
