"""Per-camera adaptation on synthetic crops: levels measured online per track, the correction into the envelope of
the fitted cameras, a dim camera's black car read black again, and the leave-one-clip-out stream (earlier frames
only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from classifiers.color.camera_adapt import (
    IDENTITY,
    CameraAdapter,
    CameraLevels,
    CameraLevelsSettings,
    LevelsCorrection,
    correction_for,
    envelope,
    view_levels,
)
from classifiers.color.camera_eval import CameraSimulation, StreamCrops, clip_levels, stream_corrections
from classifiers.color.recognizer import (
    ColorRecognizer,
    MemberConfig,
    RecognizerConfig,
    load_recognizer_config,
    save_recognizer_config,
)
from tests.classifiers.test_color_paint import vehicle

MARGIN = 0.1
BODIES: tuple[tuple[int, int, int], ...] = ((20, 20, 20), (240, 240, 240), (85, 85, 85), (30, 30, 190), (160, 70, 25))
"""A black, a white, a grey, a red and a blue car (BGR)."""
HAZE = CameraSimulation("dim and hazy", lift=0.35, gain=0.65)


def paint_recognizer() -> ColorRecognizer:
    """The paint statistic alone: a recogniser without ONNX members."""
    config = RecognizerConfig(members=(MemberConfig(name="paint", kind="paint", weight=1.0),))
    return ColorRecognizer(config, path=Path("paint.yaml"), crop_margin=MARGIN)


def fed(settings: CameraLevelsSettings | None, crops: list[NDArray[np.uint8]]) -> CameraAdapter:
    adapter = CameraAdapter(settings)
    adapter.update_many(crops, MARGIN, list(range(len(crops))))
    return adapter


@pytest.fixture(scope="module")
def fitted_envelope() -> CameraLevelsSettings:
    """The envelope of two good cameras: the synthetic one, and one with a road 10 levels brighter."""
    first = fed(None, [vehicle(b) for b in BODIES]).levels()
    second = fed(None, [vehicle(b, road=125) for b in BODIES]).levels()
    assert first is not None
    assert second is not None
    return envelope([first, second])


def test_view_levels_are_the_box_dark_and_bright_ends() -> None:
    dark, bright = view_levels(vehicle((240, 240, 240)), MARGIN)
    assert dark < 40  # the windscreen
    assert bright > 200  # the white paint
    with pytest.raises(ValueError, match="BGR"):
        view_levels(np.zeros((4, 4), np.uint8), MARGIN)


def test_a_dim_cameras_black_car_reads_black_after_adaptation(fitted_envelope: CameraLevelsSettings) -> None:
    recognizer = paint_recognizer()
    hazy = [HAZE.apply(vehicle(b)) for b in BODIES]
    assert recognizer.recognize([hazy[0]])[0].color == "grey"  # the haze lifts the black paint to mid grey
    adapter = fed(fitted_envelope, hazy * 4)
    correction = adapter.correction()
    assert not correction.is_identity
    results = recognizer.recognize(hazy, corrections=[correction] * len(hazy))
    assert [r.color for r in results] == ["black", "white", "grey", "red", "blue"]


def test_a_camera_inside_the_envelope_is_left_as_it_is(fitted_envelope: CameraLevelsSettings) -> None:
    adapter = fed(fitted_envelope, [vehicle(b, road=120) for b in BODIES])
    assert adapter.correction().is_identity
    crop = vehicle((30, 30, 190))
    assert adapter.correction().apply(crop) is crop


def test_nothing_seen_or_no_envelope_is_the_identity(fitted_envelope: CameraLevelsSettings) -> None:
    assert CameraAdapter(fitted_envelope).correction() == IDENTITY
    adapter = fed(None, [HAZE.apply(vehicle(b)) for b in BODIES])
    assert adapter.levels() is not None  # measured, but nothing to map into
    assert adapter.correction() == IDENTITY


def test_few_tracks_move_the_levels_less() -> None:
    settings = CameraLevelsSettings(black=(0.0, 20.0), white=(200.0, 250.0), pseudo_tracks=5.0)
    one = correction_for(CameraLevels(1, 60.0, 160.0), settings)
    many = correction_for(CameraLevels(95, 60.0, 160.0), settings)
    assert one.black_to == pytest.approx(60.0 - 40.0 / 6)
    assert many.black_to == pytest.approx(20.0 + 40.0 * 5 / 100)
    assert 160.0 < one.white_to < many.white_to < 200.0


def test_a_track_counts_once_however_often_it_is_seen() -> None:
    adapter = CameraAdapter(None)
    parked = HAZE.apply(vehicle((240, 240, 240)))
    for _ in range(100):
        adapter.update(parked, MARGIN, track="parked")
    for i, body in enumerate(BODIES[:4]):
        adapter.update(vehicle(body), MARGIN, track=i)
    levels = adapter.levels()
    assert levels is not None
    assert levels.tracks == 5
    assert levels.black == pytest.approx(view_levels(vehicle(BODIES[2]), MARGIN)[0], abs=3)


def test_only_the_last_tracks_are_kept() -> None:
    adapter = CameraAdapter(CameraLevelsSettings(black=(0.0, 20.0), white=(200.0, 250.0), max_tracks=3))
    for track in range(10):
        adapter.add_levels(float(track), 220.0, track=track)
    levels = adapter.levels()
    assert levels is not None
    assert (levels.tracks, levels.black) == (3, 8.0)
    with pytest.raises(ValueError, match="one track per crop"):
        adapter.update_many([vehicle(BODIES[0])], MARGIN, [])


def test_levels_correction_keeps_hues_and_clips() -> None:
    correction = LevelsCorrection(50.0, 150.0, 0.0, 200.0)
    pixel = np.array([[[50, 100, 150]]], np.uint8)
    assert correction.apply(pixel).ravel().tolist() == [0, 100, 200]
    assert correction.apply(np.array([[[10, 250, 0]]], np.uint8)).ravel().tolist() == [0, 255, 0]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"black": (30.0, 10.0), "white": (200.0, 250.0)}, "low <= high"),
        ({"black": (0.0, 10.0), "white": (200.0, 300.0)}, "low <= high"),
        ({"black": (0.0, 190.0), "white": (200.0, 250.0)}, "apart"),
        ({"black": (0.0, 10.0), "white": (200.0, 250.0), "pseudo_tracks": -1.0}, "greater than or equal"),
        ({"black": (0.0, 10.0), "white": (200.0, 250.0), "extra": 1}, "Extra inputs"),
    ],
)
def test_bad_envelopes_are_refused(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        CameraLevelsSettings(**fields)


def test_envelope_spans_the_cameras_and_needs_one() -> None:
    settings = envelope([CameraLevels(5, 2.0, 195.0), CameraLevels(9, 44.0, 240.0)])
    assert (settings.black, settings.white) == ((2.0, 44.0), (195.0, 240.0))
    with pytest.raises(ValueError, match="at least one camera"):
        envelope([])


def test_the_envelope_travels_in_the_recogniser_file(tmp_path: Path, fitted_envelope: CameraLevelsSettings) -> None:
    config = RecognizerConfig(members=(MemberConfig(name="paint", kind="paint", weight=1.0),), camera=fitted_envelope)
    loaded = load_recognizer_config(save_recognizer_config(config, tmp_path / "r.yaml"))
    assert loaded.camera == fitted_envelope
    recognizer = ColorRecognizer(loaded, path=tmp_path / "r.yaml", crop_margin=MARGIN)
    assert recognizer.camera_settings == fitted_envelope
    with pytest.raises(ValueError, match="one correction per crop"):
        recognizer.recognize([vehicle(BODIES[0])], corrections=[])


def test_the_stream_uses_earlier_frames_only(fitted_envelope: CameraLevelsSettings) -> None:
    """A crop's correction comes from crops of earlier frames: the first frame's crops are never corrected, and
    crops of one frame share the correction made before any of them was seen."""
    crops = [HAZE.apply(vehicle(b)) for b in BODIES] * 2
    frames = np.array([0, 0, 5, 5, 5, 9, 9, 12, 12, 12], np.int64)
    data = StreamCrops(crops, ("cam",) * 10, frames, tuple(f"v{i % 5}" for i in range(10)))
    corrections = stream_corrections(data, data.of_clip("cam"), CameraAdapter(fitted_envelope), MARGIN, crops)
    assert corrections[0] == corrections[1] == IDENTITY
    assert corrections[2] == corrections[3] == corrections[4] != IDENTITY
    assert corrections[5] == corrections[6] != corrections[4]
    assert clip_levels(data, MARGIN)["cam"].tracks == 5
    with pytest.raises(ValueError, match="clip, frame and vehicle"):
        StreamCrops(crops, ("cam",), frames, ())


def test_only_washed_out_cameras_are_corrected() -> None:
    settings = CameraLevelsSettings(black=(10.0, 40.0), white=(190.0, 250.0), pseudo_tracks=0.0)
    contrasty = correction_for(CameraLevels(50, 1.0, 254.0), settings)
    assert contrasty.is_identity  # deeper blacks and brighter whites than the fitted cameras' are left alone
    washed = correction_for(CameraLevels(50, 60.0, 150.0), settings)
    assert (washed.black_from, washed.black_to, washed.white_from, washed.white_to) == (60.0, 40.0, 150.0, 190.0)
