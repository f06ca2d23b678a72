"""The reference consumer on a real Redis: group pattern, ack after handling, take-over of a dead consumer's
alerts, de-duplication, unreadable messages skipped."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from tests.watchlists.support import make_alert
from watchlists.reference_consumer import STREAM, consume


def add(client: redis.Redis, payload: str) -> None:
    client.xadd(STREAM, {"alert": payload})


def pending(client: redis.Redis, group: str) -> int:
    info: Any = client.xpending(STREAM, group)
    return int(info["pending"])


def test_reads_acks_dedupes_and_skips_unreadable(redis_client: redis.Redis) -> None:
    consume(redis_client, lambda a: None, group="g", consumer="c1", block_ms=10, max_messages=0)  # creates the group
    first = make_alert("first")
    add(redis_client, first.to_json())
    add(redis_client, first.to_json())  # a retried publish: same alert id
    add(redis_client, "not json")
    add(redis_client, json.dumps({"schema_version": 99, "alert_id": "x"}))
    add(redis_client, make_alert("second").to_json())
    seen: list[str] = []
    handled = consume(redis_client, lambda a: seen.append(a["entry"]["id"]), group="g", consumer="c1", max_messages=2)
    assert (handled, seen) == (2, ["first", "second"])
    assert pending(redis_client, "g") == 0


def test_takes_over_a_dead_consumers_alerts_and_retries_a_failed_handler(redis_client: redis.Redis) -> None:
    consume(redis_client, lambda a: None, group="g", consumer="dead", block_ms=10, max_messages=0)
    add(redis_client, make_alert("stuck").to_json())
    redis_client.xreadgroup("g", "dead", {STREAM: ">"})  # read, then the consumer died before XACK
    assert pending(redis_client, "g") == 1

    seen: list[str] = []
    consume(
        redis_client,
        lambda a: seen.append(a["entry"]["id"]),
        group="g",
        consumer="alive",
        claim_idle_ms=1,
        max_messages=1,
    )
    assert seen == ["stuck"]
    assert pending(redis_client, "g") == 0

    add(redis_client, make_alert("flaky").to_json())
    calls: list[str] = []

    def flaky(alert: dict[str, Any]) -> None:
        calls.append(alert["entry"]["id"])
        if len(calls) == 1:
            raise RuntimeError("handler bug")

    consume(redis_client, flaky, group="g", consumer="alive", claim_idle_ms=1, block_ms=10, max_messages=1)
    assert calls == ["flaky", "flaky"]  # left pending after the failure, then claimed again and handled
    assert pending(redis_client, "g") == 0


def test_an_alert_object_round_trips_through_the_consumer(redis_client: redis.Redis) -> None:
    consume(redis_client, lambda a: None, group="g", block_ms=10, max_messages=0)
    alert = make_alert("x")
    add(redis_client, alert.to_json())
    got: list[dict[str, Any]] = []
    consume(redis_client, got.append, group="g", max_messages=1)
    assert got == [json.loads(alert.to_json())]


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_known_schema_versions(redis_client: redis.Redis, version: int) -> None:
    consume(redis_client, lambda a: None, group="g", block_ms=10, max_messages=0)
    add(redis_client, json.dumps(json.loads(make_alert("v").to_json()) | {"schema_version": version}))
    got: list[dict[str, Any]] = []
    consume(redis_client, got.append, group="g", max_messages=1)
    assert got[0]["schema_version"] == version
