"""Why a watchlist or one of its entries was refused: the error and the per-entry problem report.

Kept apart from the entry model and the file loaders so that every layer that refuses entries (files, Redis, the
description parser) raises and reports the same two types without importing the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EntryProblem:
    """An entry that was not loaded, and why (one line naming the source, the entry and the key)."""

    source: str
    index: int
    entry_id: str | None
    message: str

    def __str__(self) -> str:
        return self.message

    @property
    def detail(self) -> str:
        """The message without its source (for a listing under a summary that names the source once)."""
        return self.message.removeprefix(f"{self.source}: ")


class WatchlistError(ValueError):
    """A watchlist that cannot be loaded.

    The first line of the message says what and where (the file, the entry with its index and id, the key and the
    reason). When several entries are invalid, that line is a summary and :attr:`details` (the lines after it) list
    every one, so a watchlist with five mistakes is fixed in one pass instead of five start attempts.

    Example:
        >>> problems = [EntryProblem("w.yaml", i, None, f"w.yaml: entry {i}: id: Field required") for i in (0, 2)]
        >>> print(WatchlistError.invalid_entries("w.yaml", problems, total=3))
        w.yaml: 2 of 3 entries are invalid:
          entry 0: id: Field required
          entry 2: id: Field required
    """

    def __init__(self, message: str, problems: Sequence[EntryProblem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)
        """The invalid entries this error is about (empty when the file as a whole is unusable)."""

    @property
    def summary(self) -> str:
        """The first line of the message."""
        return str(self).split("\n", 1)[0]

    @property
    def details(self) -> tuple[str, ...]:
        """The lines after the summary: one per invalid entry when there are several, else none."""
        return tuple(str(self).split("\n")[1:])

    @classmethod
    def invalid_entries(cls, source: str, problems: Sequence[EntryProblem], total: int) -> WatchlistError:
        """The error for ``problems`` among ``total`` entries of ``source``: the problem's own line when there is
        one, else a one-line summary followed by an indented line for each (its index, id, key and reason)."""
        if not problems:
            raise ValueError("invalid_entries needs at least one problem")
        if len(problems) == 1:
            return cls(problems[0].message, problems)
        listing = "\n".join(f"  {problem.detail}" for problem in problems)
        return cls(f"{source}: {len(problems)} of {total} entries are invalid:\n{listing}", problems)
