"""DocumentStore on a real Redis: raw documents, one revision per change, notifications, refused and raced writes.

The watchlist entries built on it (tests/watchlists/test_store.py) cover validation and the change channel.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from redisbus.store import ConcurrentChangeError, DocumentExistsError, DocumentStore

KEY = "test:docs"


def store(client: redis.Redis) -> DocumentStore:
    return DocumentStore(client, KEY, f"{KEY}:changes")


def test_documents_and_revisions(redis_client: redis.Redis) -> None:
    docs = store(redis_client)
    assert (docs.revision(), docs.load().documents, docs.source) == (0, {}, "redis:test:docs")
    assert docs.put_many({}) == 0  # nothing to write: no revision
    assert docs.put_many({"b": '{"x": 1}', "a": "anything"}) == 1  # the store does not look inside
    assert docs.put_many({"b": '{"x": 2}'}) == 2
    snapshot = docs.load()
    assert snapshot.documents == {"a": b"anything", "b": b'{"x": 2}'}
    assert list(snapshot.documents) == ["a", "b"]  # sorted by id
    assert snapshot.revision == 2
    assert (docs.get("a"), docs.get("nope")) == (b"anything", None)
    assert docs.remove(["a", "nope", "a"]) == ["a"]
    assert docs.remove(["nope"]) == []
    assert docs.revision() == 3
    assert docs.clear() == 1
    assert (docs.load().documents, docs.revision()) == ({}, 4)
    assert redis_client.get(docs.revision_key) == b"4"


def test_add_refuses_an_existing_id_and_writes_nothing(redis_client: redis.Redis) -> None:
    docs = store(redis_client)
    docs.put_many({"a": "1"})
    with pytest.raises(DocumentExistsError, match="'a' already exists in redis:test:docs") as raised:
        docs.put_many({"new": "2", "a": "3"}, replace=False)
    assert raised.value.document_id == "a"
    assert (docs.load().documents, docs.revision()) == ({"a": b"1"}, 1)
    assert docs.put_many({"new": "2"}, replace=False) == 2


def test_a_hash_that_keeps_changing_is_reported(redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = store(redis_client)
    docs.put_many({"a": "1"})

    def raced(self: Any, raise_on_error: bool = True) -> list[Any]:
        raise redis.WatchError("the watched key changed")

    monkeypatch.setattr(redis.client.Pipeline, "execute", raced)
    with pytest.raises(ConcurrentChangeError, match="redis:test:docs: kept changing while adding 'b'"):
        docs.put_many({"b": "2"}, replace=False)
    with pytest.raises(ConcurrentChangeError, match="redis:test:docs: kept changing while removing"):
        docs.remove(["a"])
    monkeypatch.undo()
    assert docs.load().documents == {"a": b"1"}
