"""Watchlist entries kept in Redis, so that every worker matches the same list and operators change it live.

Storage, revision and change notification are :class:`redisbus.store.DocumentStore`'s (names from
:class:`~watchlists.settings.WatchlistSettings`):

* ``vehiclewatch:watchlist`` — a hash: entry id → the entry as JSON (:class:`WatchlistEntry`, with its ``version``).
* ``vehiclewatch:watchlist:revision`` — a counter, incremented with every change.
* ``vehiclewatch:watchlist:changes`` — a pub/sub channel; each change publishes
  ``{"op": "put" | "remove", "ids": [...], "revision": n}``.

This module makes those documents watchlist entries: entries are validated before they are written, and an invalid
value written by other means is reported when loading and never unloads the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis
from pydantic import ValidationError

from redisbus.store import ConcurrentChangeError, Document, DocumentExistsError, DocumentStore
from watchlists.entries import EntryProblem, WatchlistEntry, WatchlistError, entry_error_message
from watchlists.settings import DEFAULT_CHANGES_CHANNEL, DEFAULT_ENTRIES_KEY


class EntryExistsError(WatchlistError):
    """An entry with that id is already stored (use update, or replace=True)."""


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """The stored entries at one revision; ``problems`` names each stored value that is not a valid entry."""

    entries: tuple[WatchlistEntry, ...]
    problems: tuple[EntryProblem, ...]
    revision: int


class EntryStore:
    """The Redis-managed watchlist entries.

    Example:
        >>> store = EntryStore(redis.Redis())  # doctest: +SKIP
        >>> store.put(WatchlistEntry(id="amber-1", make="Toyota", color="white"))  # doctest: +SKIP
        1
    """

    def __init__(
        self, client: redis.Redis, key: str = DEFAULT_ENTRIES_KEY, channel: str = DEFAULT_CHANGES_CHANNEL
    ) -> None:
        self.documents = DocumentStore(client, key, channel)

    @property
    def client(self) -> redis.Redis:
        """The Redis client."""
        return self.documents.client

    @property
    def key(self) -> str:
        """The hash of the entries."""
        return self.documents.key

    @property
    def channel(self) -> str:
        """The channel announcing changes."""
        return self.documents.channel

    @property
    def revision_key(self) -> str:
        """The revision counter."""
        return self.documents.revision_key

    @property
    def source(self) -> str:
        """How the store is named in messages: ``redis:<hash key>``."""
        return self.documents.source

    def revision(self) -> int:
        """The current revision (0 before the first change)."""
        return self.documents.revision()

    def put(self, entry: WatchlistEntry, *, replace: bool = True) -> int:
        """Stores one entry; returns the new revision.

        Raises:
            EntryExistsError: ``replace`` is False and the id is already stored.
        """
        return self.put_many([entry], replace=replace)

    def put_many(self, entries: Sequence[WatchlistEntry], *, replace: bool = True) -> int:
        """Stores entries in one transaction with one notification; returns the new revision (unchanged if none).

        Raises:
            EntryExistsError: ``replace`` is False and one of the ids is already stored (nothing is written).
        """
        try:
            return self.documents.put_many({entry.id: entry.model_dump_json() for entry in entries}, replace=replace)
        except DocumentExistsError as exc:
            raise EntryExistsError(
                f"watchlist entry {exc.document_id!r} already exists in {self.source} (update it instead)"
            ) from None
        except ConcurrentChangeError:
            raise WatchlistError(
                f"{self.source}: the entries kept changing while adding {entries[0].id!r}; try again"
            ) from None

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Removes entries by id; returns the ids that were stored (a notification only if any were)."""
        try:
            return self.documents.remove(ids)
        except ConcurrentChangeError:
            raise WatchlistError(f"{self.source}: the entries kept changing while removing; try again") from None

    def get(self, entry_id: str) -> WatchlistEntry | None:
        """The stored entry, or None.

        Raises:
            WatchlistError: the stored value is not a valid entry.
        """
        raw = self.documents.get(entry_id)
        if raw is None:
            return None
        entry, problem = self._parse(entry_id, raw, 0)
        if entry is None:
            raise WatchlistError(str(problem))
        return entry

    def load(self) -> StoreSnapshot:
        """Every stored entry (sorted by id), with the revision read in the same transaction."""
        snapshot = self.documents.load()
        entries: list[WatchlistEntry] = []
        problems: list[EntryProblem] = []
        for index, (field, value) in enumerate(snapshot.documents.items()):
            entry, problem = self._parse(field, value, index)
            if entry is not None:
                entries.append(entry)
            if problem is not None:
                problems.append(problem)
        return StoreSnapshot(tuple(entries), tuple(problems), snapshot.revision)

    def clear(self) -> int:
        """Removes every entry (one notification); returns how many there were."""
        return len(self.remove(self.documents.ids()))

    def _parse(self, field: str, raw: Document, index: int) -> tuple[WatchlistEntry | None, EntryProblem | None]:
        name = f"{self.source}: entry {field!r}"
        try:
            entry = WatchlistEntry.model_validate_json(raw)
        except ValidationError as exc:
            return None, EntryProblem(self.source, index, field, f"{name}: {entry_error_message(exc)}")
        if entry.id != field:
            return None, EntryProblem(self.source, index, field, f"{name}: is stored under another id ({entry.id!r})")
        return entry, None
