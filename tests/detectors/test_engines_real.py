"""OpenVINO and ONNX Runtime find the same vehicles with the real YOLOv8n on real traffic frames (../shared).

OpenVINO runs at its own precision here (bf16 on CPUs with AMX or AVX-512 BF16), as ``runtime: auto`` would:
bf16 shifts scores by about 0.01, so a few boxes near the score threshold or the NMS overlap may differ. Measured
on the 12 frames below: 72 of 72 boxes matched (IoU >= 0.8, same class); ../shared/models/README.md measured 94
of 95 on another clip. The bar is 95 % of the boxes of either runtime.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from detectors.types import Detections
from detectors.yolo import YoloDetector
from tests.conftest import shared_path
from tests.detectors.runtimes import RUNTIMES
from tests.synthetic_detector import fixed_box_settings

pytestmark = pytest.mark.shared

MODEL = "models/yolov8n_640_dynbatch_dequant_fp32.onnx"
VIDEO = "videos/swdee_cars.mp4"
FRAMES = 12
MATCH_IOU = 0.8
MIN_AGREEMENT = 0.95


def read_frames(n: int) -> list[NDArray[np.uint8]]:
    """``n`` frames spread over the clip."""
    capture = cv2.VideoCapture(str(shared_path(VIDEO)))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = []
        for index in np.linspace(0, max(total - 1, 0), n).astype(int):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, frame = capture.read()
            assert ok, f"cannot read frame {index} of {VIDEO}"
            frames.append(np.asarray(frame, np.uint8))
    finally:
        capture.release()
    return frames


def iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    result: NDArray[np.float32] = inter / (area_a[:, None] + area_b[None, :] - inter)
    return result


def matched(a: Detections, b: Detections) -> int:
    """Boxes of ``a`` paired one to one (best overlap first) with a box of ``b`` of the same class at IoU >= 0.8."""
    if len(a) == 0 or len(b) == 0:
        return 0
    overlap = iou(a.boxes, b.boxes)
    overlap[a.class_ids[:, None] != b.class_ids[None, :]] = 0.0
    pairs = 0
    while True:
        i, j = np.unravel_index(int(np.argmax(overlap)), overlap.shape)
        if overlap[i, j] < MATCH_IOU:
            return pairs
        pairs += 1
        overlap[i, :] = 0.0
        overlap[:, j] = 0.0


@pytest.fixture(scope="module")
def frames() -> list[NDArray[np.uint8]]:
    return read_frames(FRAMES)


@pytest.fixture(scope="module")
def reference(frames: list[NDArray[np.uint8]]) -> list[Detections]:
    detector = YoloDetector.from_settings(fixed_box_settings(shared_path(MODEL), runtime="onnxruntime"))
    return detector.detect(frames)


@pytest.mark.parametrize("runtime", RUNTIMES[1:])
@pytest.mark.parametrize(("max_batch", "requests"), [(1, 1), (2, 2)])
def test_openvino_finds_what_onnx_runtime_finds(
    frames: list[NDArray[np.uint8]], reference: list[Detections], runtime: str, max_batch: int, requests: int
) -> None:
    detector = YoloDetector.from_settings(
        fixed_box_settings(shared_path(MODEL), runtime=runtime, max_batch=max_batch, infer_requests=requests)
    )
    assert detector.runtime_name == "openvino"
    found = detector.detect(frames)
    pairs = sum(matched(r, f) for r, f in zip(reference, found, strict=True))
    boxes = (sum(len(r) for r in reference), sum(len(f) for f in found))
    assert min(boxes) > 3 * FRAMES  # a dense clip: the comparison means something
    assert pairs >= MIN_AGREEMENT * max(boxes), f"{pairs} boxes matched of {boxes} ({detector.precision})"
