"""Watchlist entries, the public face: the entry model, loading watchlist files, and the errors, from one import.

The code lives in three modules of one role each; this one only re-exports them, so the service, the CLI and the
Redis store keep importing ``watchlists.entries``:

* :mod:`watchlists.entry_model` — :class:`WatchlistEntry` (fields, validation, shades, plates, uncertain fields,
  validity), :class:`Watchlist` (unique ids) and how a validation error reads (:func:`entry_error_message`);
* :mod:`watchlists.entry_files` — the YAML file format, strict (:func:`load_watchlist`, for the service's start)
  and lenient (:func:`load_watchlist_lenient`, for reloads: one bad entry never unloads the others);
* :mod:`watchlists.entry_errors` — :class:`WatchlistError` and the per-entry :class:`EntryProblem`.

The three never import this module, so it cannot close an import cycle; code inside ``watchlists`` that is part
of the entry machinery imports the module that defines a name.
"""

from __future__ import annotations

from watchlists.entry_errors import EntryProblem, WatchlistError
from watchlists.entry_files import (
    EntryLoad,
    collect_entries,
    dump_watchlist,
    load_watchlist,
    load_watchlist_lenient,
    parse_entry,
    parse_watchlist,
    read_watchlist_yaml,
)
from watchlists.entry_model import (
    ATTRIBUTE_FIELDS,
    ENTRY_ID_PATTERN,
    ENTRY_VERSION,
    MATCH_FIELDS,
    MAX_YEAR,
    MIN_YEAR,
    PLATE_FIELD,
    MatchField,
    Priority,
    Watchlist,
    WatchlistEntry,
    entry_error_message,
)

__all__ = [
    "ATTRIBUTE_FIELDS",
    "ENTRY_ID_PATTERN",
    "ENTRY_VERSION",
    "MATCH_FIELDS",
    "MAX_YEAR",
    "MIN_YEAR",
    "PLATE_FIELD",
    "EntryLoad",
    "EntryProblem",
    "MatchField",
    "Priority",
    "Watchlist",
    "WatchlistEntry",
    "WatchlistError",
    "collect_entries",
    "dump_watchlist",
    "entry_error_message",
    "load_watchlist",
    "load_watchlist_lenient",
    "parse_entry",
    "parse_watchlist",
    "read_watchlist_yaml",
]
