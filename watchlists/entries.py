"""Watchlist entries and the YAML file they are loaded from.

A watchlist file holds a top-level ``entries:`` list (a bare list is accepted too), optionally with the format
``version`` (1 or 2; absent means 1, and version-1 files are valid version-2 files)::

    version: 2
    entries:
      - id: stolen-civic
        description: Silver Honda Civic reported stolen 2024-05-02
        make: Honda
        model: Civic
        year_min: 2016
        year_max: 2021
      - id: amber-2026-1187
        description: "dark blue Chevy pickup, partial plate 7XK"
        make: Chevrolet
        color: dark blue          # stored as color: blue, color_shade: dark
        body_type: pickup
        plate: "*7XK*"            # ? = one character, * = any run
        priority: critical
        source: CA DOJ Amber Alert
        expires_at: 2026-11-24T08:00:00Z
      - id: red-van
        description: Red van seen at the depot break-in, possibly a Ford
        color: red
        body_type: van
        make: Ford
        uncertain: [make]         # judged and shown, but does not gate the match
        threshold: 0.6

Every entry names at least one of ``make``, ``model``, ``color``, ``body_type``, ``year`` / ``year_min`` /
``year_max`` or ``plate``, and at least one of them without doubt (not in ``uncertain``). An unknown key, a bad
value or a repeated id stops :func:`load_watchlist` with one line naming the file, the entry (index and id), the
key and the reason; :func:`collect_entries` instead keeps the valid entries and reports each bad one, so one bad
entry never unloads the others when a watchlist is reloaded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from watchlists.aliases import compact
from watchlists.colors import describe_color, split_color
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


class WatchlistError(ValueError):
    """A watchlist that cannot be loaded; the message is one line naming the file, the entry and the key."""


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
    color_shade: Literal["dark", "light", "bright", "metallic"] | None = Field(
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


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """An entry that was not loaded, and why (one line naming the source, the entry and the key)."""

    source: str
    index: int
    entry_id: str | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class EntryLoad:
    """The valid entries of a source, and a problem for each invalid one."""

    entries: tuple[WatchlistEntry, ...]
    problems: tuple[EntryProblem, ...]
    source: str

    def watchlist(self) -> Watchlist:
        return Watchlist(self.entries, self.source)


def _describe_error(error: ErrorDetails) -> str:
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(WatchlistEntry.model_fields)
        return f"unknown key {location!r} (allowed: {allowed})"
    message = error["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def entry_error_message(exc: ValidationError) -> str:
    """One line for a failed :class:`WatchlistEntry` validation: the first error (key and reason), and a count."""
    errors = exc.errors()
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_describe_error(errors[0])}{more}"


def parse_entry(raw: Any, index: int, source: str) -> WatchlistEntry:
    """One entry from its YAML mapping; raises :class:`WatchlistError` naming ``source``, the index and the id."""
    if not isinstance(raw, dict):
        raise WatchlistError(f"{source}: entry {index} must be a mapping of keys, got {type(raw).__name__}")
    name = f"entry {index} (id {raw['id']!r})" if isinstance(raw.get("id"), str) else f"entry {index}"
    try:
        return WatchlistEntry.model_validate(raw)
    except ValidationError as exc:
        raise WatchlistError(f"{source}: {name}: {entry_error_message(exc)}") from None


def _entry_list(data: Any, source: str) -> list[Any]:
    if isinstance(data, dict):
        unknown = sorted(str(key) for key in data if key not in ("entries", "version"))
        if unknown:
            raise WatchlistError(f"{source}: unknown top-level key {unknown[0]!r} (expected 'entries', 'version')")
        version = data.get("version", 1)
        if version not in (1, 2) or isinstance(version, bool):
            raise WatchlistError(f"{source}: version must be 1 or 2, got {version!r}")
        if "entries" not in data:
            raise WatchlistError(f"{source}: no 'entries' list")
        data = data["entries"] if data["entries"] is not None else []
    if not isinstance(data, list):
        raise WatchlistError(f"{source}: expected a list of entries, got {type(data).__name__}")
    return data


def collect_entries(data: Any, source: str = "<memory>") -> EntryLoad:
    """The valid entries of parsed YAML, and one :class:`EntryProblem` per invalid or repeated one.

    Raises:
        WatchlistError: the document itself is unusable (not a list of entries, unknown top-level key).
    """
    entries: list[WatchlistEntry] = []
    problems: list[EntryProblem] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(_entry_list(data, source)):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        entry_id = raw_id if isinstance(raw_id, str) else None
        try:
            entry = parse_entry(raw, index, source)
        except WatchlistError as exc:
            problems.append(EntryProblem(source, index, entry_id, str(exc)))
            continue
        if entry.id in seen:
            message = f"{source}: entry {index}: id {entry.id!r} is already used by entry {seen[entry.id]}"
            problems.append(EntryProblem(source, index, entry.id, message))
            continue
        seen[entry.id] = index
        entries.append(entry)
    return EntryLoad(tuple(entries), tuple(problems), source)


def parse_watchlist(data: Any, source: str = "<memory>") -> Watchlist:
    """A watchlist from parsed YAML: ``{"entries": [...]}`` or a bare list of entry mappings; strict (the first
    bad entry raises :class:`WatchlistError`)."""
    loaded = collect_entries(data, source)
    if loaded.problems:
        raise WatchlistError(loaded.problems[0].message)
    return loaded.watchlist()


def read_watchlist_yaml(path: Path) -> Any:
    """The parsed YAML of a watchlist file.

    Raises:
        WatchlistError: the file is missing, empty or not YAML (one line saying where).
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
    return data


def load_watchlist(path: Path) -> Watchlist:
    """Reads and validates a watchlist YAML file, strictly (for the service's start).

    Raises:
        WatchlistError: the file is missing, empty, not YAML, or an entry is invalid (one line saying where).
    """
    return parse_watchlist(read_watchlist_yaml(path), str(path))


def load_watchlist_lenient(path: Path) -> EntryLoad:
    """Reads a watchlist YAML file keeping every valid entry (for reloads): invalid ones come back as problems.

    Raises:
        WatchlistError: the file itself is unusable (missing, not YAML, not a list of entries).
    """
    return collect_entries(read_watchlist_yaml(path), str(path))


def dump_watchlist(entries: Sequence[WatchlistEntry]) -> str:
    """A version-2 watchlist YAML document of ``entries`` (fields left at their defaults are omitted)."""
    rows = [entry.model_dump(mode="json", exclude_defaults=True) for entry in entries]
    return yaml.safe_dump({"version": ENTRY_VERSION, "entries": rows}, sort_keys=False, allow_unicode=True)
