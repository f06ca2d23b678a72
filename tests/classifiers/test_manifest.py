"""Classifier manifests: metadata variants, sidecar YAML overrides, and one-line errors for bad descriptions."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from classifiers.manifest import ClassifierManifest, load_manifest, parse_manifest
from detectors.runtime import ModelLoadError

BASE: dict[str, Any] = {
    "task": "color",
    "labels": json.dumps(["red", "green", "blue"]),
    "input_size": "224x224",
    "mean": "127.5,127.5,127.5",
    "scale": "0.00784",
    "color_order": "RGB",
    "resize": "stretch",
    "input_layout": "NCHW",
}


def meta(**changes: Any) -> dict[str, Any]:
    """BASE with keys replaced; a None value removes the key."""
    out = dict(BASE)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("metadata", "outputs", "expected", "error"),
    [
        pytest.param(
            meta(),
            ["probs", "embedding"],
            {"heads": {"probs": ("red", "green", "blue")}, "input_height": 224, "std": (1 / 0.00784,) * 3},
            None,
            id="list-labels-first-output-scale",
        ),
        pytest.param(
            meta(task="vehicle_attributes", labels=json.dumps({"color": ["white", "red"], "type": ["car", "bus"]})),
            ["color", "type"],
            {"heads": {"color": ("white", "red"), "type": ("car", "bus")}},
            None,
            id="dict-labels-multi-output",
        ),
        pytest.param(
            meta(scale=None, std="58.4,57.1,57.4", mean="123.7,116.3,103.5"),
            ["probs"],
            {"std": (58.4, 57.1, 57.4), "mean": (123.7, 116.3, 103.5)},
            None,
            id="std-per-channel",
        ),
        pytest.param(
            meta(scale=None, mean=None), ["probs"], {"mean": (0.0,) * 3, "std": (1.0,) * 3}, None, id="no-normalisation"
        ),
        pytest.param(
            meta(scale="1", mean="0"), ["probs"], {"std": (1.0,) * 3, "mean": (0.0,) * 3}, None, id="mean-one"
        ),
        pytest.param(meta(color_order="bgr"), ["probs"], {"color_order": "BGR"}, None, id="bgr-any-case"),
        pytest.param(meta(input_layout="nhwc"), ["probs"], {"input_layout": "NHWC"}, None, id="nhwc"),
        pytest.param(meta(input_size="72X96"), ["probs"], {"input_height": 72, "input_width": 96}, None, id="h-by-w"),
        pytest.param(
            meta(input_size=[48, 64]), ["probs"], {"input_height": 48, "input_width": 64}, None, id="size-list"
        ),
        pytest.param(meta(task=None), ["probs"], {"task": "classes"}, None, id="no-task"),
        pytest.param(meta(labels=None), ["probs"], None, "no 'labels'", id="missing-labels"),
        pytest.param(meta(input_size=None), ["probs"], None, "no 'input_size'", id="missing-input-size"),
        pytest.param(meta(input_size="224"), ["probs"], None, "input_size must be HxW", id="size-one-number"),
        pytest.param(meta(input_size="ax224"), ["probs"], None, "input_size must be HxW", id="size-not-number"),
        pytest.param(meta(input_size=[1, 2, 3]), ["probs"], None, "input_size must be HxW", id="size-three"),
        pytest.param(meta(input_size="0x224"), ["probs"], None, "input_height", id="size-zero"),
        pytest.param(meta(labels="red,green"), ["probs"], None, "labels must be a JSON list", id="labels-not-json"),
        pytest.param(meta(labels='"red"'), ["probs"], None, "labels must be a JSON list or object", id="labels-string"),
        pytest.param(meta(labels="[]"), ["probs"], None, "empty label list", id="labels-empty"),
        pytest.param(meta(labels="{}"), ["probs"], None, "no labels", id="labels-empty-dict"),
        pytest.param(
            meta(labels=json.dumps({"colour": ["red"]})),
            ["color"],
            None,
            "outputs the model does not have",
            id="bad-out",
        ),
        pytest.param(meta(), [], None, "no output", id="no-outputs"),
        pytest.param(meta(scale="0"), ["probs"], None, "scale must not be 0", id="scale-zero"),
        pytest.param(meta(mean="1,2"), ["probs"], None, "mean must have 1 or 3 numbers", id="mean-two"),
        pytest.param(meta(color_order="HSV"), ["probs"], None, "color_order", id="bad-color-order"),
        pytest.param(meta(resize="letterbox"), ["probs"], None, "resize", id="unsupported-resize"),
        pytest.param(meta(input_layout="CHW"), ["probs"], None, "input_layout", id="bad-layout"),
    ],
)
def test_parse_manifest(
    metadata: dict[str, Any], outputs: list[str], expected: dict[str, Any] | None, error: str | None
) -> None:
    raises = pytest.raises(ModelLoadError, match=error) if error else contextlib.nullcontext()
    with raises as caught:
        manifest = parse_manifest(metadata, outputs, "m.onnx")
    if error:
        assert isinstance(caught, pytest.ExceptionInfo)
        message = str(caught.value)
        assert message.startswith("classifier m.onnx: ")
        assert "\n" not in message
        return
    assert expected is not None
    for key, value in expected.items():
        actual = getattr(manifest, key)
        if key in ("std", "mean"):
            assert actual == pytest.approx(value)
        else:
            assert actual == value


@pytest.mark.parametrize(
    ("heads", "output", "expected"),
    [
        ({"probs": ("a",)}, "probs", "color"),
        ({"color": ("a",), "type": ("b",)}, "type", "type"),
    ],
)
def test_head_name(heads: dict[str, tuple[str, ...]], output: str, expected: str) -> None:
    manifest = ClassifierManifest(task="color", heads=heads, input_height=8, input_width=8)
    assert manifest.head_name(output) == expected


def test_real_models_metadata_shape() -> None:
    """The keys the real models carry (strings, as ONNX stores them) parse as their README describes."""
    omz = {
        "task": "vehicle_attributes",
        "labels": '{"color": ["white", "gray", "yellow", "red", "green", "blue", "black"], '
        '"type": ["car", "bus", "truck", "van"]}',
        "input_size": "72x72",
        "mean": "0,0,0",
        "std": "1,1,1",
        "scale": "1",
        "color_order": "BGR",
        "resize": "stretch",
        "input_layout": "NCHW",
    }
    manifest = parse_manifest(omz, ["color", "type"], "omz.onnx")
    assert manifest.color_order == "BGR"
    assert manifest.std == (1.0, 1.0, 1.0)
    assert [manifest.head_name(o) for o in manifest.heads] == ["color", "type"]


@pytest.mark.parametrize(
    ("sidecar", "expected", "error"),
    [
        pytest.param(None, {"color_order": "RGB", "heads": {"probs": ("red", "green", "blue")}}, None, id="no-sidecar"),
        pytest.param(
            "labels: [a, b, c]\ncolor_order: BGR\n",
            {"color_order": "BGR", "heads": {"probs": ("a", "b", "c")}, "input_height": 224},
            None,
            id="override-key-by-key",
        ),
        pytest.param(
            "input_size: [96, 64]\nmean: [1, 2, 3]\n",
            {"input_height": 96, "input_width": 64, "mean": (1.0, 2.0, 3.0)},
            None,
            id="yaml-values",
        ),
        pytest.param("", {"task": "color"}, None, id="empty-sidecar"),
        pytest.param("labels: [a]\nthreshold: 0.5\n", None, "unknown key 'threshold'", id="unknown-key"),
        pytest.param("- a\n- b\n", None, "must be a mapping", id="not-mapping"),
        pytest.param("labels: [a\n", None, "not valid YAML", id="bad-yaml"),
        pytest.param("input_size: 224\n", None, "input_size must be HxW", id="bad-size-in-sidecar"),
    ],
)
def test_load_manifest_sidecar(
    tmp_path: Path, sidecar: str | None, expected: dict[str, Any] | None, error: str | None
) -> None:
    model = tmp_path / "m.onnx"
    if sidecar is not None:
        (tmp_path / "m.yaml").write_text(sidecar)
    # Metadata keys outside the manifest (description, license ...) are ignored.
    metadata = {**BASE, "description": "a model", "license": "MIT"}
    raises = pytest.raises(ModelLoadError, match=error) if error else contextlib.nullcontext()
    with raises:
        manifest = load_manifest(model, metadata, ["probs"])
    if expected is not None:
        for key, value in expected.items():
            assert getattr(manifest, key) == value


def test_sidecar_alone_describes_model(tmp_path: Path) -> None:
    """A model without metadata is fully described by its sidecar."""
    side = {"task": "make", "labels": ["Audi", "BMW"], "input_size": "32x32", "scale": 0.5}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(side))
    manifest = load_manifest(tmp_path / "m.onnx", {}, ["logits"])
    assert manifest.heads == {"logits": ("Audi", "BMW")}
    assert manifest.std == (2.0, 2.0, 2.0)
