"""`vehiclewatch detect` and `vehiclewatch classify`: JSON for one image, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from streamer.cli.main import main
from tests.streamer.scene import BGR, BOX, make_scene


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["detect", "no.jpg", "--detector", "d.onnx"], "image not found: no.jpg"),
        (["classify", "no.jpg"], "image not found: no.jpg"),
        (["detect", "car.png"], "no detector: give --detector FILE or --models DIR"),
        (["classify", "car.png"], "no classifier: give --classifier FILE or --models DIR"),
        (["detect", "bad.png", "--detector", "d.onnx"], "cannot decode image: bad.png"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VEHICLEWATCH_MODELS", raising=False)
    cv2.imwrite("car.png", np.full((32, 32, 3), 90, np.uint8))
    Path("bad.png").write_bytes(b"not a png")
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert result.output.count("\n") == 1


def test_detect_and_classify_print_json(runner: CliRunner, tmp_path: Path) -> None:
    scene = make_scene(tmp_path, frames=1)
    image = np.full((64, 64, 3), 90, np.uint8)
    cv2.rectangle(image, BOX[:2], (BOX[2] - 1, BOX[3] - 1), BGR["blue"], thickness=-1)
    path = tmp_path / "car.png"
    cv2.imwrite(str(path), image)

    result = runner.invoke(main, ["detect", str(path), "--detector", str(scene.detector)])
    assert result.exit_code == 0, result.output
    vehicles = json.loads(result.output)["vehicles"]
    assert [v["class"] for v in vehicles] == ["car"]
    assert vehicles[0]["box"] == pytest.approx(list(BOX), abs=1)

    result = runner.invoke(main, ["classify", str(path), "--classifier", str(scene.classifier)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["classification"]["color"][0]["label"] == "blue"

    args = ["classify", str(path), "--classifier", str(scene.classifier), "--detector", str(scene.detector), "--detect"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    (vehicle,) = json.loads(result.output)["vehicles"]
    assert vehicle["classification"]["color"][0]["label"] == "blue"


def test_classify_with_a_colour_recogniser_gives_colour_and_shade(runner: CliRunner, tmp_path: Path) -> None:
    recognizer = tmp_path / "recognizer.yaml"
    recognizer.write_text("version: 1\nmembers: [{name: paint, kind: paint, weight: 1.0}]\n")
    image = np.full((120, 160, 3), 110, np.uint8)
    cv2.rectangle(image, (30, 30), (130, 90), BGR["red"], thickness=-1)
    path = tmp_path / "car.png"
    cv2.imwrite(str(path), image)
    result = runner.invoke(main, ["classify", str(path), "--color-recognizer", str(recognizer)])
    assert result.exit_code == 0, result.output
    heads = json.loads(result.output)["classification"]
    assert heads["color"][0]["label"] == "red"
    assert {label["label"] for label in heads["color_shade"]} == {"dark", "light"}
