"""`vehiclewatch label` on folders of crops with tiny synthetic make and colour classifiers and a SQLite history:
labelling a folder, the interactive prompts (accept, correct, can't tell, undo, skip), listing, undo, export, and
bad input refused with one line, exit 2 and nothing stored."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner, Result

from streamer.cli.main import main
from tests.synthetic_classifier import make_color_classifier, solid_bgr

MAKES = ("Toyota", "Honda", "Ford")  # tied to red, green, blue by the synthetic classifier


@pytest.fixture
def models(tmp_path: Path) -> list[str]:
    color = make_color_classifier(tmp_path / "color.onnx")
    make = make_color_classifier(tmp_path / "make.onnx", task="make", labels=MAKES)
    return ["--classifier", str(color), "--classifier", str(make)]


@pytest.fixture
def database(tmp_path: Path) -> list[str]:
    return ["--database", f"sqlite:///{tmp_path / 'history.sqlite3'}"]


def crops(folder: Path, named: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, color in named.items():
        assert cv2.imwrite(str(folder / name), solid_bgr(color, 64, 80))
    return folder


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["label", *args])


def listed(database: list[str]) -> list[str]:
    result = run("list", "--all", *database)
    assert result.exit_code == 0, result.output
    return [line for line in result.stdout.splitlines() if line.startswith("#")]


def test_a_folder_is_one_vehicle_and_is_exported(tmp_path: Path, models: list[str], database: list[str]) -> None:
    folder = crops(tmp_path / "car7", {"a.png": "red", "b.jpg": "red"})
    result = run("crops", str(folder), "--camera", "yard", "--make", "toyota", "--color", "red", *models, *database)
    assert result.exit_code == 0, result.output
    assert "labelled 2 crop(s) of 1 vehicle(s) on camera yard" in result.output
    assert [line.split("  ")[1:4] for line in listed(database)] == [["yard", "car7", "Toyota / red / —"]] * 2
    result = run("export", str(tmp_path / "out"), "--camera", "yard", *database)
    assert result.exit_code == 0, result.output
    with (tmp_path / "out" / "labels.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["track"], r["make"], r["color"], r["sighting_id"]) for r in rows] == [("car7", "Toyota", "red", "")] * 2
    assert all(cv2.imread(str(tmp_path / "out" / r["path"])) is not None for r in rows)
    named = run("export", str(tmp_path / "colors"), "--named", "color", *database)
    assert (named.exit_code, "2 view(s) of 1 vehicle(s)" in named.output) == (0, True)
    again = run("export", str(tmp_path / "out"), *database)
    assert again.exit_code == 2
    assert "not an empty folder" in again.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--make", "Tesla"], "unknown make 'Tesla'"),
        (["--body-type", "suv"], "no loaded head knows body_type"),
        ([], "nothing to label"),
        (
            ["--make", "Ford", "--track-from-name", r"^(car\d+)_"],
            "--track-from-name '^(car\\d+)_' does not match other.png",
        ),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(
    tmp_path: Path, models: list[str], database: list[str], extra: list[str], message: str
) -> None:
    folder = crops(tmp_path / "crops", {"car1_a.png": "blue", "other.png": "blue"})
    result = run("crops", str(folder), "--camera", "yard", *extra, *models, *database)
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith(f"vehiclewatch: error: {message}")
    assert listed(database) == []


def test_a_corrupt_crop_or_no_models_stores_nothing(tmp_path: Path, models: list[str], database: list[str]) -> None:
    folder = crops(tmp_path / "crops", {"a.png": "blue"})
    (folder / "b.jpg").write_bytes(b"not a jpeg")
    result = run("crops", str(folder), "--camera", "yard", "--make", "Ford", *models, *database)
    assert (result.exit_code, "cannot decode image" in result.output) == (2, True)
    result = run("crops", str(folder), "--camera", "yard", "--make", "Ford", *database)
    assert (result.exit_code, "no classifier to check labels against" in result.output) == (2, True)
    assert listed(database) == []


def test_interactive_accept_correct_cant_tell_undo_skip(tmp_path: Path, database: list[str]) -> None:
    # The service's config: its classifiers (abstention off: the flat synthetic crops would make the make head
    # abstain) and its history.
    config = tmp_path / "config.yaml"
    config.write_text(
        "classifiers:\n  abstain: {enabled: false}\n  models:\n"
        f"    - {{model: {make_color_classifier(tmp_path / 'color.onnx')}}}\n"
        f"    - {{model: {make_color_classifier(tmp_path / 'make.onnx', task='make', labels=MAKES)}}}\n"
        f"history: {{database: 'sqlite:///{tmp_path / 'history.sqlite3'}', labels_dir: kept}}\n"
    )
    folder = crops(tmp_path / "crops", {"car1_a.png": "red", "car1_b.png": "green", "car2_a.png": "blue"})
    answers = [
        "", "", "",  # car1_a: the service's Toyota, red; no body type head
        "ford", "?", "",  # car1_b: make corrected, colour can't tell
        "u",  # car2_a: undo the last label: back to car1_b
        "", "", "",  # car1_b again: the service's Honda, green
        "tesla", "s",  # car2_a: an unknown make is refused (nothing stored), then the crop skipped
    ]  # fmt: skip
    command = ["label", "interactive", str(folder), "--camera", "yard", "--track-from-name", r"^(car\d+)_"]
    result = CliRunner().invoke(
        main,
        [*command, "--by", "ana", "--config", str(config)],
        input="\n".join(answers) + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "service: make Toyota" in result.output
    assert "unknown make 'tesla'" in result.output
    assert "undone label #2" in result.output
    assert len(list((tmp_path / "kept" / "views" / "yard").glob("*.png"))) == 2  # relative to the config's folder
    lines = [line.split("  ") for line in listed(database)]
    assert [(x[0], x[2], x[3]) for x in lines] == [
        ("#3", "car1", "Honda / green / —"),
        ("#2", "car1", "Ford / unknown / —"),
        ("#1", "car1", "Toyota / red / —"),
    ]
    assert "undone by ana" in lines[1][-1]
    result = run("list", *database)
    assert "conflict: yard car1 make: Honda vs Toyota" in result.output  # one vehicle, two makes: flagged
    assert run("undo", "3", *database).exit_code == 0
    again = run("undo", "3", *database)
    assert (again.exit_code, "already undone" in again.output) == (2, True)
