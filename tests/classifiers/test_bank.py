"""The classifier bank: one batched call per model over a whole detector batch, results mapped back per box."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank, CropResults
from classifiers.onnx_classifier import OnnxClassifier
from classifiers.settings import ClassifierModelSettings, ClassifierSettings
from classifiers.types import Classification
from detectors.runtime import ModelLoadError
from detectors.types import Detections
from tests.conftest import shared_path
from tests.synthetic_classifier import COLORS_BGR, RunCounter, make_color_classifier, solid_bgr
from tests.synthetic_detector import detections_of

CPU = ("cpu",)


def model(path: Path, **fields: Any) -> ClassifierModelSettings:
    return ClassifierModelSettings(model=path, providers=CPU, **fields)


def painted(h: int, w: int, patches: list[tuple[str, tuple[int, int, int, int]]]) -> NDArray[np.uint8]:
    """A grey frame with coloured rectangles ``(colour, (x1, y1, x2, y2))``."""
    image = np.full((h, w, 3), 90, np.uint8)
    for colour, (x1, y1, x2, y2) in patches:
        image[y1:y2, x1:x2] = COLORS_BGR[colour]
    return image


@pytest.fixture
def synthetic_bank(tmp_path: Path) -> ClassifierBank:
    """A colour model (head ``color``) and an attributes model used for its ``type`` output only."""
    settings = ClassifierSettings(
        models=(
            model(make_color_classifier(tmp_path / "color.onnx", embedding=True), max_batch=64),
            model(
                make_color_classifier(tmp_path / "attrs.onnx", multi_output=True, color_order="BGR"), heads=("type",)
            ),
        ),
        crop_margin=0.0,
        min_crop_size=16,
    )
    return ClassifierBank.from_settings(settings)


def onnx_classifiers(bank: ClassifierBank) -> list[OnnxClassifier]:
    """The bank's classifiers, each checked to be an ONNX one (their sessions are what the tests count)."""
    assert all(isinstance(clf, OnnxClassifier) for clf in bank.classifiers)
    return [clf for clf in bank.classifiers if isinstance(clf, OnnxClassifier)]


def read_bgr(path: Path) -> NDArray[np.uint8]:
    image = cv2.imread(str(path))
    assert image is not None, f"cannot read {path}"
    return np.asarray(image, np.uint8)


def top1(classification: Classification | None, head: str) -> str | None:
    return None if classification is None else classification.heads[head].top(1)[0].label


def test_one_call_per_model_and_mapping_back(synthetic_bank: ClassifierBank, monkeypatch: pytest.MonkeyPatch) -> None:
    counters = [RunCounter.install(clf.session, monkeypatch) for clf in onnx_classifiers(synthetic_bank)]
    colours = list(COLORS_BGR)
    items = []
    expected: list[list[str | None]] = []
    for f in range(4):
        # Frame f holds 3 + f patches at known places, colours shifted per frame, plus one box too small.
        patches = [(colours[(f + b) % 3], (10 + 60 * b, 10, 60 + 60 * b, 70)) for b in range(3 + f)]
        image = painted(120, 60 * len(patches) + 40, patches)
        boxes = [rect for _, rect in patches] + [(5, 80, 15, 115)]
        items.append((image, detections_of(*boxes)))
        expected.append([colour for colour, _ in patches] + [None])
    items.insert(2, (painted(50, 50, []), Detections.empty()))
    expected.insert(2, [])

    results = synthetic_bank.classify_boxes(items)

    assert isinstance(results, CropResults)
    assert [c.batches for c in counters] == [[18], [18]]  # 3+4+5+6 crops, one session.run per model
    assert results.classified == 18
    assert results.skipped_small == 4
    assert len(results) == 5
    assert [[top1(c, "color") for c in frame] for frame in results.frames] == expected
    type_of = {"red": "car", "green": "bus", "blue": "truck", None: None}
    assert [[top1(c, "type") for c in frame] for frame in results.frames] == [
        [type_of[colour] for colour in frame] for frame in expected
    ]
    first = results.frames[0][0]
    assert first is not None
    assert list(first.heads) == ["color", "type"]


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([], id="no-frames"),
        pytest.param([(painted(64, 64, []), Detections.empty())] * 3, id="no-boxes"),
        pytest.param([(painted(64, 64, []), detections_of((0, 0, 10, 60), (0, 0, 60, 5)))], id="all-too-small"),
    ],
)
def test_nothing_to_classify_runs_no_model(
    synthetic_bank: ClassifierBank, monkeypatch: pytest.MonkeyPatch, items: list[tuple[Any, Detections]]
) -> None:
    counters = [RunCounter.install(clf.session, monkeypatch) for clf in onnx_classifiers(synthetic_bank)]
    results = synthetic_bank.classify_boxes(items)
    assert [c.calls for c in counters] == [0, 0]
    assert results.frames == tuple((None,) * len(d) for _, d in items)
    assert results.classified == 0
    assert results.skipped_small == sum(len(d) for _, d in items)
    assert synthetic_bank.classify_images([]) == []
    assert [c.calls for c in counters] == [0, 0]


