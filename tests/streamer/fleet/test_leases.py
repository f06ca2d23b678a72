"""Leases and worker registrations on a real Redis: exclusive, fenced, renewed by their holder only, expiring."""

from __future__ import annotations

import time

import pytest
import redis

from streamer.fleet.leases import LeaseTable, WorkerIdInUseError
from streamer.fleet.settings import FleetSettings, ShardSettings
from streamer.fleet.worker import shard_of

PREFIX = "test:fleet"


def test_claim_is_exclusive_and_tokens_grow(redis_client: redis.Redis) -> None:
    a = LeaseTable(redis_client, PREFIX, "a", ttl_s=0.5)
    b = LeaseTable(redis_client, PREFIX, "b", ttl_s=0.5)
    first = a.claim("cam")
    assert first is not None
    assert first.token == 1
    assert not first.took_over
    assert b.claim("cam") is None
    assert not b.renew(first.__class__("cam", "b", b.instance, first.token))  # not b's lease
    assert a.renew(first)
    assert a.owners(["cam", "other"])["cam"].worker_id == "a"
    # a dies: its lease lapses, and b takes over with a larger token
    time.sleep(0.6)
    second = b.claim("cam")
    assert second is not None
    assert second.token == 2
    assert second.took_over
    assert not a.renew(first)  # a's late renewal finds b's lease: refused
    assert b.release(second)
    third = a.claim("cam")
    assert third is not None
    assert third.token == 3
    assert not third.took_over  # a hand-over, not a take-over


def test_same_worker_id_twice_is_refused(redis_client: redis.Redis) -> None:
    first = LeaseTable(redis_client, PREFIX, "w1", ttl_s=1.0)
    first.register_at_start(capacity=4, wait_s=0)
    second = LeaseTable(redis_client, PREFIX, "w1", ttl_s=1.0)
    with pytest.raises(WorkerIdInUseError, match="'w1' is already used by a running worker"):
        second.register_at_start(capacity=4, wait_s=0.3)
    assert [w.worker_id for w in second.workers()] == ["w1"]
    # the first one dies without unregistering: the id is free again within one TTL
    second.register_at_start(capacity=4, wait_s=1.5)
    assert not first.register(4, 0)  # and the old process cannot take it back


def test_shards_follow_the_ordinal() -> None:
    settings = FleetSettings(worker_id="vehiclewatch-2", shard=ShardSettings(count=3))
    assert settings.shard.resolved_index(settings.worker_id) == 2
    with pytest.raises(ValueError, match="ends in no ordinal"):
        ShardSettings(count=3).resolved_index("worker")
    spread = {shard_of(f"cam{i}", 3) for i in range(30)}
    assert spread == {0, 1, 2}
    assert shard_of("cam1", 3) == shard_of("cam1", 3)
