"""The plate reader on rendered plates: it finds and reads them offline with the models inside the rapidocr wheel."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("rapidocr", reason="the plate reader needs the 'plates' extra (pip install -e '.[plates]')")

from classifiers.plates.ocr import PlatesUnavailableError, TextModels, package_models
from classifiers.plates.reader import PlateReader
from classifiers.plates.settings import PlateReaderSettings
from streamer.cli.main import main
from tests.classifiers.plates.synthetic import car_with_plate


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader(PlateReaderSettings(formats={"test": [r"[0-9][A-Z]{2}[0-9]{3}"]}, threads=1))


def test_the_models_come_from_the_wheel() -> None:
    det, rec = package_models()
    assert det.name.endswith("det_small.onnx")
    assert "site-packages" in str(det) or "dist-packages" in str(det) or det.is_file()
    assert rec.is_file()


def test_reads_a_plate_with_character_confidences_and_its_box(reader: PlateReader) -> None:
    image, (x, y, w, h) = car_with_plate("7XK123")
    [reading] = reader.read([image])
    assert reading is not None
    assert reading.text == "7XK123"
    assert reading.format == "test"
    assert len(reading.char_confidences) == 6
    assert min(reading.char_confidences) > 0.5
    cx, cy = (reading.box[0] + reading.box[2]) / 2, (reading.box[1] + reading.box[3]) / 2
    assert x <= cx <= x + w
    assert y <= cy <= y + h


def test_a_batch_of_crops_and_a_crop_without_a_plate(reader: PlateReader) -> None:
    blank = np.full((200, 300, 3), 120, np.uint8)
    image, _ = car_with_plate("4AB567", seed=1)
    readings = reader.read([blank, image])
    assert readings[0] is None
    assert readings[1] is not None
    assert readings[1].text == "4AB567"


def test_nothing_is_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening and running the models makes no network connection (the models are the wheel's own files)."""
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the plate reader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    image, _ = car_with_plate("7XK123", seed=2)
    [reading] = PlateReader(PlateReaderSettings(threads=1)).read([image])
    assert reading is not None


def test_without_the_extra_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "rapidocr" or n.startswith("rapidocr.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    with pytest.raises(PlatesUnavailableError, match=r"pip install 'vehiclewatch\[plates\]'"):
        TextModels()


def test_the_eval_command_reports_per_region(tmp_path: Path) -> None:
    data = tmp_path / "plates"
    (data / "images").mkdir(parents=True)
    rows = []
    for i, (text, region) in enumerate([("7XK123", "us"), ("ABC1234", "br")]):
        image, (x, y, w, h) = car_with_plate(text, seed=i, plate_width=170)
        cv2.imwrite(str(data / "images" / f"{i}.png"), image)
        rows.append({"path": f"images/{i}.png", "plate": text, "x": x, "y": y, "w": w, "h": h, "region": region})
    with (data / "labels.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["plates", "eval", str(data), "-o", str(out), "--quiet", "--threads", "1", "--track-views", "2"]
    )
    assert result.exit_code == 0, result.output
    assert '"br"' in result.output
    assert '"track_experiment"' in result.output
    assert (out / "plates.png").stat().st_size > 1000
    report = (out / "report.json").read_text()
    assert '"exact": 1.0' in report
    reads = list(csv.DictReader((out / "reads.csv").open()))
    assert [r["read"] for r in reads] == ["7XK123", "ABC1234"]


def test_the_eval_command_refuses_a_folder_without_labels(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plates", "eval", str(tmp_path)])
    assert result.exit_code == 2
    assert "vehiclewatch: error:" in result.output
    assert "labels.csv" in result.output
