"""The real YOLOv8n / YOLO11n detectors in ../shared on real photos (skipped when the assets are absent)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from detectors.types import Detections
from detectors.yolo import YoloDetector
from tests.conftest import shared_path
from tests.synthetic_detector import fixed_box_settings

pytestmark = pytest.mark.shared

MODELS = ("yolov8n_int8_640", "yolov8n_int8_640_dynbatch", "yolo11n_int8_640_dynbatch")


def _load(model: str, max_batch: int = 3) -> YoloDetector:
    path = shared_path(f"models/{model}.onnx")
    return YoloDetector.from_settings(fixed_box_settings(path, max_batch=max_batch))


def _read(name: str) -> NDArray[np.uint8]:
    image = cv2.imread(str(shared_path(f"images/{name}")))
    assert image is not None, name
    return np.asarray(image, np.uint8)


@pytest.fixture(scope="module")
def detectors() -> dict[str, YoloDetector]:
    return {}


def _detector(cache: dict[str, YoloDetector], model: str) -> YoloDetector:
    if model not in cache:
        cache[model] = _load(model)
    return cache[model]


def _within(result: Detections, image: NDArray[np.uint8]) -> None:
    h, w = image.shape[:2]
    assert np.all(result.boxes >= 0)
    assert np.all(result.boxes[:, [0, 2]] <= w)
    assert np.all(result.boxes[:, [1, 3]] <= h)
    assert np.all(result.widths >= 16)
    assert np.all(result.heights >= 16)
    assert set(result.class_names) <= {"car", "bus", "truck", "motorcycle"}
    assert np.all(result.scores >= 0.35)
    assert np.all(np.diff(result.scores) <= 0)  # best first


def _iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    iou: NDArray[np.float32] = inter / (area_a[:, None] + area_b[None, :] - inter)
    return iou


@pytest.mark.parametrize("model", MODELS)
def test_bus_photo(detectors: dict[str, YoloDetector], model: str) -> None:
    image = _read("yolov5_bus.jpg")  # 810x1080, a bus seen from the front with people in front of it
    (result,) = _detector(detectors, model).detect([image])
    _within(result, image)
    assert "bus" in result.class_names
    bus = result.boxes[result.class_names.index("bus")]
    assert bus[2] - bus[0] > 0.8 * image.shape[1]  # it spans almost the whole width


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", ["udacity_test1.jpg", "udacity_test4.jpg"])
def test_udacity_cars(detectors: dict[str, YoloDetector], model: str, name: str) -> None:
    image = _read(name)  # 1280x720 dash camera: cars ahead on the right
    (result,) = _detector(detectors, model).detect([image])
    _within(result, image)
    assert result.class_names.count("car") >= 1


def test_static_and_dynamic_exports_agree(detectors: dict[str, YoloDetector]) -> None:
    image = _read("udacity_test1.jpg")
    static = _detector(detectors, "yolov8n_int8_640")
    dynamic = _detector(detectors, "yolov8n_int8_640_dynbatch")
    assert (static.dynamic_batch, static.max_batch) == (False, 1)
    assert (dynamic.dynamic_batch, dynamic.max_batch) == (True, 3)
    (a,) = static.detect([image])
    (b,) = dynamic.detect([image])
    assert a.class_names == b.class_names
    np.testing.assert_allclose(a.boxes, b.boxes, atol=2.0)


def test_dynamic_batch_of_identical_images_matches_batch_of_one(detectors: dict[str, YoloDetector]) -> None:
    image = _read("udacity_test1.jpg")
    detector = _detector(detectors, "yolov8n_int8_640_dynbatch")
    (single,) = detector.detect([image])
    batch = detector.detect([image, image.copy(), image.copy()])  # one session.run of 3
    assert len(single) >= 1
    for result in batch:
        assert len(result) == len(single)
        assert sorted(result.class_names) == sorted(single.class_names)
        assert np.all(_iou(single.boxes, result.boxes).max(axis=1) > 0.95)  # order-free: near-equal scores may swap
        np.testing.assert_allclose(result.scores, single.scores, atol=0.05)


def test_mixed_sizes_in_one_batch(detectors: dict[str, YoloDetector]) -> None:
    bus, road = _read("yolov5_bus.jpg"), _read("udacity_test1.jpg")
    detector = _detector(detectors, "yolo11n_int8_640_dynbatch")
    (alone_bus,) = detector.detect([bus])
    (alone_road,) = detector.detect([road])
    together = detector.detect([bus, road])
    assert "bus" in together[0].class_names
    assert together[1].class_names.count("car") >= 1
    _within(together[0], bus)
    _within(together[1], road)
    # Each image's boxes stay in its own coordinates: the same objects as when run alone (the confident ones: in a
    # mixed int8 batch scores shift by a few hundredths).
    for alone, mixed in ((alone_bus, together[0]), (alone_road, together[1])):
        confident = alone.boxes[alone.scores >= 0.5]
        assert np.all(_iou(confident, mixed.boxes).max(axis=1) > 0.9)
