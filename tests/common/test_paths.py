"""Paths marked `RelativeToConfig` are resolved against the config file's folder, wherever they sit in the tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel

from common.paths import ConfigPath, RelativeToConfig, resolve_config_paths, resolve_relative

BASE = Path("/etc/vw")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("m.onnx", "/etc/vw/m.onnx"),
        ("models/m.onnx", "/etc/vw/models/m.onnx"),
        ("../shared/m.onnx", "/etc/vw/../shared/m.onnx"),
        (Path("m.onnx"), "/etc/vw/m.onnx"),
        ("/abs/m.onnx", "/abs/m.onnx"),
        ("rtsp://user:pw@cam/stream", "rtsp://user:pw@cam/stream"),
        ("file:///videos/a.mp4", "file:///videos/a.mp4"),
        ("0", "0"),
        ("/dev/video0", "/dev/video0"),
        ("", ""),
        (None, None),
        (3, 3),
    ],
)
def test_resolve_relative(value: Any, expected: Any) -> None:
    assert resolve_relative(value, BASE) == expected


class Leaf(BaseModel):
    file: ConfigPath
    label: str = "x"


class OtherLeaf(BaseModel):
    type: Literal["other"] = "other"
    weights: ConfigPath


class TypedLeaf(BaseModel):
    type: Literal["typed"] = "typed"
    file: ConfigPath


class Section(BaseModel):
    leaf: Leaf
    leaves: tuple[Leaf, ...] = ()
    optional: ConfigPath | None = None
    source: Annotated[str, RelativeToConfig()] = "0"
    plugin: TypedLeaf | OtherLeaf | None = None
    files: tuple[ConfigPath, ...] = ()
    by_name: dict[str, ConfigPath] = {}
    name: str = ""
    plain: Path | None = None


class Root(BaseModel):
    section: Section
    sections: list[Section] = []


def test_a_new_marked_field_anywhere_in_a_nested_model_is_resolved() -> None:
    leaf = {"file": "a.onnx", "label": "a.onnx"}
    section = {
        "leaf": leaf,
        "leaves": [leaf, {"file": "/abs/b.onnx"}],
        "optional": "o.yaml",
        "source": "clips/c.mp4",
        "plugin": {"type": "other", "weights": "w.bin"},
        "files": ["f1", "https://h/f2"],
        "by_name": {"x": "x.onnx"},
        "name": "n.onnx",
        "plain": "p.onnx",
    }
    out = resolve_config_paths(Root, {"section": section, "sections": [{"leaf": leaf, "plugin": {"file": "t"}}]}, BASE)
    resolved_leaf = {"file": "/etc/vw/a.onnx", "label": "a.onnx"}
    assert out["section"] == {
        "leaf": resolved_leaf,
        "leaves": [resolved_leaf, {"file": "/abs/b.onnx"}],
        "optional": "/etc/vw/o.yaml",
        "source": "/etc/vw/clips/c.mp4",
        "plugin": {"type": "other", "weights": "/etc/vw/w.bin"},
        "files": ["/etc/vw/f1", "https://h/f2"],
        "by_name": {"x": "/etc/vw/x.onnx"},
        "name": "n.onnx",
        "plain": "p.onnx",
    }
    # the union member is chosen by its literal type; without the key, by the type's default
    assert out["sections"] == [{"leaf": resolved_leaf, "plugin": {"file": "/etc/vw/t"}}]
    Root.model_validate(out)


def test_unknown_keys_and_unexpected_shapes_are_left_to_validation() -> None:
    data = {"section": {"leaf": "not a mapping", "leaves": "nor a list", "typo": "t.onnx"}, "extra": "e.onnx"}
    assert resolve_config_paths(Root, data, BASE) == data


def test_the_input_is_not_changed() -> None:
    data = {"section": {"leaf": {"file": "a.onnx"}}}
    resolve_config_paths(Root, data, BASE)
    assert data == {"section": {"leaf": {"file": "a.onnx"}}}