def test_margin_brings_context(tmp_path: Path) -> None:
    """With a margin, the crop includes what surrounds the box (here: enough blue to win)."""
    path = make_color_classifier(tmp_path / "c.onnx")
    image = painted(200, 200, [("blue", (0, 0, 200, 200)), ("red", (90, 90, 110, 110))])
    box = detections_of((90, 90, 110, 110))
    for margin, expected in [(0.0, "red"), (1.0, "blue")]:
        bank = ClassifierBank.from_settings(
            ClassifierSettings(models=(model(path),), crop_margin=margin, min_crop_size=8)
        )
        assert top1(bank.classify_boxes([(image, box)]).frames[0][0], "color") == expected


def test_classify_images_whole_image(synthetic_bank: ClassifierBank) -> None:
    results = synthetic_bank.classify_images([solid_bgr("blue", 300, 500), solid_bgr("red", 8, 8)])
    assert [top1(c, "color") for c in results] == ["blue", "red"]
    assert [top1(c, "type") for c in results] == ["truck", "car"]
    with pytest.raises(ValueError, match="image 0 must be a non-empty BGR"):
        synthetic_bank.classify_images([np.zeros((4, 4), np.uint8)])


@pytest.mark.parametrize(
    ("specs", "error"),
    [
        pytest.param([("a", {}, {}), ("b", {}, {})], "head 'color' comes from both a.onnx and b.onnx", id="same-task"),
        pytest.param([("a", {}, {}), ("b", {}, {"name": "paint"})], None, id="renamed"),
        pytest.param(
            [("a", {}, {}), ("b", {"multi_output": True}, {})], "head 'color' comes from both", id="output-vs-task"
        ),
        pytest.param([("a", {}, {}), ("b", {"multi_output": True}, {"heads": ("type",)})], None, id="picked-type"),
        pytest.param([("a", {"task": "type"}, {}), ("b", {"multi_output": True}, {})], "head 'type'", id="type-clash"),
        pytest.param([("a", {}, {}), ("a", {}, {})], "both a.onnx and a.onnx", id="same-file-twice"),
    ],
)
def test_head_name_collisions(
    tmp_path: Path, specs: list[tuple[str, dict[str, Any], dict[str, Any]]], error: str | None
) -> None:
    models = tuple(
        model(make_color_classifier(tmp_path / f"{name}.onnx", **opts), **fields) for name, opts, fields in specs
    )
    settings = ClassifierSettings(models=models)
    if error:
        with pytest.raises(ModelLoadError, match=error):
            ClassifierBank.from_settings(settings)
    else:
        bank = ClassifierBank.from_settings(settings)
        assert len(bank.heads) == sum(len(c.heads) for c in bank.classifiers)


def test_bank_without_models() -> None:
    bank = ClassifierBank.from_settings(ClassifierSettings())
    assert len(bank) == 0
    assert bank.heads == {}
    image = painted(64, 64, [])
    results = bank.classify_boxes([(image, detections_of((0, 0, 60, 60), (0, 0, 5, 5)))])
    assert results == CropResults(frames=((None, None),), classified=0, skipped_small=0)


