"""Watchlist files: reading, validating and writing the YAML that entries are loaded from, strictly or leniently.

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
value or a repeated id stops :func:`load_watchlist` with one error naming the file, the entry (index and id), the
key and the reason; with several bad entries its first line is a summary and a line follows for each, so every
mistake is reported at once. :func:`collect_entries` instead keeps the valid entries and reports each bad one, so
one bad entry never unloads the others when a watchlist is reloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from watchlists.entry_errors import EntryProblem, WatchlistError
from watchlists.entry_model import ENTRY_VERSION, Watchlist, WatchlistEntry, entry_error_message


@dataclass(frozen=True, slots=True)
class EntryLoad:
    """The valid entries of a source, and a problem for each invalid one."""

    entries: tuple[WatchlistEntry, ...]
    problems: tuple[EntryProblem, ...]
    source: str

    def watchlist(self) -> Watchlist:
        return Watchlist(self.entries, self.source)


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
    """A watchlist from parsed YAML: ``{"entries": [...]}`` or a bare list of entry mappings; strict (any bad
    entry raises one :class:`WatchlistError` that lists every bad entry, not only the first)."""
    loaded = collect_entries(data, source)
    if loaded.problems:
        total = len(loaded.entries) + len(loaded.problems)
        raise WatchlistError.invalid_entries(source, loaded.problems, total)
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
        WatchlistError: the file is missing, empty or not YAML (one line saying where), or entries are invalid
            (every one of them, see :meth:`WatchlistError.invalid_entries`).
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
