"""Why a watchlist or one of its entries was refused: the error and the per-entry problem report.

Kept apart from the entry model and the file loaders so that every layer that refuses entries (files, Redis, the
description parser) raises and reports the same two types without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass


class WatchlistError(ValueError):
    """A watchlist that cannot be loaded; the message is one line naming the file, the entry and the key."""


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """An entry that was not loaded, and why (one line naming the source, the entry and the key)."""

    source: str
    index: int
    entry_id: str | None
    message: str

    def __str__(self) -> str:
        return self.message
