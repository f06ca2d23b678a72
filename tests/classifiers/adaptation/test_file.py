"""The adapted head file: round trip, refusal of corrupt or foreign files, and the labels check on apply."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from classifiers.adaptation.errors import AdaptationFileError
from classifiers.adaptation.file import adaptation_bytes, load_adaptation
from classifiers.adaptation.transform import HeadAdaptation

LABELS = ("black", "grey", "silver")


def _heads() -> dict[str, HeadAdaptation]:
    head = HeadAdaptation(
        head="color",
        labels=LABELS,
        method="head",
        threshold=0.4,
        scale=0.8,
        bias=np.array([0.1, -0.3, 0.2], np.float32),
        index=np.array([1, 2], np.int64),
        delta=np.array([[0.0, 0.1], [0.5, 0.0]], np.float32),
    )
    memory = HeadAdaptation(
        head="make",
        labels=("Audi", "BMW"),
        method="memory",
        keys=np.log(np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)),
        key_labels=np.array([1, 0], np.int64),
        bandwidth=0.7,
    )
    return {"color": head, "make": memory}


def _write(tmp_path: Path, data: bytes, name: str = "v0001.npz") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_round_trip_applies_the_same(tmp_path: Path) -> None:
    heads = _heads()
    path = _write(tmp_path, adaptation_bytes("gate", heads, {"vehicles": 7, "created_by": "test"}))
    loaded = load_adaptation(path)
    assert (loaded.camera_id, loaded.version, loaded.heads) == ("gate", "v0001", frozenset({"color", "make"}))
    assert loaded.provenance == {"vehicles": 7, "created_by": "test"}
    probs = np.array([[0.2, 0.5, 0.3], [0.01, 0.01, 0.98]], np.float32)
    adapted, abstain = loaded.apply("color", LABELS, probs)
    expected, expected_abstain = heads["color"].apply(probs)
    np.testing.assert_allclose(adapted, expected, rtol=1e-6)
    np.testing.assert_allclose(adapted.sum(axis=1), 1.0, rtol=1e-5)
    assert abstain.tolist() == expected_abstain.tolist()
    make, _ = loaded.apply("make", ("Audi", "BMW"), np.array([[0.85, 0.15]], np.float32))
    assert make.shape == (1, 2)


def test_apply_refuses_other_labels(tmp_path: Path) -> None:
    loaded = load_adaptation(_write(tmp_path, adaptation_bytes("gate", _heads(), {})))
    with pytest.raises(AdaptationFileError, match="other labels"):
        loaded.apply("color", ("black", "grey", "silver", "white"), np.full((1, 4), 0.25, np.float32))


def _tamper_array(data: bytes) -> bytes:
    """The same file with one number of one array changed (its checksum left as it was)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        entries: dict[str, NDArray[Any]] = {str(name): np.array(npz[name]) for name in npz.files}
    entries["color/bias"][0] += 1.0
    out = io.BytesIO()
    np.savez(out, allow_pickle=False, **entries)
    return out.getvalue()


def _other_version(data: bytes) -> bytes:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        entries: dict[str, NDArray[Any]] = {str(name): np.array(npz[name]) for name in npz.files}
    meta = json.loads(str(entries["meta"]))
    meta["format_version"] = 99
    entries["meta"] = np.array(json.dumps(meta))
    out = io.BytesIO()
    np.savez(out, allow_pickle=False, **entries)
    return out.getvalue()


def _zip_without_meta() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("other.npy", b"not numpy")
    return out.getvalue()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[: len(d) // 2], "corrupt"),
        (lambda d: b"hello", "corrupt"),
        (_tamper_array, "sha256"),
        (_other_version, "format version 99"),
        (lambda d: _zip_without_meta(), "corrupt|meta"),
    ],
)
def test_damaged_files_are_refused_in_one_line(tmp_path: Path, damage: object, message: str) -> None:
    data = damage(adaptation_bytes("gate", _heads(), {}))  # type: ignore[operator]
    path = _write(tmp_path, data)
    with pytest.raises(AdaptationFileError, match=message) as info:
        load_adaptation(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AdaptationFileError, match="not found"):
        load_adaptation(tmp_path / "v0009.npz")
