"""RedisWriter on a real Redis: retries with backoff, a bug drops one item only, drain at close, a full queue."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
import redis

from redisbus.writer import RedisWriter, WriterClosedError
from tests.redisbus.support import TcpRedis, stream_fields, wait_for, xrange

STREAM = "test:writer"
FAST = {"retry_initial_s": 0.01, "retry_max_s": 0.05}

Write = Callable[[str], bytes]


def xadd(client: redis.Redis) -> Write:
    """One write: the item as one stream entry; returns its message id."""

    def write(item: str) -> bytes:
        return cast(bytes, client.xadd(STREAM, {"item": item}))

    return write


def make_writer(write: Write, max_pending: int = 100, **kwargs: Any) -> RedisWriter[str, bytes]:
    options: dict[str, Any] = {**FAST, **kwargs}
    return RedisWriter("test-writer", "item", write, lambda item: f"item {item}", max_pending, **options)


def written(client: redis.Redis) -> list[str]:
    return [fields[b"item"].decode() for fields in stream_fields(client, STREAM)]


def failing_first(write: Write, failures: dict[str, int], error: Callable[[], Exception]) -> tuple[Write, list[float]]:
    """``write``, but raising ``error()`` for the first ``failures[item]`` attempts of an item; and attempt times."""
    attempts: list[float] = []

    def flaky(item: str) -> bytes:
        attempts.append(time.monotonic())
        if failures.get(item, 0) > 0:
            failures[item] -= 1
            raise error()
        return write(item)

    return flaky, attempts


# retries ----------------------------------------------------------------------------------------------------------


def test_items_are_written_in_order_and_reported(redis_client: redis.Redis) -> None:
    seen: list[tuple[str, bytes, float]] = []
    writer = make_writer(xadd(redis_client), on_written=lambda item, result, s: seen.append((item, result, s)))
    writer.start()
    for item in "abc":
        assert writer.submit(item, timeout=0)
    assert writer.close(timeout=5) == 0
    assert written(redis_client) == ["a", "b", "c"]
    assert [item for item, _, _ in seen] == ["a", "b", "c"]
    assert [result for _, result, _ in seen] == [message_id for message_id, _ in xrange(redis_client, STREAM)]
    assert all(0 <= seconds < 5 for _, _, seconds in seen)
    assert (writer.written, writer.errors, writer.failed, writer.lost, writer.pending) == (3, 0, 0, 0, 0)


def test_a_failed_write_is_retried_with_backoff_until_it_succeeds(redis_client: redis.Redis) -> None:
    write, attempts = failing_first(xadd(redis_client), {"a": 3}, lambda: redis.ConnectionError("connection refused"))
    errors: list[Exception] = []
    writer = make_writer(write, retry_initial_s=0.02, retry_max_s=0.04, on_error=errors.append)
    assert writer.submit("a", timeout=0)
    assert writer.submit("b", timeout=0)  # waits behind "a": order is kept
    writer.start()
    assert writer.close(timeout=5) == 0
    assert written(redis_client) == ["a", "b"]
    assert (writer.written, writer.errors, writer.failed) == (2, 3, 0)
    assert [type(e) for e in errors] == [redis.ConnectionError] * 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts[:4])]
    # jittered in [delay / 2, delay], the delay doubling from 0.02 up to 0.04 (with a little slack for the clock)
    assert all(gap >= 0.95 * low for gap, low in zip(gaps, (0.01, 0.02, 0.02), strict=True)), gaps


def test_redis_briefly_unreachable_then_back(tcp_redis: TcpRedis) -> None:
    client = tcp_redis.client()
    errors: list[Exception] = []
    writer = make_writer(xadd(client), on_error=errors.append)
    writer.start()
    tcp_redis.stop()
    for item in ("x", "y", "z"):
        assert writer.submit(item, timeout=0)
    wait_for(lambda: len(errors) >= 2, timeout=3)  # it is retrying "x"
    assert writer.pending == 3
    tcp_redis.start()  # a fresh, empty server on the same port
    wait_for(lambda: writer.pending == 0, timeout=3)
    assert writer.close(timeout=2) == 0
    assert written(client) == ["x", "y", "z"]
    assert writer.written == 3
    assert writer.errors == len(errors) >= 2
    assert all(isinstance(e, redis.ConnectionError) for e in errors)
    client.close()


# a bug in one item ------------------------------------------------------------------------------------------------


def test_a_non_redis_error_drops_and_counts_that_item_only(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    write, attempts = failing_first(xadd(redis_client), {"poison": 1}, lambda: TypeError("a bug"))
    errors: list[Exception] = []
    writer = make_writer(write, on_error=errors.append)
    writer.start()
    assert writer.submit("a", timeout=0)
    assert writer.submit("poison", timeout=0)
    wait_for(lambda: writer.failed == 1, timeout=3)
    assert writer.submit("b", timeout=0)  # after the bug: the thread lives on
    wait_for(lambda: writer.written == 2, timeout=3)
    assert writer.close(timeout=2) == 0
    assert written(redis_client) == ["a", "b"]
    assert len(attempts) == 3  # no retry of the poisoned item
    assert (writer.written, writer.errors, writer.failed, writer.lost) == (2, 0, 1, 0)
    assert [type(e) for e in errors] == [TypeError]
    assert "test-writer: item poison cannot be written and is dropped" in caplog.text


def test_callback_failures_do_not_stop_the_writer(redis_client: redis.Redis) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("metrics broke")

    write, _ = failing_first(xadd(redis_client), {"a": 1}, lambda: redis.TimeoutError("slow"))
    writer = make_writer(write, on_written=broken, on_error=broken)
    writer.start()
    for item in "abc":
        writer.submit(item, timeout=0)
    assert writer.close(timeout=5) == 0
    assert written(redis_client) == ["a", "b", "c"]


# close ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("started", [True, False])
def test_close_drains_everything_queued_before_it(redis_client: redis.Redis, started: bool) -> None:
    def slow(item: str) -> bytes:
        time.sleep(0.002)
        return xadd(redis_client)(item)

    writer = make_writer(slow)
    if started:
        writer.start()
    items = [str(i) for i in range(50)]
    for item in items:
        assert writer.submit(item, timeout=0)
    assert writer.close(timeout=5) == 0
    assert written(redis_client) == items
    assert (writer.written, writer.pending, writer.lost) == (50, 0, 0)


def test_close_gives_up_after_its_timeout_and_counts_the_loss(caplog: pytest.LogCaptureFixture) -> None:
    def unreachable(item: str) -> bytes:
        raise redis.ConnectionError("connection refused")

    writer = make_writer(unreachable)
    writer.start()
    for item in "abcdef":
        writer.submit(item, timeout=0)
    started = time.monotonic()
    assert writer.close(timeout=0.2) == 6
    assert time.monotonic() - started < 10  # gave up, instead of retrying for ever (0.2 s expected)
    assert (writer.written, writer.lost, writer.pending) == (0, 6, 0)
    assert "test-writer closing: 6 item(s) could not be written to Redis and are lost: item a, item b" in caplog.text


def test_submit_and_start_after_close_are_refused(redis_client: redis.Redis) -> None:
    writer = make_writer(xadd(redis_client))
    writer.start()
    assert writer.close(timeout=1) == 0
    with pytest.raises(WriterClosedError, match="test-writer is closed"):
        writer.submit("late", timeout=0)
    with pytest.raises(WriterClosedError):
        writer.start()
    assert writer.close(timeout=1) == 0  # a second close is harmless


# a full queue -----------------------------------------------------------------------------------------------------


def test_full_queue_without_timeout_refuses_at_once(redis_client: redis.Redis) -> None:
    writer = make_writer(xadd(redis_client), max_pending=2)  # not started: nothing leaves the queue
    assert writer.submit("a", timeout=0)
    assert writer.submit("b", timeout=0)
    started = time.monotonic()
    assert not writer.submit("c", timeout=0)
    assert time.monotonic() - started < 5  # did not wait for room that nothing would ever make
    assert writer.pending == 2
    assert writer.close(timeout=5) == 0  # the refused item was never the writer's to lose
    assert written(redis_client) == ["a", "b"]


def test_full_queue_waits_its_timeout_then_refuses(redis_client: redis.Redis) -> None:
    writer = make_writer(xadd(redis_client), max_pending=1)
    assert writer.submit("a", timeout=0)
    started = time.monotonic()
    assert not writer.submit("b", timeout=0.1)
    assert time.monotonic() - started >= 0.1
    assert writer.close(timeout=5) == 0
    assert written(redis_client) == ["a"]


def test_full_queue_accepts_when_room_appears_within_the_timeout(redis_client: redis.Redis) -> None:
    writer = make_writer(xadd(redis_client), max_pending=1)
    assert writer.submit("a", timeout=0)
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(writer.submit("b", timeout=3)))
    thread.start()
    wait_for(lambda: writer._submitting == 1, timeout=2)  # blocked in submit(), waiting for room
    writer.start()  # "a" leaves the queue: "b" gets in
    thread.join(timeout=3)
    assert results == [True]
    assert writer.close(timeout=5) == 0
    assert written(redis_client) == ["a", "b"]
