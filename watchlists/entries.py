"""Watchlist entries and the YAML file they are loaded from.

A watchlist file holds a top-level ``entries:`` list (a bare list is accepted too)::

    entries:
      - id: stolen-civic
        description: Silver Honda Civic reported stolen 2024-05-02
        make: Honda
        model: Civic
        year_min: 2016
        year_max: 2021
      - id: red-van
        description: Red van seen at the depot break-in
        color: red
        body_type: van
        threshold: 0.6

Every entry names at least one of ``make``, ``model``, ``color``, ``body_type``, ``year`` / ``year_min`` /
``year_max``; an unknown key, a bad value or a repeated id stops the load with one line naming the file, the entry
(index and id), the key and the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from watchlists.aliases import compact

ATTRIBUTE_FIELDS: tuple[str, ...] = ("make", "model", "color", "body_type", "year")
"""The vehicle attributes an entry can ask for (``year`` stands for ``year``, ``year_min`` and ``year_max``)."""

ENTRY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MIN_YEAR, MAX_YEAR = 1886, 2100


class WatchlistError(ValueError):
    """A watchlist that cannot be loaded; the message is one line naming the file, the entry and the key."""


class WatchlistEntry(BaseModel):
    """One vehicle to look for: the attributes it must have, all of them (a logical AND).

    Example:
        >>> WatchlistEntry(id="vw-golf", make="VW", model="Golf", year_min=2015).year_range
        (2015, None)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        pattern=ENTRY_ID_PATTERN,
        description="Unique id of the entry: 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter/digit.",
    )
    description: str = Field(default="", max_length=1000, description="Free text carried into every alert.")
    make: str | None = Field(default=None, description="Manufacturer, e.g. 'Honda'; aliases like 'VW' or 'Chevy' work.")
    model: str | None = Field(
        default=None, description="Model name, e.g. 'Civic'; also matches longer names it begins ('3 Series Sedan')."
    )
    color: str | None = Field(default=None, description="Colour as the colour classifier names it ('grey' = 'gray').")
    body_type: str | None = Field(
        default=None, description="Body type: car, bus, truck, van, or sedan/suv/hatchback/coupe/pickup/... ."
    )
    year: int | None = Field(default=None, ge=MIN_YEAR, le=MAX_YEAR, description="Exact model year.")
    year_min: int | None = Field(default=None, ge=MIN_YEAR, le=MAX_YEAR, description="Earliest model year (inclusive).")
    year_max: int | None = Field(default=None, ge=MIN_YEAR, le=MAX_YEAR, description="Latest model year (inclusive).")
    threshold: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="Score this entry needs to match; None uses the matcher's default threshold.",
    )

    @field_validator("make", "model", "color", "body_type")
    @classmethod
    def _name_has_letters(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not compact(value):
            raise ValueError("must contain a letter or digit")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WatchlistEntry:
        if self.year is not None and (self.year_min is not None or self.year_max is not None):
            raise ValueError("give either year or year_min/year_max, not both")
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min {self.year_min} is after year_max {self.year_max}")
        if not self.attributes():
            raise ValueError(f"names no attribute to match: give at least one of {', '.join(ATTRIBUTE_FIELDS)}")
        return self

    @property
    def year_range(self) -> tuple[int | None, int | None] | None:
        """``(first, last)`` model years (either end may be open), or None when the entry sets no year."""
        if self.year is not None:
            return (self.year, self.year)
        if self.year_min is None and self.year_max is None:
            return None
        return (self.year_min, self.year_max)

    def attributes(self) -> tuple[str, ...]:
        """The attribute fields this entry sets, in :data:`ATTRIBUTE_FIELDS` order."""
        given = {
            "make": self.make,
            "model": self.model,
            "color": self.color,
            "body_type": self.body_type,
            "year": self.year_range,
        }
        return tuple(name for name in ATTRIBUTE_FIELDS if given[name] is not None)


@dataclass(frozen=True, slots=True)
class Watchlist:
    """The entries of one watchlist, ids unique."""

    entries: tuple[WatchlistEntry, ...]
    source: str = "<memory>"

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for index, entry in enumerate(self.entries):
            if entry.id in seen:
                raise WatchlistError(
                    f"{self.source}: entry {index}: id {entry.id!r} is already used by entry {seen[entry.id]}"
                )
            seen[entry.id] = index

    def __iter__(self) -> Iterator[WatchlistEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def _describe_error(error: ErrorDetails) -> str:
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(WatchlistEntry.model_fields)
        return f"unknown key {location!r} (allowed: {allowed})"
    message = error["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def parse_entry(raw: Any, index: int, source: str) -> WatchlistEntry:
    """One entry from its YAML mapping; raises :class:`WatchlistError` naming ``source``, the index and the id."""
    if not isinstance(raw, dict):
        raise WatchlistError(f"{source}: entry {index} must be a mapping of keys, got {type(raw).__name__}")
    name = f"entry {index} (id {raw['id']!r})" if isinstance(raw.get("id"), str) else f"entry {index}"
    try:
        return WatchlistEntry.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise WatchlistError(f"{source}: {name}: {_describe_error(errors[0])}{more}") from None


def parse_watchlist(data: Any, source: str = "<memory>") -> Watchlist:
    """A watchlist from parsed YAML: ``{"entries": [...]}`` or a bare list of entry mappings."""
    if isinstance(data, dict):
        unknown = sorted(str(key) for key in data if key != "entries")
        if unknown:
            raise WatchlistError(f"{source}: unknown top-level key {unknown[0]!r} (expected 'entries')")
        if "entries" not in data:
            raise WatchlistError(f"{source}: no 'entries' list")
        data = data["entries"] if data["entries"] is not None else []
    if not isinstance(data, list):
        raise WatchlistError(f"{source}: expected a list of entries, got {type(data).__name__}")
    return Watchlist(tuple(parse_entry(raw, index, source) for index, raw in enumerate(data)), source)


def load_watchlist(path: Path) -> Watchlist:
    """Reads and validates a watchlist YAML file.

    Raises:
        WatchlistError: the file is missing, empty, not YAML, or an entry is invalid (one line saying where).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WatchlistError(f"watchlist file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchlistError(f"watchlist file {path} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise WatchlistError(f"{path}: not valid YAML: {exc.problem}{where}") from None
    except yaml.YAMLError as exc:
        raise WatchlistError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        raise WatchlistError(f"{path}: the file is empty (write 'entries: []' for an empty watchlist)")
    return parse_watchlist(data, str(path))