def test_settings_reach_the_bank(tmp_path: Path) -> None:
    settings = ClassifierSettings(
        models=[{"model": make_color_classifier(tmp_path / "c.onnx"), "providers": ["cpu"]}],
        top_k=5,
        crop_margin=0.2,
        min_crop_size=48,
    )
    bank = ClassifierBank.from_settings(settings)
    assert (bank.top_k, bank.crop_margin, bank.min_crop_size) == (5, 0.2, 48)
    assert bank.heads == {"color": ("red", "green", "blue")}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"max_batch": 0}, "max_batch", id="max-batch-zero"),
        pytest.param({"heads": ()}, "heads", id="no-heads"),
        pytest.param({"heads": ("a", "a")}, "lists an output twice", id="duplicate-heads"),
        pytest.param({"providers": ("gpu",)}, "unknown provider 'gpu'", id="unknown-provider"),
        pytest.param({"providers": ("CUDAExecutionProvider", "cpu")}, None, id="full-provider-name"),
        pytest.param({"name": ""}, "name", id="empty-name"),
        pytest.param({"batch": 8}, "Extra inputs are not permitted", id="extra-key"),
    ],
)
def test_model_settings_validation(fields: dict[str, Any], error: str | None) -> None:
    if error:
        with pytest.raises(ValueError, match=error):
            ClassifierModelSettings(model=Path("m.onnx"), **fields)
    else:
        ClassifierModelSettings(model=Path("m.onnx"), **fields)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"crop_margin": -0.1}, "crop_margin", id="negative-margin"),
        pytest.param({"min_crop_size": 0}, "min_crop_size", id="min-size-zero"),
        pytest.param({"top_k": 0}, "top_k", id="top-k-zero"),
        pytest.param({"model": "x.onnx"}, "Extra inputs", id="extra-key"),
    ],
)
def test_settings_validation(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ClassifierSettings(**fields)


def test_settings_are_frozen() -> None:
    settings = ClassifierSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.top_k = 5  # type: ignore[misc]


# --- real models (../shared) ---


@pytest.mark.shared
def test_real_bank_make_colour_type() -> None:
    """The three real models together; the OMZ model gives only ``type`` since spectrico already gives ``color``."""
    bank = ClassifierBank.from_settings(
        ClassifierSettings(
            models=(
                model(shared_path("models/spectrico_make_mobilenetv3_224.onnx")),
                model(shared_path("models/spectrico_color_mobilenetv3_224.onnx")),
                model(shared_path("models/omz_vehicle_attributes_0039_72.onnx"), heads=("type",)),
            ),
            # The photos are already tight crops and touch each other in the test frames: no margin.
            crop_margin=0.0,
        )
    )
    assert list(bank.heads) == ["make", "color", "type"]
    root = shared_path("datasets/vehicle_colors_dev")
    with (root / "labels.csv").open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["color"] in ("red", "white")]
    rows = [r for r in rows if r["color"] == "red"][:2] + [r for r in rows if r["color"] == "white"][:2]
    photos = [read_bgr(root / row["path"]) for row in rows]
    # Two photos side by side in one frame, two in another; boxes are the photos' areas.
    items = []
    for a, b in [(photos[0], photos[2]), (photos[1], photos[3])]:
        h = max(a.shape[0], b.shape[0])
        image = np.zeros((h, a.shape[1] + b.shape[1], 3), np.uint8)
        image[: a.shape[0], : a.shape[1]] = a
        image[: b.shape[0], a.shape[1] :] = b
        boxes = ((0, 0, a.shape[1], a.shape[0]), (a.shape[1], 0, a.shape[1] + b.shape[1], b.shape[0]))
        items.append((image, detections_of(*boxes)))
    results = bank.classify_boxes(items)
    assert results.classified == 4
    assert [[top1(c, "color") for c in frame] for frame in results.frames] == [["red", "white"], ["red", "white"]]
    for frame in results.frames:
        for c in frame:
            assert c is not None
            assert len(c.top(bank.top_k)["make"]) == 3
            assert c.heads["type"].labels == ("car", "bus", "truck", "van")


def test_raw_scores_skip_calibration_and_cut_each_members_margin(tmp_path: Path) -> None:
    """raw_scores: the crop as given, or the box cut with each member's own margin; never calibrated."""
    from classifiers.calibration.file import Calibration, HeadCalibration

    path = make_color_classifier(tmp_path / "c.onnx")
    image = painted(200, 200, [("blue", (0, 0, 200, 200)), ("red", (90, 90, 110, 110))])
    tight = ClassifierBank.from_settings(
        ClassifierSettings(models=(model(path, crop_margin=0.0),), crop_margin=1.0, min_crop_size=8)
    )
    whole = tight.raw_scores([image])[0]["color"]
    boxed = tight.raw_scores([image], [np.array([90, 90, 110, 110], np.float32)])[0]["color"]
    assert whole.top(1)[0].label == "blue"  # the whole image as given
    assert boxed.top(1)[0].label == "red"  # the member's own margin (0) around the box
    hot = ClassifierBank(
        tight.classifiers, calibration=Calibration({"color": HeadCalibration(method="temperature", temperature=5.0)})
    )
    np.testing.assert_allclose(hot.raw_scores([image])[0]["color"].probs, whole.probs)
    with pytest.raises(ValueError, match="one box per crop"):
        tight.raw_scores([image], [])
