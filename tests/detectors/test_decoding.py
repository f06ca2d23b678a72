"""Decoding of the three YOLO output layouts: layout detection, class filter, thresholds, class-aware NMS."""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.typing import NDArray

from detectors.decoding import Layout, OutputLayoutError, YoloDecoder, detect_layout
from tests.synthetic_detector import SYNTHETIC_NAMES, encode_output

C = len(SYNTHETIC_NAMES)  # person 0, bicycle 1, car 2, motorcycle 3, airplane 4, bus 5, train 6, truck 7
VEHICLES = (2, 3, 5, 7)
LAYOUTS: tuple[Layout, ...] = ("v8", "v5", "end2end")


def _decoder(layout: Layout, **kwargs: float) -> YoloDecoder:
    options = {"confidence": 0.35, "iou": 0.45, **kwargs}
    return YoloDecoder(layout, C, VEHICLES, confidence=options["confidence"], iou=options["iou"])


def _batch(layout: Layout, *images: list[tuple[tuple[float, float, float, float], int, float]]) -> NDArray[np.float32]:
    """A raw batch output: per image, a list of (box xyxy, class id, score)."""
    anchors = max(len(boxes) for boxes in images) + 20
    return np.stack(
        [
            encode_output(
                layout,
                np.array([b for b, _, _ in boxes], np.float32).reshape(-1, 4),
                [c for _, c, _ in boxes],
                [s for _, _, s in boxes],
                C,
                num_anchors=anchors,
            )
            for boxes in images
        ]
    )


@pytest.mark.parametrize(
    ("shape", "num_classes", "end2end", "expected"),
    [
        ((1, 84, 8400), 80, None, "v8"),
        ((4, 84, 8400), 80, False, "v8"),
        ((1, 25200, 85), 80, None, "v5"),
        ((1, 300, 6), 80, None, "end2end"),
        ((1, 300, 6), 80, True, "end2end"),
        ((2, 12, 20), 8, None, "v8"),
        ((1, 20, 6), 1, True, "end2end"),  # one class: [N, 6] is v5 or end2end; the metadata settles it
        ((1, 20, 6), 1, False, "v5"),
        ((1, 300, 6), 80, False, OutputLayoutError("fits no YOLO layout for 80 classes with end2end=False")),
        ((1, 20, 6), 1, None, OutputLayoutError("is ambiguous for 1 classes: it fits v5, end2end")),
        ((1, 84, 85), 80, None, OutputLayoutError("is ambiguous for 80 classes: it fits v8, v5")),
        ((1, 7, 100), 80, None, OutputLayoutError("output shape [1, 7, 100] fits no YOLO layout for 80 classes")),
        ((84, 8400), 80, None, OutputLayoutError("output must have 3 dimensions")),
        ((1, 1, 84, 8400), 80, None, OutputLayoutError("output must have 3 dimensions")),
    ],
)
def test_detect_layout(
    shape: tuple[int, ...], num_classes: int, end2end: bool | None, expected: str | OutputLayoutError
) -> None:
    if isinstance(expected, OutputLayoutError):
        with pytest.raises(OutputLayoutError, match=re.escape(str(expected))):
            detect_layout(shape, num_classes, end2end)
    else:
        assert detect_layout(shape, num_classes, end2end) == expected


CAR, BUS, TRUCK, PERSON = 2, 5, 7, 0
A = (10.0, 10.0, 50.0, 40.0)
A_SHIFTED = (12.0, 11.0, 52.0, 41.0)  # IoU with A ≈ 0.85
FAR = (100.0, 100.0, 140.0, 150.0)

