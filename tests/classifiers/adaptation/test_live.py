"""The service's live adapted heads: each camera runs the version its CURRENT pointer names, picked up within
``reload_s``; a file that cannot be loaded keeps the previous version (said once, counted); withdrawing the pointer
goes back to the base models; only that camera changes. The bank applies a camera's version to that camera's crops
only, its abstention drops the head, and ``decided_by`` names the version."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.adaptation.live import BASE_VERSION, LiveAdaptations
from classifiers.bank import ClassifierBank
from classifiers.registry import open_classifier
from classifiers.settings import AbstentionSettings, ClassifierModelSettings
from tests.synthetic_classifier import make_color_classifier, solid_bgr
from tests.synthetic_detector import detections_of


@dataclass(frozen=True)
class Swap:
    """A fake adapted head: on ``head`` it moves all probability to ``to`` (or abstains everywhere)."""

    camera_id: str
    version: str
    to: str = "blue"
    abstain: bool = False
    head: str = "color"
    fitted_labels: tuple[str, ...] | None = None

    @property
    def heads(self) -> frozenset[str]:
        return frozenset({self.head})

    def apply(
        self, head: str, labels: tuple[str, ...], probs: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        if self.fitted_labels is not None and labels != self.fitted_labels:
            raise ValueError("fitted on other labels")
        out = np.zeros_like(probs)
        out[:, labels.index(self.to)] = 1.0
        return out, np.full(len(probs), self.abstain)


@dataclass
class Files:
    """A fake loader over ``<root>/<camera>/<name>``: the file's text is ``to``, or 'corrupt'."""

    root: Path
    loads: list[str] = field(default_factory=list)

    def write(self, camera: str, name: str, to: str) -> None:
        folder = self.root / camera
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(to)

    def point(self, camera: str, name: str) -> None:
        (self.root / camera / "CURRENT").write_text(name + "\n")

    def __call__(self, path: Path) -> Swap:
        self.loads.append(path.name)
        text = path.read_text()
        if text == "corrupt":
            raise ValueError(f"{path.name}: not a valid adaptation file (bad checksum)")
        return Swap(camera_id=path.parent.name, version=path.stem, to=text)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path / "adapted")


def live(files: Files, clock: Clock, errors: list[str] | None = None) -> LiveAdaptations:
    return LiveAdaptations(
        files.root, files, reload_s=2.0, clock=clock, on_error=None if errors is None else errors.append
    )


def test_a_new_version_is_picked_up_within_reload_s_and_a_corrupt_one_keeps_the_previous(
    files: Files, caplog: pytest.LogCaptureFixture
) -> None:
    clock, errors = Clock(), list[str]()
    adaptations = live(files, clock, errors)
    assert adaptations.for_camera("gate") is None  # no pointer: the base models
    files.write("gate", "v0001.npz", "blue")
    files.point("gate", "v0001.npz")
    clock.now = 1.0
    assert adaptations.for_camera("gate") is None  # not looked at again before reload_s
    clock.now = 2.5
    found = adaptations.for_camera("gate")
    assert found is not None
    assert found.version == "v0001"
    assert adaptations.decided_by("gate", ["color", "make"]) == {"color": "gate/v0001", "make": BASE_VERSION}

    files.write("gate", "v0002.npz", "corrupt")
    files.point("gate", "v0002.npz")
    clock.now = 5.0
    with caplog.at_level(logging.ERROR):
        found = adaptations.for_camera("gate")
    assert found is not None
    assert found.version == "v0001"
    assert errors == ["gate"]
    assert "keeping v0001" in caplog.text
    assert "bad checksum" in caplog.text
    state = adaptations.states()[0]
    assert (state.version, state.pointer) == ("v0001", "v0002.npz")
    assert state.error is not None
    clock.now = 8.0
    adaptations.for_camera("gate")
    assert errors == ["gate"]
    assert files.loads.count("v0002.npz") == 1

    (files.root / "gate" / "CURRENT").unlink()  # rolled back to the base models
    clock.now = 11.0
    assert adaptations.for_camera("gate") is None
    assert adaptations.decided_by("gate", ["color"]) == {"color": BASE_VERSION}


def test_a_pointer_outside_the_cameras_folder_or_to_another_camera_is_refused(files: Files) -> None:
    clock, errors = Clock(), list[str]()
    adaptations = live(files, clock, errors)
    files.write("yard", "v0001.npz", "blue")
    files.write("gate", "x", "blue")
    files.point("gate", "../yard/v0001.npz")
    assert adaptations.for_camera("gate") is None
    assert errors == ["gate"]
    assert "not a version file of this camera" in (adaptations.states()[0].error or "")


