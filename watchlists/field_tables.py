"""Markdown tables of the alert and entry fields, generated from the pydantic models so the docs cannot drift.

``docs/alerts.md`` and ``docs/watchlists.md`` hold them between ``<!-- fields:NAME:start -->`` and
``<!-- fields:NAME:end -->`` markers; :func:`update_doc` rewrites the blocks, and a test checks they are current.
"""

from __future__ import annotations

import re
import types
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from watchlists.alerts import Alert
from watchlists.entry_model import WatchlistEntry

MODELS: dict[str, type[BaseModel]] = {"alert": Alert, "entry": WatchlistEntry}
_BLOCK = re.compile(r"(<!-- fields:(\w+):start -->\n)(.*?)(<!-- fields:\2:end -->)", re.S)


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(repr(arg).replace("'", '"') for arg in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " \\| ".join("null" if arg is type(None) else _type_name(arg) for arg in get_args(annotation))
    if origin in (list, tuple):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        key, value = get_args(annotation)
        return f"object of {_type_name(key)} → {_type_name(value)}"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f'"{member.value}"' for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if isinstance(annotation, type) and annotation in names:
        return names[annotation]
    name = str(getattr(annotation, "__name__", annotation))
    return "time (ISO 8601)" if name in ("datetime", "AwareDatetime") else name


def _nested(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [found for arg in get_args(annotation) for found in _nested(arg)]


def field_table(model: type[BaseModel]) -> str:
    """``| field | type | meaning |`` rows for the model and, prefixed, the models its fields hold."""
    rows = ["| field | type | meaning |", "|---|---|---|"]
    seen: set[type[BaseModel]] = set()

    def add(current: type[BaseModel], prefix: str) -> None:
        for name, info in current.model_fields.items():
            rows.append(f"| `{prefix}{name}` | {_type_name(info.annotation)} | {info.description or ''} |")
            for inner in _nested(info.annotation):
                if inner not in seen:
                    seen.add(inner)
                    suffix = "[]." if get_origin(info.annotation) in (list, tuple) else "."
                    if get_origin(info.annotation) is dict:
                        suffix = ".*[]."
                    add(inner, f"{prefix}{name}{suffix}")

    add(model, "")
    return "\n".join(rows)


def update_doc(path: Path) -> None:
    """Rewrites every generated block of a Markdown file."""
    text = path.read_text()
    path.write_text(_BLOCK.sub(lambda m: m.group(1) + field_table(MODELS[m.group(2)]) + "\n" + m.group(4), text))


def blocks(path: Path) -> dict[str, str]:
    """The generated blocks of a file: name → content."""
    return {m.group(2): m.group(3) for m in _BLOCK.finditer(path.read_text())}
