"""StreamConsumer on a real Redis, with raw fields: pending until acknowledged, trimmed messages skipped.

The alert consumer built on it (tests/watchlists/test_consumer.py) covers group creation, XAUTOCLAIM, a consumer's
own pending messages after a restart and a Redis restart.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from redisbus.streams import StreamConsumer, StreamMessage

STREAM = "test:stream"


def pending(client: redis.Redis) -> int:
    return int(client.xpending(STREAM, "g")["pending"])


def first(reader: StreamConsumer, count: int) -> list[StreamMessage]:
    """The first ``count`` messages, unacknowledged (within 5 s: the read loop never runs forever)."""
    stop = threading.Event()
    timer = threading.Timer(5.0, stop.set)
    timer.start()
    got: list[StreamMessage] = []
    try:
        for message in reader.messages(stop):
            got.append(message)
            if len(got) == count:
                break
    finally:
        timer.cancel()
    return got


def test_messages_carry_raw_fields_and_stay_pending_until_acked(redis_client: redis.Redis) -> None:
    reader = StreamConsumer(redis_client, STREAM, "g", "c1", start_id="0", block_ms=50)
    ids = [redis_client.xadd(STREAM, {"n": str(i), "kind": "raw"}) for i in range(3)]
    got = first(reader, 3)
    assert [m.message_id.encode() for m in got] == ids
    assert [m.fields for m in got] == [{b"n": str(i).encode(), b"kind": b"raw"} for i in range(3)]
    assert pending(redis_client) == 3
    assert reader.ack(got[0].message_id)
    assert pending(redis_client) == 2


def test_pending_messages_trimmed_away_are_acked_and_skipped(redis_client: redis.Redis) -> None:
    reader = StreamConsumer(redis_client, STREAM, "g", "c1", start_id="0", block_ms=50)
    gone, kept = (redis_client.xadd(STREAM, {"n": str(i)}) for i in range(2))
    assert len(first(reader, 2)) == 2  # read, then the consumer "crashes" before acknowledging
    redis_client.xdel(STREAM, gone)
    again = StreamConsumer(redis_client, STREAM, "g", "c1", block_ms=50)  # the same name: its history first
    assert [m.message_id.encode() for m in first(again, 1)] == [kept]
    assert [entry["message_id"] for entry in redis_client.xpending_range(STREAM, "g", "-", "+", 10)] == [kept]


@pytest.mark.parametrize("bad", [{"block_ms": 0}, {"count": 0}, {"claim_idle_s": 0.0}])
def test_bad_arguments(redis_client: redis.Redis, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="block_ms and count must be >= 1, claim_idle_s > 0"):
        StreamConsumer(redis_client, STREAM, "g", **bad)