def test_an_adaptation_that_no_longer_fits_the_model_falls_back_to_the_base_head(files: Files) -> None:
    clock, errors = Clock(), list[str]()
    adaptations = LiveAdaptations(files.root, lambda p: Swap("gate", "v0003", fitted_labels=("a", "b")), clock=clock)
    files.write("gate", "v0003.npz", "blue")
    files.point("gate", "v0003.npz")
    adaptations.on_error = errors.append
    probs = np.full((2, 3), 1 / 3, np.float32)
    assert adaptations.apply("gate", "color", ("red", "green", "blue"), probs) is None
    assert errors == ["gate"]
    assert adaptations.decided_by("gate", ["color"]) == {"color": BASE_VERSION}


def bank_with(tmp_path: Path, adaptations: LiveAdaptations) -> ClassifierBank:
    model = make_color_classifier(tmp_path / "color.onnx")
    clf = open_classifier(ClassifierModelSettings(model=model, providers=("cpu",), intra_op_threads=1))
    return ClassifierBank([clf], min_crop_size=8, abstain=AbstentionSettings(enabled=False), adaptations=adaptations)


def colours(bank: ClassifierBank, cameras: list[str]) -> list[str | None]:
    red = solid_bgr("red", 64, 64)
    results = bank.classify_boxes([(red, detections_of((4, 4, 60, 60))) for _ in cameras], cameras=cameras)
    out: list[str | None] = []
    for frame in results.frames:
        classification = frame[0]
        assert classification is not None
        top = classification.top(1)
        out.append(top["color"][0].label if "color" in top else None)
    return out


def test_the_bank_applies_a_cameras_version_to_that_camera_only(tmp_path: Path, files: Files) -> None:
    clock = Clock()
    bank = bank_with(tmp_path, live(files, clock))
    assert colours(bank, ["gate", "yard"]) == ["red", "red"]
    files.write("gate", "v0001.npz", "blue")
    files.point("gate", "v0001.npz")
    clock.now = 3.0
    assert colours(bank, ["gate", "yard"]) == ["blue", "red"]
    assert bank.decided_by("gate") == {"color": "gate/v0001"}
    assert bank.decided_by("yard") == {"color": BASE_VERSION}
    # Without cameras (the recognise API, `classify IMAGE`) nothing is adapted.
    red = solid_bgr("red", 64, 64)
    plain = bank.classify_boxes([(red, detections_of((4, 4, 60, 60)))]).frames[0][0]
    assert plain is not None
    assert plain.top(1)["color"][0].label == "red"


def test_an_adapted_heads_abstention_drops_the_head(tmp_path: Path) -> None:
    adaptations = LiveAdaptations(tmp_path, lambda p: Swap("gate", "v0001", abstain=True), reload_s=2.0)
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "v0001.npz").write_text("x")
    (tmp_path / "gate" / "CURRENT").write_text("v0001.npz")
    bank = bank_with(tmp_path, adaptations)
    assert colours(bank, ["gate", "yard"]) == [None, "red"]


def test_a_corrupt_published_file_keeps_the_previous_version_with_the_real_loader(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from classifiers.adaptation.file import adaptation_bytes, load_adaptation
    from classifiers.adaptation.store import AdaptationStore
    from classifiers.adaptation.transform import HeadAdaptation

    store = AdaptationStore(tmp_path)
    head = HeadAdaptation(head="color", labels=("red", "green", "blue"), method="base", threshold=0.0)
    store.publish("gate", adaptation_bytes("gate", {"color": head}, {"created_by": "test"}))
    clock, errors = Clock(), list[str]()
    adaptations = LiveAdaptations(tmp_path, load_adaptation, reload_s=1.0, clock=clock, on_error=errors.append)
    found = adaptations.for_camera("gate")
    assert found is not None
    assert found.version == "v0001"
    # A version file damaged on disk (a half-copied file, a bad sync) and pointed to.
    (tmp_path / "gate" / "v0002.npz").write_bytes(b"PK\x03\x04 not a whole archive")
    (tmp_path / "gate" / "CURRENT").write_text("v0002.npz\n")
    clock.now = 2.0
    with caplog.at_level(logging.ERROR):
        found = adaptations.for_camera("gate")
    assert found is not None
    assert found.version == "v0001"
    assert errors == ["gate"]
    assert "keeping v0001" in caplog.text