# (boxes of one image, expected (class, score) kept, best first; end2end keeps overlapping same-class boxes: no NMS)
CASES: list[tuple[str, list[tuple[tuple[float, float, float, float], int, float]], list[tuple[int, float]]]] = [
    ("empty", [], []),
    ("one car", [(A, CAR, 0.9)], [(CAR, 0.9)]),
    ("below threshold", [(A, CAR, 0.3)], []),
    ("at threshold", [(A, CAR, 0.35)], [(CAR, 0.35)]),
    ("non-vehicle dropped", [(A, PERSON, 0.95), (FAR, 1, 0.9)], []),
    ("same class suppressed", [(A, CAR, 0.8), (A_SHIFTED, CAR, 0.9)], [(CAR, 0.9)]),
    ("different classes both kept", [(A, CAR, 0.8), (A_SHIFTED, TRUCK, 0.9)], [(TRUCK, 0.9), (CAR, 0.8)]),
    ("apart both kept", [(A, CAR, 0.6), (FAR, CAR, 0.7), (FAR, BUS, 0.5)], [(CAR, 0.7), (CAR, 0.6), (BUS, 0.5)]),
    ("person beside car", [(A, PERSON, 0.9), (A_SHIFTED, CAR, 0.5)], [(CAR, 0.5)]),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("name", "boxes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_decode_one_image(
    layout: Layout,
    name: str,
    boxes: list[tuple[tuple[float, float, float, float], int, float]],
    expected: list[tuple[int, float]],
) -> None:
    if layout == "end2end" and name == "same class suppressed":
        expected = [(CAR, 0.9), (CAR, 0.8)]  # NMS-free models have already removed duplicates themselves
    (result,) = _decoder(layout).decode(_batch(layout, boxes))
    assert [(int(c), round(float(s), 4)) for c, s in zip(result.class_ids, result.scores, strict=True)] == expected
    assert result.boxes.dtype == np.float32
    assert result.class_ids.dtype == np.int32
    assert result.boxes.shape == (len(expected), 4)
    by_box = {(c, round(s, 4)): b for b, c, s in boxes}
    for box, class_id, score in zip(result.boxes, result.class_ids, result.scores, strict=True):
        np.testing.assert_allclose(box, by_box[(int(class_id), round(float(score), 4))], atol=1e-4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_decode_batch_keeps_images_apart(layout: Layout) -> None:
    output = _batch(
        layout,
        [(A, CAR, 0.9)],
        [],
        [(A_SHIFTED, CAR, 0.8), (FAR, BUS, 0.6)],  # same place as image 0's car: must not be suppressed by it
        [(A, PERSON, 0.99)],
    )
    results = _decoder(layout).decode(output)
    assert [r.class_ids.tolist() for r in results] == [[CAR], [], [CAR, BUS], []]
    np.testing.assert_allclose(results[0].boxes, [A], atol=1e-4)
    np.testing.assert_allclose(results[2].boxes, [A_SHIFTED, FAR], atol=1e-4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_decode_all_empty_batch(layout: Layout) -> None:
    results = _decoder(layout).decode(_batch(layout, [], [], []))
    assert [len(r.scores) for r in results] == [0, 0, 0]
    assert all(r.boxes.shape == (0, 4) for r in results)


def test_v5_score_is_objectness_times_class_probability() -> None:
    raw = np.zeros((1, 30, 5 + C), np.float32)
    raw[0, :3, :4] = [[30, 25, 40, 30], [120, 125, 40, 50], [200, 200, 20, 20]]  # cx, cy, w, h
    raw[0, 0, 4], raw[0, 0, 5 + CAR] = 0.8, 0.5  # 0.40: kept
    raw[0, 1, 4], raw[0, 1, 5 + BUS] = 0.5, 0.6  # 0.30: dropped although both factors pass
    raw[0, 2, 4], raw[0, 2, 5 + PERSON], raw[0, 2, 5 + TRUCK] = 0.9, 0.9, 0.4  # truck 0.36 kept
    (result,) = _decoder("v5").decode(raw)
    assert result.class_ids.tolist() == [CAR, TRUCK]
    np.testing.assert_allclose(result.scores, [0.4, 0.36], rtol=1e-5)
    np.testing.assert_allclose(result.boxes, [[10, 10, 50, 40], [190, 190, 210, 210]])


def test_v8_best_kept_class_wins_on_an_anchor() -> None:
    raw = np.zeros((1, 4 + C, 25), np.float32)
    raw[0, :4, 0] = [30, 25, 40, 30]
    raw[0, 4 + CAR, 0], raw[0, 4 + TRUCK, 0], raw[0, 4 + PERSON, 0] = 0.5, 0.7, 0.95
    (result,) = _decoder("v8").decode(raw)
    assert result.class_ids.tolist() == [TRUCK]
    np.testing.assert_allclose(result.scores, [0.7])


def test_end2end_ignores_class_ids_out_of_range() -> None:
    raw = np.zeros((1, 25, 6), np.float32)
    raw[0, :4] = [[0, 0, 10, 10, 0.9, 99], [0, 0, 10, 10, 0.9, -1], [0, 0, 10, 10, 0.9, 6.9999], [1, 1, 9, 9, 0.9, 5]]
    (result,) = _decoder("end2end").decode(raw)
    assert result.class_ids.tolist() == [TRUCK, BUS]  # 6.9999 rounds to 7 (a float class column)


def test_max_detections_per_image() -> None:
    boxes = [((i * 20.0, 0.0, i * 20.0 + 10, 10.0), CAR, 0.5 + i / 100) for i in range(12)]
    decoder = YoloDecoder("v8", C, VEHICLES, confidence=0.35, iou=0.45, max_detections=5)
    results = decoder.decode(_batch("v8", boxes, boxes[:3]))
    np.testing.assert_allclose(results[0].scores, [0.61, 0.60, 0.59, 0.58, 0.57], rtol=1e-5)
    assert len(results[1].scores) == 3


def test_max_candidates_keeps_the_best() -> None:
    boxes = [((i * 20.0, 0.0, i * 20.0 + 10, 10.0), CAR, 0.5 + i / 100) for i in range(12)]
    decoder = YoloDecoder("v8", C, VEHICLES, confidence=0.35, iou=0.45, max_candidates=4)
    (result,) = decoder.decode(_batch("v8", boxes))
    np.testing.assert_allclose(result.scores, [0.61, 0.60, 0.59, 0.58], rtol=1e-5)


@pytest.mark.parametrize(
    ("layout", "shape", "message"),
    [
        ("v8", (1, 4 + C + 1, 30), f"v8 output for {C} classes needs dimension 1 = {4 + C}, got shape [1, 13, 30]"),
        ("v5", (1, 30, 4 + C), f"v5 output for {C} classes needs dimension 2 = {5 + C}"),
        ("end2end", (1, 30, 7), "end2end output for 8 classes needs dimension 2 = 6"),
        ("v8", (4 + C, 30), "output must have 3 dimensions, got shape [12, 30]"),
    ],
)
def test_decode_rejects_other_shapes(layout: Layout, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(OutputLayoutError, match=re.escape(message)):
        _decoder(layout).decode(np.zeros(shape, np.float32))


@pytest.mark.parametrize(
    ("layout", "num_classes", "keep", "message"),
    [
        ("v9", 8, [2], "unknown layout 'v9'"),
        ("v8", 0, [2], "num_classes must be at least 1"),
        ("v8", 8, [], "keep_class_ids is empty"),
        ("v8", 8, [2, 8], "keep_class_ids must be in 0..7, got [2, 8]"),
        ("v8", 8, [-1], "keep_class_ids must be in 0..7"),
    ],
)
def test_decoder_rejects_bad_arguments(layout: str, num_classes: int, keep: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        YoloDecoder(layout, num_classes, keep, confidence=0.3, iou=0.5)  # type: ignore[arg-type]


def test_float16_output() -> None:
    output = _batch("v8", [(A, CAR, 0.9)]).astype(np.float16)
    (result,) = _decoder("v8").decode(output)
    assert result.boxes.dtype == np.float32
    assert result.scores.dtype == np.float32
    np.testing.assert_allclose(result.boxes, [A], atol=0.1)
