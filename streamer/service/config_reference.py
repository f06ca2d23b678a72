"""The configuration reference, generated from the settings models so it cannot drift from the code."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, Secret, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from streamer.service.config import ServiceSettings


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds (directly, in a tuple/list, or optional), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(section)" if _nested_model(field.annotation) else ""
    value = field.default
    if value is PydanticUndefined:
        return "**required**"
    if isinstance(value, SecretStr | Secret):
        return "(secret)"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, Path):
        value = str(value)
    return f"`{json.dumps(value)}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _nested_model(field.annotation)
        is_list = get_origin(field.annotation) in (tuple, list)
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        if nested is not None:
            rows.append(f"| `{key}` | {'list of sections' if is_list else 'section'} | {description} |")
            rows.extend(_rows(nested, f"{key}[]." if is_list else f"{key}."))
        else:
            rows.append(f"| `{key}` | {_default(field)} | {description} |")
    return rows


def markdown() -> str:
    """The reference as a Markdown table: key, default, meaning."""
    header = ["| key | default | meaning |", "|---|---|---|"]
    return "\n".join(header + _rows(ServiceSettings, ""))
