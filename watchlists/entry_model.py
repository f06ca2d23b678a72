"""One watchlist entry: the vehicle it describes, validated, and the in-memory watchlist of unique entries.

An entry names at least one of ``make``, ``model``, ``color``, ``body_type``, ``year`` / ``year_min`` /
``year_max`` or ``plate``, and at least one of them without doubt (not in ``uncertain``). Validation normalises
what people write (``color: dark blue`` becomes ``color: blue`` + ``color_shade: dark``; plates are stored upper
case without separators) and refuses the rest with one line naming the key (:func:`entry_error_message`).

Example:
    >>> WatchlistEntry(id="vw-golf", make="VW", model="Golf", year_min=2015).year_range
    (2015, None)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from classifiers.color.vocabulary import Shade, describe_color, split_color
from watchlists.aliases import compact
from watchlists.entry_errors import WatchlistError
from watchlists.plates import PlateError, is_partial, validate_plate_pattern

ATTRIBUTE_FIELDS: tuple[str, ...] = ("make", "model", "color", "body_type", "year")
"""The vehicle attributes classifiers judge (``year`` stands for ``year``, ``year_min`` and ``year_max``)."""

PLATE_FIELD = "plate"
MATCH_FIELDS: tuple[str, ...] = (*ATTRIBUTE_FIELDS, PLATE_FIELD)
"""Every field an entry can be matched on: the attributes, and the plate (judged only with a plate reader)."""

ENTRY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MIN_YEAR, MAX_YEAR = 1886, 2100
ENTRY_VERSION: Literal[2] = 2
"""Current entry format: 1 is the original (attributes, threshold), 2 adds shades, plate, uncertain fields,
priority, source and validity times."""

MatchField = Literal["make", "model", "color", "body_type", "year", "plate"]


class Priority(StrEnum):
    """How urgent an entry's alerts are (carried into every alert, for consumers to route and sort)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class WatchlistEntry(BaseModel):
    """One vehicle to look for: the attributes it must have, all of them (a logical AND).

    Example:
        >>> WatchlistEntry(id="vw-golf", make="VW", model="Golf", year_min=2015).year_range
        (2015, None)
        >>> WatchlistEntry(id="chevy", make="Chevy", color="dark blue").color_shade
        'dark'
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
    color: str | None = Field(
        default=None,
        description=(
            "Base colour as colour classifiers name it ('grey' = 'gray'); a shade written with it ('dark blue', "
            "'navy') is moved to color_shade."
        ),
    )
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
    color_shade: Shade | None = Field(
        default=None,
        description="Shade of the colour; dark and light change which neighbouring colours get partial credit.",
    )
    plate: str | None = Field(
        default=None,
        description=(
            "Licence plate or partial plate: letters and digits, '?' for one unknown character, '*' for any run "
            "('*7XK*': 7XK somewhere). Stored upper case without separators; matched only with a plate reader."
        ),
    )
    uncertain: tuple[MatchField, ...] = Field(
        default=(),
        description=(
            "Fields the description is unsure of ('possibly a Honda'): scored and shown in alerts, but they do not "
            "gate the match."
        ),
    )
    priority: Priority = Field(default=Priority.NORMAL, description="Urgency carried into alerts.")
    source: str | None = Field(
        default=None, max_length=200, description="Where the entry comes from (agency, alert number, operator)."
    )
    created_at: datetime | None = Field(default=None, description="When the entry was made (with a time zone).")
    expires_at: datetime | None = Field(
        default=None, description="When the entry stops matching by itself (with a time zone); None: never."
    )
    version: Literal[1, 2] = Field(default=ENTRY_VERSION, description="Entry format version (1 or 2).")

    @field_validator("make", "model", "color", "body_type", "source")
    @classmethod
    def _name_has_letters(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not compact(value):
            raise ValueError("must contain a letter or digit")
        return value

    @field_validator("plate")
    @classmethod
    def _plate_pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_plate_pattern(value)
        except PlateError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("created_at", "expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("needs a time zone, e.g. 2026-11-24T08:00:00Z")
        return value.astimezone(UTC)

    @model_validator(mode="before")
    @classmethod
    def _split_shade(cls, data: Any) -> Any:
        """``color: dark blue`` → ``color: blue, color_shade: dark`` (an explicit color_shade must agree)."""
        if not isinstance(data, dict) or not isinstance(data.get("color"), str) or not compact(data["color"]):
            return data
        try:
            base, shade = split_color(data["color"])
        except ValueError as exc:
            raise ValueError(f"color: {exc}") from None
        given = data.get("color_shade")
        if shade is not None and given is not None and given != shade:
            raise ValueError(f"color {data['color']!r} says {shade}, color_shade says {given}")
        out = dict(data)
        if shade is not None or base != data["color"].strip():
            out["color"] = base
        if shade is not None:
            out["color_shade"] = shade
        return out

    @model_validator(mode="after")
    def _consistent(self) -> WatchlistEntry:
        if self.year is not None and (self.year_min is not None or self.year_max is not None):
            raise ValueError("give either year or year_min/year_max, not both")
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min {self.year_min} is after year_max {self.year_max}")
        if self.color_shade is not None and self.color is None:
            raise ValueError("color_shade needs a color")
        fields = self.fields()
        if not fields:
            raise ValueError(f"names no attribute to match: give at least one of {', '.join(MATCH_FIELDS)}")
        unset = [name for name in self.uncertain if name not in fields]
        if unset:
            raise ValueError(f"uncertain names {', '.join(unset)}, which the entry does not set")
        if len(set(self.uncertain)) != len(self.uncertain):
            raise ValueError("uncertain names a field twice")
        if not self.certain_fields():
            raise ValueError("every field is uncertain: at least one must be certain, or nothing gates the match")
        if self.created_at is not None and self.expires_at is not None and self.expires_at <= self.created_at:
            raise ValueError("expires_at must be after created_at")
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
        """The classifier-judged fields this entry sets, in :data:`ATTRIBUTE_FIELDS` order (the plate is not one)."""
        given = {
            "make": self.make,
            "model": self.model,
            "color": self.color,
            "body_type": self.body_type,
            "year": self.year_range,
        }
        return tuple(name for name in ATTRIBUTE_FIELDS if given[name] is not None)

    def fields(self) -> tuple[str, ...]:
        """Every field this entry is matched on: :meth:`attributes`, then ``plate`` if set."""
        return (*self.attributes(), PLATE_FIELD) if self.plate is not None else self.attributes()

    def certain_fields(self) -> tuple[str, ...]:
        """The fields that gate the match (all but the uncertain ones)."""
        return tuple(name for name in self.fields() if name not in self.uncertain)

    @property
    def expires_ts(self) -> float:
        """``expires_at`` as Unix seconds (infinity when it never expires)."""
        return float("inf") if self.expires_at is None else self.expires_at.timestamp()

    def expired(self, now: float | None = None) -> bool:
        """Whether the entry has expired at ``now`` (Unix seconds; default: the current time)."""
        return self.expires_ts <= (time.time() if now is None else now)

    def wanted(self, name: str) -> str:
        """The value a field asks for, as an operator reads it (``"dark blue"``, ``"2015-2017"``, ``"*7XK*"``)."""
        if name == "year":
            first, last = self.year_range or (None, None)
            if first == last:
                return str(first)
            return f"{first if first is not None else '…'}-{last if last is not None else '…'}"
        if name == "color":
            return describe_color(self.color or "", self.color_shade)
        if name == PLATE_FIELD:
            return f"{self.plate} (partial)" if self.plate and is_partial(self.plate) else str(self.plate)
        return str(getattr(self, name))

    def summary(self) -> str:
        """One line: the fields with their values, uncertain ones marked with '?'."""
        parts = [f"{name}={self.wanted(name)}{'?' if name in self.uncertain else ''}" for name in self.fields()]
        return " ".join(parts)


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


def entry_error_message(exc: ValidationError) -> str:
    """One line for a failed :class:`WatchlistEntry` validation: every error (key and reason), ``; `` between them.

    Every one, not the first and a count: whoever fixes the entry sees all its mistakes at once. (The checks across
    fields, such as ``year_min`` after ``year_max``, run only once each field is valid on its own.)
    """
    return "; ".join(_describe_error(error) for error in exc.errors())
