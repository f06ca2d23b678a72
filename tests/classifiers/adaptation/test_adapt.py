"""``adapt_camera`` end to end on a tiny synthetic classifier: deploys what helps, refuses what does not."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from classifiers.adaptation.adapt import adapt_camera
from classifiers.adaptation.dataset import read_views
from classifiers.adaptation.errors import AdaptationError, NotEnoughLabelsError
from classifiers.adaptation.file import load_adaptation
from classifiers.adaptation.report import write_report
from classifiers.adaptation.store import AdaptationStore
from classifiers.bank import ClassifierBank
from tests.classifiers.adaptation.synthetic_labels import GATE, YARD, labelled_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return labelled_dataset(tmp_path_factory.mktemp("labels"))


def _colour(bank: ClassifierBank, bgr: tuple[int, int, int], store: AdaptationStore, camera: str) -> str:
    """What the camera's current adaptation makes of a fresh crop of ``bgr``."""
    image = np.full((40, 40, 3), bgr, np.uint8)
    scores = bank.raw_scores([image])[0]["color"]
    path = store.current(camera)
    probs = scores.probs[None, :]
    if path is not None:
        probs, _ = load_adaptation(path).apply("color", scores.labels, probs)
    return scores.labels[int(probs[0].argmax())]


def test_deploys_a_fix_for_the_cast_camera_and_then_refuses_to_redeploy(
    dataset: Path, color_bank: ClassifierBank, tmp_path: Path
) -> None:
    views = read_views(dataset)
    store = AdaptationStore(tmp_path / "adapted")
    assert _colour(color_bank, GATE["green"], store, "gate") == "blue"  # the cast fools the base head

    report = adapt_camera(views, color_bank.raw_scores, "gate", store, created_by="test", base_models={"m": "x"})
    assert report.deployed
    assert report.version == "v0001"
    assert store.current_version("gate") == "v0001"
    color = report.fields["color"]
    assert color.deployed
    assert color.method in ("memory", "head", "prior")
    assert color.before is not None
    assert color.after is not None
    assert color.before.correct == 8
    assert color.before.vehicles == 12
    assert color.after.correct > color.before.correct
    assert report.fields["make"].head is None  # no make head: left alone, said so
    # The camera now reads its green vehicles right, and its blue ones still blue; the other camera is untouched.
    assert _colour(color_bank, GATE["green"], store, "gate") == "green"
    assert _colour(color_bank, GATE["blue"], store, "gate") == "blue"
    assert store.current("yard") is None
    assert report.other_cameras["yard"]["color"].correct == 12
    provenance = load_adaptation(tmp_path / "adapted" / "gate" / "v0001.npz").provenance
    assert provenance["created_by"] == "test"
    assert provenance["methods"] == {"color": color.method}
    assert provenance["base_models"] == {"m": "x"}
    assert provenance["vehicles"] == 12

    json_path, png_path = write_report(report, tmp_path / "report")
    assert json.loads(json_path.read_text())["fields"]["color"]["after"]["accuracy"] > 0.9
    assert cv2.imread(str(png_path)) is not None

    again = adapt_camera(views, color_bank.raw_scores, "gate", store)
    assert not again.deployed
    assert again.version is None
    assert "does not beat" in again.fields["color"].reason
    assert "v0001" in again.reason
    assert store.versions("gate") == ["v0001"]


def test_a_camera_the_head_already_reads_right_is_not_changed(
    dataset: Path, color_bank: ClassifierBank, tmp_path: Path
) -> None:
    store = AdaptationStore(tmp_path)
    report = adapt_camera(read_views(dataset), color_bank.raw_scores, "yard", store)
    assert not report.deployed
    assert store.versions("yard") == []
    assert "base model" in report.reason
    assert report.fields["color"].before is not None
    assert report.fields["color"].before.correct == 12


def test_too_few_labels_says_how_many_more(dataset: Path, color_bank: ClassifierBank, tmp_path: Path) -> None:
    views = [v for v in read_views(dataset) if v.camera_id == "gate" and v.track in ("red0", "blue0", "green0")]
    with pytest.raises(NotEnoughLabelsError, match=r"has 3 labelled vehicle.*at least 5: label 2 more"):
        adapt_camera(views, color_bank.raw_scores, "gate", AdaptationStore(tmp_path))
    assert not (tmp_path / "gate").exists()


def test_a_label_the_head_does_not_know_is_named(color_bank: ClassifierBank, tmp_path: Path) -> None:
    folder = labelled_dataset(tmp_path / "set", per_color=2, cameras={"gate": YARD}, label={"green": "teal"})
    with pytest.raises(AdaptationError, match=r"color 'teal' is not a label of the 'color' head"):
        adapt_camera(read_views(folder), color_bank.raw_scores, "gate", AdaptationStore(tmp_path / "a"))
    assert not (tmp_path / "a").exists()


def test_labels_are_matched_ignoring_case(color_bank: ClassifierBank, tmp_path: Path) -> None:
    folder = labelled_dataset(tmp_path / "set", per_color=2, cameras={"gate": GATE}, label={"green": "Green"})
    report = adapt_camera(read_views(folder), color_bank.raw_scores, "gate", AdaptationStore(tmp_path / "a"))
    assert report.fields["color"].vehicles == 6


def test_views_with_a_box_are_scored_on_each_members_cut(color_bank: ClassifierBank, tmp_path: Path) -> None:
    """A red vehicle in a blue crop: scored on its box (margin 0 here) it is red, as the service would see it."""
    from classifiers.adaptation.dataset import LabelledView, write_views

    rows, images = [], []
    for k in range(5):
        image = np.full((60, 60, 3), (255, 0, 0), np.uint8)
        image[20:40, 20:40] = (0, 0, 255)
        ok, png = cv2.imencode(".png", image)
        assert ok
        rows.append(LabelledView(Path(f"c{k}.png"), "gate", f"t{k}", float(k), {"color": "red"}, box=(20, 20, 40, 40)))
        images.append(png.tobytes())
    write_views(tmp_path / "set", rows, images)
    calls: list[int] = []

    def boxed(crops: object, boxes: object) -> list[dict[str, object]]:
        calls.append(1)
        return color_bank.raw_scores(crops, boxes)  # type: ignore[arg-type, return-value]

    report = adapt_camera(
        read_views(tmp_path / "set"), color_bank.raw_scores, "gate", AdaptationStore(tmp_path / "a"),
        classify_boxes=boxed,  # type: ignore[arg-type]
    )  # fmt: skip
    assert calls
    before = report.fields["color"].before
    assert before is not None
    assert before.correct == 5


def test_a_corrupt_current_version_is_compared_as_the_base_model(
    dataset: Path, color_bank: ClassifierBank, tmp_path: Path
) -> None:
    views = read_views(dataset)
    store = AdaptationStore(tmp_path)
    assert adapt_camera(views, color_bank.raw_scores, "gate", store).version == "v0001"
    (tmp_path / "gate" / "v0001.npz").write_bytes(b"damaged")
    report = adapt_camera(views, color_bank.raw_scores, "gate", store)
    assert report.version == "v0002"
    assert "cannot be used" in report.reason
