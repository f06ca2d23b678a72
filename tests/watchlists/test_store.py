"""Redis-managed entries on a real Redis: one transaction per change, a revision, a notification, bad values."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import redis

from tests.redisbus.support import wait_for
from watchlists.entries import WatchlistEntry, WatchlistError
from watchlists.store import EntryExistsError, EntryStore


def entry(entry_id: str, **fields: Any) -> WatchlistEntry:
    return WatchlistEntry.model_validate({"id": entry_id, "color": "red", **fields})


def test_put_get_load_remove(redis_client: redis.Redis) -> None:
    store = EntryStore(redis_client)
    assert (store.revision(), store.load().entries) == (0, ())
    assert store.put(entry("b", priority="high")) == 1
    assert store.put_many([entry("a"), entry("c", plate="7xk")]) == 2
    snapshot = store.load()
    assert [e.id for e in snapshot.entries] == ["a", "b", "c"]  # sorted by id
    assert (snapshot.revision, snapshot.problems) == (2, ())
    assert store.get("c") == entry("c", plate="7XK")
    assert store.get("nope") is None
    assert store.remove(["a", "nope", "a"]) == ["a"]
    assert store.remove(["nope"]) == []  # nothing stored: no revision, no notification
    assert store.revision() == 3
    assert store.clear() == 2
    assert store.load().entries == ()


def test_add_refuses_an_existing_id_and_writes_nothing(redis_client: redis.Redis) -> None:
    store = EntryStore(redis_client)
    store.put(entry("a"))
    with pytest.raises(EntryExistsError, match=r"watchlist entry 'a' already exists in redis:vehiclewatch:watchlist"):
        store.put_many([entry("new"), entry("a", color="blue")], replace=False)
    assert [e.id for e in store.load().entries] == ["a"]
    assert store.revision() == 1
    store.put(entry("a", color="blue"), replace=True)
    assert store.get("a") == entry("a", color="blue")


def test_every_change_is_announced(redis_client: redis.Redis) -> None:
    store = EntryStore(redis_client, key="wl", channel="wl:changes")
    client: Any = redis_client  # redis-py's pubsub() is untyped
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("wl:changes")
    messages: list[dict[str, Any]] = []
    done = threading.Event()

    def listen() -> None:
        while len(messages) < 2:
            message = pubsub.get_message(timeout=0.2)
            if message is not None:
                messages.append(json.loads(message["data"]))
        done.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    wait_for(lambda: bool(redis_client.pubsub_numsub("wl:changes")[0][1]))
    store.put_many([entry("a"), entry("b")])
    store.remove(["b"])
    assert done.wait(5)
    assert messages == [{"op": "put", "ids": ["a", "b"], "revision": 1}, {"op": "remove", "ids": ["b"], "revision": 2}]
    pubsub.close()


def test_invalid_stored_values_are_reported_never_unload_the_others(redis_client: redis.Redis) -> None:
    store = EntryStore(redis_client)
    store.put(entry("good"))
    redis_client.hset(store.key, "broken", "{not json")
    redis_client.hset(store.key, "no-attr", json.dumps({"id": "no-attr"}))
    redis_client.hset(store.key, "moved", entry("elsewhere").model_dump_json())
    snapshot = store.load()
    assert [e.id for e in snapshot.entries] == ["good"]
    assert {p.entry_id: p.message for p in snapshot.problems} == {
        "broken": "redis:vehiclewatch:watchlist: entry 'broken': Invalid JSON: key must be a string at line 1 column 2",
        "moved": "redis:vehiclewatch:watchlist: entry 'moved': is stored under another id ('elsewhere')",
        "no-attr": "redis:vehiclewatch:watchlist: entry 'no-attr': names no attribute to match: give at least one of "
        "make, model, color, body_type, year, plate",
    }
    with pytest.raises(WatchlistError, match="entry 'moved': is stored under another id"):
        store.get("moved")
