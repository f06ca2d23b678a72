"""The store: numbered versions, CURRENT written atomically, rollback, nothing deleted, bad files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.adaptation.errors import AdaptationError, AdaptationFileError
from classifiers.adaptation.file import adaptation_bytes as encode
from classifiers.adaptation.store import AdaptationStore
from classifiers.adaptation.transform import HeadAdaptation


def _file(camera: str = "gate", threshold: float = 0.0) -> bytes:
    head = HeadAdaptation(head="color", labels=("a", "b"), method="base", threshold=threshold)
    return encode(camera, {"color": head}, {"created_by": "test"})


def test_publish_numbers_versions_and_points_current(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path)
    assert store.current("gate") is None
    assert store.versions("gate") == []
    assert store.cameras() == []
    assert store.publish("gate", _file()) == "v0001"
    assert store.publish("gate", _file(threshold=0.5)) == "v0002"
    assert store.versions("gate") == ["v0001", "v0002"]
    assert (tmp_path / "gate" / "CURRENT").read_text().strip() == "v0002.npz"
    assert store.current("gate") == tmp_path / "gate" / "v0002.npz"
    assert store.cameras() == ["gate"]
    # Atomic writes leave no temporary file behind.
    assert sorted(p.name for p in (tmp_path / "gate").iterdir()) == [
        "CURRENT",
        "history.jsonl",
        "v0001.npz",
        "v0002.npz",
    ]


def test_rollback_walks_back_to_the_base_model_and_keeps_every_file(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path)
    for _ in range(3):
        store.publish("gate", _file())
    assert store.rollback("gate") == "v0002"
    assert store.rollback("gate") == "v0001"
    assert store.rollback("gate") is None
    assert store.current("gate") is None
    assert store.rollback("gate") is None  # already on the base model: nothing changes
    assert store.versions("gate") == ["v0001", "v0002", "v0003"]
    # A new version after a rollback gets a new number; none is reused.
    assert store.publish("gate", _file()) == "v0004"
    actions = [e["action"] for e in store.history("gate")]
    assert actions == ["publish"] * 3 + ["rollback"] * 3 + ["publish"]


def test_a_bad_file_is_never_published(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path)
    store.publish("gate", _file())
    with pytest.raises(AdaptationFileError):
        store.publish("gate", b"not an adaptation")
    with pytest.raises(AdaptationFileError, match="camera 'yard'"):
        store.publish("gate", _file(camera="yard"))
    assert store.versions("gate") == ["v0001"]
    assert store.current_version("gate") == "v0001"
    assert not [p for p in (tmp_path / "gate").iterdir() if p.name.startswith(".")]


def test_current_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path)
    store.publish("gate", _file())
    (tmp_path / "gate" / "CURRENT").write_text("v0007.npz\n")
    with pytest.raises(AdaptationFileError, match="v0007"):
        store.current("gate")


@pytest.mark.parametrize("camera", ["../etc", "a/b", "", ".."])
def test_camera_ids_cannot_leave_the_root(tmp_path: Path, camera: str) -> None:
    with pytest.raises(AdaptationError, match="invalid camera id"):
        AdaptationStore(tmp_path).publish(camera, _file())


def test_thresholds_travel(tmp_path: Path) -> None:
    store = AdaptationStore(tmp_path)
    store.publish("gate", _file(threshold=0.75))
    from classifiers.adaptation.file import load_adaptation

    path = store.current("gate")
    assert path is not None
    _, abstain = load_adaptation(path).apply("color", ("a", "b"), np.array([[0.6, 0.4], [0.9, 0.1]], np.float32))
    assert abstain.tolist() == [True, False]
