"""A revisioned document store in Redis: shared state that every worker reads and operators change live.

Layout, for a store at ``key``:

* ``key`` — a hash: document id → the document (JSON text; this module never looks inside).
* ``key:revision`` — a counter, incremented with every change.
* ``channel`` — a pub/sub channel; each change publishes ``{"op": "put" | "remove", "ids": [...], "revision": n}``.

A change, its revision increment and its notification happen in one MULTI/EXEC transaction (the notification right
after EXEC, so it can carry the new revision). Readers reload the whole hash when notified, and also whenever the
revision differs from the one they loaded, so a notification lost while a reader was reconnecting only delays the
reload to its next poll.

What a document is, and whether a stored one is valid, belongs to the caller (:mod:`watchlists.store` for the
watchlist entries): validate before :meth:`DocumentStore.put_many`, and treat what :meth:`DocumentStore.load`
returns as untrusted, since anyone with access to Redis may write to the hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis

_WATCH_RETRIES = 10

Document = bytes | str
"""A stored document as Redis returns it (bytes from a client without ``decode_responses``)."""


class DocumentExistsError(ValueError):
    """``put_many(..., replace=False)`` found an id already stored; nothing was written."""

    def __init__(self, document_id: str, source: str) -> None:
        super().__init__(f"{document_id!r} already exists in {source}")
        self.document_id = document_id
        self.source = source


class ConcurrentChangeError(RuntimeError):
    """The hash kept changing during an optimistic (WATCH) transaction; nothing was written. Try again."""


@dataclass(frozen=True, slots=True)
class DocumentSnapshot:
    """Every stored document (id → raw value, sorted by id) and the revision read in the same transaction."""

    documents: dict[str, Document]
    revision: int


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class DocumentStore:
    """A Redis hash of JSON documents with a revision counter and a change channel.

    Args:
        client: the Redis client.
        key: the hash; the revision counter is ``<key>:revision``.
        channel: where each change is announced.

    Example:
        >>> store = DocumentStore(redis.Redis(), "cameras", "cameras:changes")  # doctest: +SKIP
        >>> store.put_many({"gate": '{"source": "rtsp://cam/1"}'})  # doctest: +SKIP
        1
    """

    def __init__(self, client: redis.Redis, key: str, channel: str) -> None:
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

    def put_many(self, documents: Mapping[str, str], *, replace: bool = True) -> int:
        """Stores documents in one transaction with one notification; returns the new revision (unchanged if none).

        Raises:
            DocumentExistsError: ``replace`` is False and one of the ids is already stored (nothing is written).
            ConcurrentChangeError: with ``replace`` False, the hash kept changing while checking the ids.
        """
        if not documents:
            return self.revision()
        ids = list(documents)
        values: dict[str | bytes, str | bytes] = {key: value for key, value in documents.items()}
        for _ in range(_WATCH_RETRIES):
            with self.client.pipeline() as pipeline:
                pipe: Any = pipeline  # redis-py's pipeline methods are partly untyped
                try:
                    if not replace:
                        pipe.watch(self.key)
                        taken = [document_id for document_id in ids if pipe.hexists(self.key, document_id)]
                        if taken:
                            raise DocumentExistsError(taken[0], self.source)
                        pipe.multi()
                    pipe.hset(self.key, mapping=values)
                    return self._commit(pipe, "put", ids)
                except redis.WatchError:
                    continue
        raise ConcurrentChangeError(f"{self.source}: kept changing while adding {ids[0]!r}")

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Removes documents by id; returns the ids that were stored (a notification only if any were).

        Raises:
            ConcurrentChangeError: the hash kept changing while removing.
        """
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        for _ in range(_WATCH_RETRIES):
            with self.client.pipeline() as pipeline:
                pipe: Any = pipeline
                try:
                    pipe.watch(self.key)
                    present = [document_id for document_id in wanted if pipe.hexists(self.key, document_id)]
                    if not present:
                        pipe.unwatch()
                        return []
                    pipe.multi()
                    pipe.hdel(self.key, *present)
                    self._commit(pipe, "remove", present)
                    return present
                except redis.WatchError:
                    continue
        raise ConcurrentChangeError(f"{self.source}: kept changing while removing")

    def get(self, document_id: str) -> Document | None:
        """The stored document, raw, or None."""
        raw: Document | None = cast(Any, self.client.hget(self.key, document_id))
        return raw

    def ids(self) -> list[str]:
        """The stored ids, in no particular order."""
        return [_text(k) for k in cast(list[Any], self.client.hkeys(self.key))]

    def load(self) -> DocumentSnapshot:
        """Every stored document, with the revision read in the same transaction."""
        with self.client.pipeline() as pipe:
            pipe.hgetall(self.key)
            pipe.get(self.revision_key)
            raw, revision = cast(tuple[dict[Any, Any], bytes | str | None], tuple(pipe.execute()))
        documents = dict(sorted((_text(k), v) for k, v in raw.items()))
        return DocumentSnapshot(documents, int(_text(revision)) if revision is not None else 0)

    def clear(self) -> int:
        """Removes every document (one notification); returns how many there were."""
        return len(self.remove(self.ids()))

    def _commit(self, pipe: Any, op: str, ids: list[str]) -> int:
        pipe.incr(self.revision_key)
        results = pipe.execute()
        revision = int(results[-1])
        # Published after EXEC so the message can carry the revision; a reader that misses it sees the revision.
        self.client.publish(self.channel, json.dumps({"op": op, "ids": ids, "revision": revision}))
        return revision
