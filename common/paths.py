"""File paths in settings that a config file gives relative to its own folder.

A settings field that holds a file (or folder) path says so in its type: ``ConfigPath``, or any type annotated with
`RelativeToConfig`. `resolve_config_paths` walks a raw config mapping along a settings model's fields (nested
sections, lists of sections, optional and union types) and makes every relative value of a marked field relative to
a base folder. Config loading calls it with the config file's folder, so it needs to know no key names: a new path
setting anywhere in the tree is one annotation.

Example:
    >>> from pydantic import BaseModel
    >>> class Model(BaseModel):
    ...     file: ConfigPath
    ...     name: str
    >>> resolve_config_paths(Model, {"file": "m.onnx", "name": "m.onnx"}, Path("/etc/vw"))
    {'file': '/etc/vw/m.onnx', 'name': 'm.onnx'}
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["ConfigPath", "RelativeToConfig", "resolve_config_paths", "resolve_relative"]


@dataclass(frozen=True, slots=True)
class RelativeToConfig:
    """Marks a settings field whose value is a path that a config file may give relative to its own folder.

    Values that are no relative file path are left as they are: URLs (``scheme://…``), webcam indexes (``"0"``) and
    absolute paths. So a field that takes a path *or* a URL (a camera source) may carry the marker too:
    ``Annotated[str, RelativeToConfig()]``.
    """


ConfigPath = Annotated[Path, RelativeToConfig()]
"""A file or folder path; written relative in a config file, it is relative to that file's folder."""


def resolve_relative(value: Any, base: Path) -> Any:
    """``base / value`` for a relative file path; anything else (URL, webcam index, absolute path, None) unchanged."""
    if not isinstance(value, str | PurePath):
        return value
    text = str(value)
    if not text or "://" in text or text.isdigit() or Path(text).is_absolute():
        return value
    return str(base / text)


def resolve_config_paths(model: type[BaseModel], data: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """A copy of the raw config ``data`` of ``model`` in which every marked path is relative to ``base``.

    Keys the model does not know and values of unexpected shapes are copied unchanged: validation reports them.

    Args:
        model: the settings model ``data`` is for.
        data: its raw values (as read from YAML: nested mappings and lists).
        base: the folder relative paths are relative to (the config file's).
    """
    fields = _fields_by_key(model)
    out = dict(data)
    for key, value in data.items():
        field = fields.get(key)
        if field is not None:
            out[key] = _resolve_field(field, value, base)
    return out


def _fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    fields: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        fields[name] = field
        if isinstance(field.alias, str):
            fields[field.alias] = field
    return fields


def _resolve_field(field: FieldInfo, value: Any, base: Path) -> Any:
    # pydantic moves the metadata of a field's outer ``Annotated`` into ``field.metadata``.
    if any(isinstance(m, RelativeToConfig) for m in field.metadata):
        return resolve_relative(value, base)
    return _resolve(field.annotation, value, base)


def _resolve(annotation: Any, value: Any, base: Path) -> Any:
    """``value`` with the marked paths that ``annotation`` declares resolved."""
    if value is None:
        return None
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        if any(isinstance(m, RelativeToConfig) for m in metadata):
            return resolve_relative(value, base)
        return _resolve(inner, value, base)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return resolve_config_paths(annotation, value, base) if isinstance(value, Mapping) else value
    if origin is Union or origin is types.UnionType:
        member = _union_member(get_args(annotation), value)
        return value if member is None else _resolve(member, value, base)
    if origin in (tuple, list, Sequence) and isinstance(value, list | tuple):
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],)
        if len(args) == 1:
            return [_resolve(args[0], item, base) for item in value]
        if len(args) == len(value):
            return [_resolve(arg, item, base) for arg, item in zip(args, value, strict=True)]
        return value
    if origin in (dict, Mapping) and isinstance(value, Mapping):
        value_type = get_args(annotation)[1] if len(get_args(annotation)) == 2 else Any
        return {key: _resolve(value_type, item, base) for key, item in value.items()}
    return value


def _union_member(members: tuple[Any, ...], value: Any) -> Any:
    """The member of a union that ``value`` is for: the only one besides None, a marked path for a string, or the
    settings model whose literal fields (its ``type`` key) ``value`` matches."""
    candidates = [m for m in members if m is not type(None)]
    if len(candidates) == 1:
        return candidates[0]
    if isinstance(value, str | PurePath):
        return next((m for m in candidates if _is_marked(m)), None)
    if isinstance(value, Mapping):
        for member in candidates:
            if isinstance(member, type) and issubclass(member, BaseModel) and _literals_match(member, value):
                return member
    return None


def _is_marked(annotation: Any) -> bool:
    return get_origin(annotation) is Annotated and any(
        isinstance(m, RelativeToConfig) for m in get_args(annotation)[1:]
    )


def _literals_match(model: type[BaseModel], value: Mapping[str, Any]) -> bool:
    for name, field in model.model_fields.items():
        if get_origin(field.annotation) is Literal:
            given = value.get(name, field.default)
            if given not in get_args(field.annotation):
                return False
    return True
