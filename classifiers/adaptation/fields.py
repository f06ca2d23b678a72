"""The label fields an operator gives and the bank heads each one teaches (issue 19's shared design)."""

from __future__ import annotations

from collections.abc import Collection

FIELD_HEADS: dict[str, tuple[str, ...]] = {
    "make": ("make",),
    "color": ("color",),
    "body_type": ("type", "body_type"),
}
"""Label field → the bank head names that judge it; the first one the bank has wins."""

CANT_TELL = "unknown"
"""The value of a field the operator looked at and could not tell (never a training target)."""


def head_for_field(field: str, heads: Collection[str]) -> str | None:
    """The head of ``heads`` that judges ``field`` (the first of ``FIELD_HEADS[field]`` present), or None.

    Example:
        >>> head_for_field("body_type", ["make", "type"])
        'type'
    """
    return next((head for head in FIELD_HEADS.get(field, ()) if head in heads), None)
