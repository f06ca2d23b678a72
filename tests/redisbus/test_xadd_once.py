"""The idempotent stream write: once per id, all or nothing, and a failed write leaves nothing that blocks its retry."""

from __future__ import annotations

import pytest
import redis

from redisbus.xadd_once import Snapshot, seen_key, xadd_once
from tests.redisbus.support import stream_fields

STREAM = "test:once"


def write(
    client: redis.Redis, record_id: str, snapshot: Snapshot | None = None, channel: str | None = None, message: str = ""
) -> bool:
    return xadd_once(
        client,
        stream=STREAM,
        record_id=record_id,
        fields={"id": record_id},
        maxlen=1000,
        dedup_ttl_s=600,
        snapshot=snapshot,
        channel=channel,
        message=message,
    )


def test_a_record_is_written_once_with_its_snapshot_and_message(redis_client: redis.Redis) -> None:
    pubsub = redis_client.pubsub()
    pubsub.subscribe("test:channel")
    assert pubsub.get_message(timeout=2) is not None  # the subscribe confirmation
    snapshot = Snapshot("test:snap:1", b"\xff\xd8jpeg", ttl_s=300)
    assert write(redis_client, "r1", snapshot=snapshot, channel="test:channel", message="hello")
    assert not write(redis_client, "r1", snapshot=snapshot, channel="test:channel", message="hello")  # a replay
    assert write(redis_client, "r2")
    assert stream_fields(redis_client, STREAM) == [{b"id": b"r1"}, {b"id": b"r2"}]
    assert redis_client.get("test:snap:1") == b"\xff\xd8jpeg"
    assert 290 <= redis_client.ttl("test:snap:1") <= 300
    assert 590 <= redis_client.ttl(seen_key(STREAM, "r1")) <= 600
    message = pubsub.get_message(timeout=2, ignore_subscribe_messages=True)
    assert message is not None
    assert message["data"] == b"hello"
    assert pubsub.get_message(timeout=0.2, ignore_subscribe_messages=True) is None  # the replay published nothing
    pubsub.close()


def test_a_write_that_fails_leaves_no_mark_so_its_retry_writes(redis_client: redis.Redis) -> None:
    redis_client.set(STREAM, "not a stream")  # XADD fails: WRONGTYPE
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        write(redis_client, "r1")
    assert not redis_client.exists(seen_key(STREAM, "r1"))
    redis_client.delete(STREAM)
    assert write(redis_client, "r1")
    assert len(stream_fields(redis_client, STREAM)) == 1
