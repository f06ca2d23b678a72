"""ColorRecognizer from a recogniser file: synthetic ONNX members (built with onnx.helper), the paint statistic,
the pool, the shade, file errors, and the recogniser as the ``color`` head of a ClassifierBank."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from numpy.typing import NDArray

from classifiers.bank import ClassifierBank
from classifiers.color.labels import COLOR_LABELS, INDEX
from classifiers.color.recognizer import (
    COLOR_HEAD,
    SHADE_HEAD,
    ColorRecognizer,
    MemberConfig,
    RecognizerConfig,
    RecognizerFileError,
    load_recognizer_config,
    save_recognizer_config,
)
from classifiers.color.settings import ColorRecognizerSettings
from classifiers.settings import ClassifierModelSettings, ClassifierSettings
from detectors.runtime import ModelLoadError
from detectors.types import Detections
from tests.classifiers.test_color_paint import vehicle
from tests.synthetic_classifier import make_color_classifier

MARGIN = 0.1
CPU = ("cpu",)


def recognizer_file(tmp_path: Path, **overrides: Any) -> Path:
    """Two synthetic classifiers (one with colour + type outputs, like omz) and the paint statistic."""
    make_color_classifier(tmp_path / "attrs.onnx", multi_output=True, color_order="BGR")
    make_color_classifier(tmp_path / "plain.onnx", labels=("red", "green", "blue"))
    data: dict[str, Any] = {
        "version": 1,
        "members": [
            {"name": "attrs", "kind": "classifier", "model": "attrs.onnx", "weight": 0.5},
            {"name": "plain", "kind": "classifier", "model": "plain.onnx", "output": "probs", "weight": 0.5},
            {"name": "paint", "kind": "paint", "weight": 0.5},
        ],
        "biases": {"red": 0.1},
    }
    data.update(overrides)
    path = tmp_path / "recognizer.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def recognizer(tmp_path: Path) -> ColorRecognizer:
    return ColorRecognizer.from_file(recognizer_file(tmp_path), crop_margin=MARGIN, providers=CPU)


@pytest.mark.parametrize(
    ("body", "expected"), [((30, 30, 200), "red"), ((170, 60, 20), "blue"), ((40, 160, 40), "green")]
)
def test_recognises_the_vehicle_colour(recognizer: ColorRecognizer, body: tuple[int, int, int], expected: str) -> None:
    result = recognizer.recognize([vehicle(body)])[0]
    assert result.color == expected
    assert result.probs.shape == (len(COLOR_LABELS),)
    assert float(result.probs.sum()) == pytest.approx(1.0, abs=1e-5)
    assert result.paint is not None
    assert result.labels == COLOR_LABELS


def test_members_in_pool_order(recognizer: ColorRecognizer) -> None:
    outputs = recognizer.member_outputs([vehicle((30, 30, 200)), vehicle((170, 60, 20))])
    assert recognizer.member_names == ("attrs", "plain", "paint")
    assert [m.shape for m in outputs.log_probs] == [(2, len(COLOR_LABELS))] * 3
    # Alone, each classifier is sure of red for the red car.
    for alone in outputs.alone[:2]:
        assert COLOR_LABELS[int(np.argmax(alone[0]))] == "red"
    assert recognizer.member_missing(0) == recognizer.member_missing(1)
    assert "black" in recognizer.member_missing(0)
    assert recognizer.member_missing(2) == ()


@pytest.mark.parametrize(
    ("body", "shade"),
    [
        ((20, 20, 110), "dark"),
        ((150, 150, 255), "light"),
        ((20, 20, 20), "dark"),
        ((245, 245, 245), "light"),
        ((150, 30, 20), "dark"),  # navy
        ((100, 100, 100), None),  # grey: its shade is not judged
    ],
)
def test_shade_where_clear(tmp_path: Path, body: tuple[int, int, int], shade: str | None) -> None:
    # The paint statistic alone (the synthetic classifiers only know saturated red, green and blue).
    path = save_recognizer_config(
        RecognizerConfig(members=(MemberConfig(name="paint", kind="paint", weight=1.0),)), tmp_path / "r.yaml"
    )
    result = ColorRecognizer.from_file(path, crop_margin=MARGIN).recognize([vehicle(body)])[0]
    assert result.shade == shade
    assert (result.dark_probability is None) == (result.color == "grey")


def test_classify_gives_color_and_shade_heads(recognizer: ColorRecognizer) -> None:
    heads = recognizer.classify([vehicle((30, 30, 200))])[0]
    assert set(heads) == {COLOR_HEAD, SHADE_HEAD}
    assert heads[COLOR_HEAD].top(1)[0].label == "red"
    assert heads[SHADE_HEAD].labels == ("dark", "light")
    assert float(heads[SHADE_HEAD].probs.sum()) == pytest.approx(1.0)
    assert recognizer.heads == {COLOR_HEAD: COLOR_LABELS, SHADE_HEAD: ("dark", "light")}


def test_empty_and_bad_crops(recognizer: ColorRecognizer) -> None:
    assert recognizer.recognize([]) == []
    with pytest.raises(ValueError, match="crop 0"):
        recognizer.recognize([np.zeros((8, 8), np.uint8)])


def test_biases_shift_the_answer(tmp_path: Path) -> None:
    neutral = ColorRecognizer.from_file(recognizer_file(tmp_path), crop_margin=MARGIN, providers=CPU)
    biased = ColorRecognizer.from_file(
        recognizer_file(tmp_path, biases={"blue": 8.0}), crop_margin=MARGIN, providers=CPU
    )
    crop = [vehicle((30, 30, 200))]
    assert neutral.recognize(crop)[0].color == "red"
    assert biased.recognize(crop)[0].color == "blue"


def test_config_roundtrip(tmp_path: Path) -> None:
    config = RecognizerConfig(
        members=(MemberConfig(name="paint", kind="paint", weight=1.0),), biases={"grey": 0.5}, provenance={"a": "b"}
    )
    path = save_recognizer_config(config, tmp_path / "sub" / "r.yaml")
    assert load_recognizer_config(path) == config
    assert config.pool_params().biases[INDEX["grey"]] == 0.5


def test_paint_only_recogniser_needs_no_models(tmp_path: Path) -> None:
    path = save_recognizer_config(
        RecognizerConfig(members=(MemberConfig(name="paint", kind="paint", weight=1.0),)), tmp_path / "r.yaml"
    )
    rec = ColorRecognizer.from_file(path, crop_margin=MARGIN)
    assert rec.recognize([vehicle((30, 30, 200))])[0].color == "red"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "cannot read"),
        ("members: [", "not valid YAML"),
        ("members: []", "members"),
        ("members: [{name: p, kind: paint, weight: 1}]\nbiases: {teal: 1}", "teal"),
        ("members: [{name: c, kind: classifier, weight: 1}]", "needs 'model'"),
        ("members: [{name: p, kind: paint, weight: 1}, {name: p, kind: paint, weight: 1}]", "distinct"),
        ("members: [{name: p, kind: paint, weight: 1, model: x.onnx}]", "no 'model'"),
        ("members: [{name: p, kind: paint, weight: 1}]\nextra: 1", "extra"),
    ],
)
def test_file_errors(tmp_path: Path, content: str | None, error: str) -> None:
    path = tmp_path / "r.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RecognizerFileError, match=error) as info:
        load_recognizer_config(path)
    assert "\n" not in str(info.value)


def test_missing_member_model(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("members: [{name: c, kind: classifier, model: nowhere.onnx, weight: 1}]")
    with pytest.raises(ModelLoadError, match=r"nowhere\.onnx"):
        ColorRecognizer.from_file(path, crop_margin=MARGIN, providers=CPU)


def test_member_without_colour_labels(tmp_path: Path) -> None:
    make_color_classifier(tmp_path / "types.onnx", labels=("car", "bus", "truck"), task="type")
    path = tmp_path / "r.yaml"
    path.write_text("members: [{name: t, kind: classifier, model: types.onnx, weight: 1}]")
    with pytest.raises(ModelLoadError, match="no colour labels"):
        ColorRecognizer.from_file(path, crop_margin=MARGIN, providers=CPU)


def frame_with(body: tuple[int, int, int]) -> tuple[NDArray[np.uint8], Detections]:
    """A road frame with one vehicle; the box is where ``vehicle`` puts the body when cut with MARGIN."""
    frame = np.full((240, 320, 3), 115, np.uint8)
    crop = vehicle(body)
    frame[60 : 60 + crop.shape[0], 80 : 80 + crop.shape[1]] = crop
    inner = 1 / (1 + 2 * MARGIN)
    x1, y1 = 80 + crop.shape[1] * MARGIN * inner, 60 + crop.shape[0] * MARGIN * inner
    x2, y2 = 80 + crop.shape[1] - crop.shape[1] * MARGIN * inner, 60 + crop.shape[0] - crop.shape[0] * MARGIN * inner
    boxes = np.array([[x1, y1, x2, y2]], np.float32)
    detections = Detections(
        boxes=boxes, scores=np.full(1, 0.9, np.float32), class_ids=np.full(1, 2, np.int32), class_names=("car",)
    )
    return frame, detections


def test_bank_uses_the_recogniser_as_its_colour_head(tmp_path: Path) -> None:
    file = recognizer_file(tmp_path)
    make_color_classifier(tmp_path / "type.onnx", labels=("car", "bus", "truck"), task="type")
    settings = ClassifierSettings(
        models=(ClassifierModelSettings(model=tmp_path / "type.onnx", providers=CPU),),
        color_recognizer=ColorRecognizerSettings(file=file, providers=CPU),
        crop_margin=MARGIN,
        min_crop_size=16,
    )
    bank = ClassifierBank.from_settings(settings)
    assert set(bank.heads) == {"type", COLOR_HEAD, SHADE_HEAD}
    assert len(bank) == 2
    results = bank.classify_boxes([frame_with((170, 60, 20))])
    classification = results.frames[0][0]
    assert classification is not None
    assert classification.top(1)[COLOR_HEAD][0].label == "blue"
    assert results.classified == 1


def test_bank_refuses_two_colour_heads(tmp_path: Path) -> None:
    settings = ClassifierSettings(
        models=(ClassifierModelSettings(model=make_color_classifier(tmp_path / "color.onnx"), providers=CPU),),
        color_recognizer=ColorRecognizerSettings(file=recognizer_file(tmp_path), providers=CPU),
    )
    with pytest.raises(ModelLoadError, match="comes from both"):
        ClassifierBank.from_settings(settings)


def test_bank_reports_a_bad_recogniser_file_in_one_line(tmp_path: Path) -> None:
    settings = ClassifierSettings(color_recognizer=ColorRecognizerSettings(file=tmp_path / "none.yaml"))
    with pytest.raises(ModelLoadError, match=r"none\.yaml") as info:
        ClassifierBank.from_settings(settings)
    assert "\n" not in str(info.value)
