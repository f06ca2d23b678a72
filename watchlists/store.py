"""Watchlist entries kept in Redis, so that every worker matches the same list and operators change it live.

Layout (names from :class:`~watchlists.settings.WatchlistSettings`):

* ``vehiclewatch:watchlist`` — a hash: entry id → the entry as JSON (:class:`WatchlistEntry`, with its ``version``).
* ``vehiclewatch:watchlist:revision`` — a counter, incremented with every change.
* ``vehiclewatch:watchlist:changes`` — a pub/sub channel; each change publishes
  ``{"op": "put" | "remove", "ids": [...], "revision": n}``.

A change, its revision increment and its notification happen in one MULTI/EXEC transaction. Workers reload the whole
hash when notified, and also whenever the revision differs from the one they loaded (so a notification lost while a
worker was reconnecting only delays the reload to its next poll). Entries are validated before they are written;
an invalid value written by other means is reported when loading and never unloads the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis
from pydantic import ValidationError

from watchlists.entries import EntryProblem, WatchlistEntry, WatchlistError, entry_error_message

DEFAULT_ENTRIES_KEY = "vehiclewatch:watchlist"
DEFAULT_CHANGES_CHANNEL = "vehiclewatch:watchlist:changes"
_WATCH_RETRIES = 10


class EntryExistsError(WatchlistError):
    """An entry with that id is already stored (use update, or replace=True)."""


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """The stored entries at one revision; ``problems`` names each stored value that is not a valid entry."""

    entries: tuple[WatchlistEntry, ...]
    problems: tuple[EntryProblem, ...]
    revision: int


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


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
        self.client = client
        self.key = key
        self.channel = channel
        self.revision_key = f"{key}:revision"

    @property
    def source(self) -> str:
        """How the store is named in messages: ``redis:<hash key>``."""
        return f"redis:{self.key}"

    def revision(self) -> int:
        """The current revision (0 before the first change)."""
        value: bytes | str | None = cast(Any, self.client.get(self.revision_key))
        return int(_text(value)) if value is not None else 0

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
        if not entries:
            return self.revision()
        ids = [entry.id for entry in entries]
        values: dict[str | bytes, str | bytes] = {entry.id: entry.model_dump_json() for entry in entries}
        for _ in range(_WATCH_RETRIES):
            with self.client.pipeline() as pipeline:
                pipe: Any = pipeline  # redis-py's pipeline methods are partly untyped
                try:
                    if not replace:
                        pipe.watch(self.key)
                        taken = [entry_id for entry_id in ids if pipe.hexists(self.key, entry_id)]
                        if taken:
                            raise EntryExistsError(
                                f"watchlist entry {taken[0]!r} already exists in {self.source} (update it instead)"
                            )
                        pipe.multi()
                    pipe.hset(self.key, mapping=values)
                    return self._commit(pipe, "put", ids)
                except redis.WatchError:
                    continue
        raise WatchlistError(f"{self.source}: the entries kept changing while adding {ids[0]!r}; try again")

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Removes entries by id; returns the ids that were stored (a notification only if any were)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        for _ in range(_WATCH_RETRIES):
            with self.client.pipeline() as pipeline:
                pipe: Any = pipeline
                try:
                    pipe.watch(self.key)
                    present = [entry_id for entry_id in wanted if pipe.hexists(self.key, entry_id)]
                    if not present:
                        pipe.unwatch()
                        return []
                    pipe.multi()
                    pipe.hdel(self.key, *present)
                    self._commit(pipe, "remove", present)
                    return present
                except redis.WatchError:
                    continue
        raise WatchlistError(f"{self.source}: the entries kept changing while removing; try again")

    def get(self, entry_id: str) -> WatchlistEntry | None:
        """The stored entry, or None.

        Raises:
            WatchlistError: the stored value is not a valid entry.
        """
        raw: bytes | str | None = cast(Any, self.client.hget(self.key, entry_id))
        if raw is None:
            return None
        entry, problem = self._parse(entry_id, raw, 0)
        if entry is None:
            raise WatchlistError(str(problem))
        return entry

    def load(self) -> StoreSnapshot:
        """Every stored entry (sorted by id), with the revision read in the same transaction."""
        with self.client.pipeline() as pipe:
            pipe.hgetall(self.key)
            pipe.get(self.revision_key)
            raw, revision = cast(tuple[dict[Any, Any], bytes | str | None], tuple(pipe.execute()))
        entries: list[WatchlistEntry] = []
        problems: list[EntryProblem] = []
        for index, (field, value) in enumerate(sorted((_text(k), v) for k, v in raw.items())):
            entry, problem = self._parse(field, value, index)
            if entry is not None:
                entries.append(entry)
            if problem is not None:
                problems.append(problem)
        return StoreSnapshot(tuple(entries), tuple(problems), int(_text(revision)) if revision is not None else 0)

    def clear(self) -> int:
        """Removes every entry (one notification); returns how many there were."""
        return len(self.remove(_text(k) for k in cast(list[Any], self.client.hkeys(self.key))))

    def _commit(self, pipe: Any, op: str, ids: list[str]) -> int:
        pipe.incr(self.revision_key)
        results = pipe.execute()
        revision = int(results[-1])
        # Published after EXEC so the message can carry the revision; a reader that misses it sees the revision.
        self.client.publish(self.channel, json.dumps({"op": op, "ids": ids, "revision": revision}))
        return revision

    def _parse(self, field: str, raw: bytes | str, index: int) -> tuple[WatchlistEntry | None, EntryProblem | None]:
        name = f"{self.source}: entry {field!r}"
        try:
            entry = WatchlistEntry.model_validate_json(raw)
        except ValidationError as exc:
            return None, EntryProblem(self.source, index, field, f"{name}: {entry_error_message(exc)}")
        if entry.id != field:
            return None, EntryProblem(self.source, index, field, f"{name}: is stored under another id ({entry.id!r})")
        return entry, None
