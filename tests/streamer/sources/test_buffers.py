"""Frame buffers: full policies, drop causes, shutdown of blocked puts, fair batches, no busy waiting."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from streamer.sources.buffers import DropCause, FrameBuffer, FrameBufferGroup, PutResult
from streamer.sources.frames import Frame
from streamer.sources.settings import FullPolicy

_IMAGE = np.zeros((2, 2, 3), np.uint8)


def _frame(camera_id: str, index: int) -> Frame:
    return Frame(camera_id, index, 0.0, index / 10, _IMAGE)


def _indices(frames: list[Frame]) -> list[int]:
    return [frame.index for frame in frames]


def _drain(buffer: FrameBuffer) -> list[Frame]:
    frames = []
    while (frame := buffer.pop()) is not None:
        frames.append(frame)
    return frames


@pytest.mark.parametrize(
    ("policy", "kept", "results"),
    [
        # capacity 2, five puts with no reader
        (
            "drop_oldest",
            [3, 4],
            [(True, None, None), (True, None, None), (True, 0, "full_drop_oldest"), (True, 1, "full_drop_oldest"),
             (True, 2, "full_drop_oldest")],
        ),
        (
            "drop_newest",
            [0, 1],
            [(True, None, None), (True, None, None), (False, 2, "full_drop_newest"), (False, 3, "full_drop_newest"),
             (False, 4, "full_drop_newest")],
        ),
        (
            "block",
            [0, 1],
            [(True, None, None), (True, None, None), (False, 2, "block_timeout"), (False, 3, "block_timeout"),
             (False, 4, "block_timeout")],
        ),
    ],
)  # fmt: skip
def test_full_policies(policy: FullPolicy, kept: list[int], results: list[tuple[bool, int | None, str | None]]) -> None:
    buffer = FrameBuffer(2, policy)
    outcomes = [buffer.put(_frame("a", i), timeout=0.01) for i in range(5)]
    got = [(r.accepted, r.dropped.index if r.dropped else None, r.cause) for r in outcomes]
    assert got == results
    assert _indices(_drain(buffer)) == kept
    expected_drops = {DropCause(cause): 3 for _, _, cause in results if cause}
    assert buffer.drops() == expected_drops


@pytest.mark.parametrize(
    ("capacity", "policy", "error"),
    [(1, "block", None), (0, "block", "capacity"), (2, "newest", "policy")],
)
def test_buffer_arguments(capacity: int, policy: FullPolicy, error: str | None) -> None:
    if error is None:
        FrameBuffer(capacity, policy)
    else:
        with pytest.raises(ValueError, match=error):
            FrameBuffer(capacity, policy)


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "block"])
def test_closed_buffer_refuses_frames_but_keeps_queued_ones(policy: FullPolicy) -> None:
    buffer = FrameBuffer(3, policy)
    buffer.put(_frame("a", 0))
    buffer.close()
    late = _frame("a", 1)
    assert buffer.put(late) == PutResult(accepted=False, dropped=late, cause=DropCause.CLOSED)
    assert not buffer.finished
    assert _indices(_drain(buffer)) == [0]
    assert buffer.finished
    assert buffer.drops() == {DropCause.CLOSED: 1}


def test_blocked_put_returns_when_closed() -> None:
    buffer = FrameBuffer(1, "block")
    buffer.put(_frame("a", 0))
    results: list[PutResult] = []
    putter = threading.Thread(target=lambda: results.append(buffer.put(_frame("a", 1))))
    putter.start()
    time.sleep(0.1)
    assert putter.is_alive(), "put on a full 'block' buffer must wait"
    buffer.close()
    putter.join(10.0)
    assert not putter.is_alive()
    assert results[0].cause is DropCause.CLOSED
    assert not results[0].accepted


def test_blocked_put_proceeds_when_room_is_made() -> None:
    buffer = FrameBuffer(1, "block")
    buffer.put(_frame("a", 0))
    results: list[PutResult] = []
    putter = threading.Thread(target=lambda: results.append(buffer.put(_frame("a", 1), timeout=5)))
    putter.start()
    time.sleep(0.05)
    assert _indices([f for f in [buffer.pop()] if f]) == [0]
    putter.join(1.0)
    assert results == [PutResult(accepted=True)]
    assert _indices(_drain(buffer)) == [1]


def _fill(group: FrameBufferGroup, counts: dict[str, int], policy: FullPolicy = "drop_newest") -> None:
    for camera_id, count in counts.items():
        buffer = group.buffers.get(camera_id) or group.add_buffer(camera_id, 100, policy)
        for i in range(count):
            buffer.put(_frame(camera_id, i))


@pytest.mark.parametrize(
    ("counts", "max_batch", "batches"),
    [
        # one fast file with many frames cannot starve the others: one frame per camera per round
        ({"file": 6, "live1": 1, "live2": 2}, 4, [["file0", "live10", "live20", "file1"], ["live21", "file2", "file3",
                                                                                            "file4"], ["file5"]]),
        ({"a": 2, "b": 2}, 1, [["a0"], ["b0"], ["a1"], ["b1"]]),
        ({"a": 3, "b": 0, "c": 1}, 8, [["a0", "c0", "a1", "a2"]]),
        ({"a": 1, "b": 1, "c": 1}, 2, [["a0", "b0"], ["c0"]]),
    ],
)  # fmt: skip
def test_collect_round_robin(counts: dict[str, int], max_batch: int, batches: list[list[str]]) -> None:
    group = FrameBufferGroup()
    _fill(group, counts)
    group.close()  # no more frames: collect returns what is there without waiting
    got = []
    while not group.finished:
        got.append([f"{f.camera_id}{f.index}" for f in group.collect(max_batch, max_wait_s=1.0)])
    assert got == batches
    assert group.collect(max_batch, max_wait_s=1.0) == []


def test_collect_waits_for_first_frame_then_fills_up_to_max_wait() -> None:
    group = FrameBufferGroup()
    a = group.add_buffer("a", 4, "drop_oldest")
    b = group.add_buffer("b", 4, "drop_oldest")

    def feed() -> None:
        time.sleep(0.1)
        a.put(_frame("a", 0))
        time.sleep(0.05)
        b.put(_frame("b", 0))

    feeder = threading.Thread(target=feed)
    started = time.monotonic()
    feeder.start()
    batch = group.collect(max_batch=2, max_wait_s=30.0)
    elapsed = time.monotonic() - started
    feeder.join()
    assert [f.camera_id for f in batch] == ["a", "b"]
    assert 0.1 <= elapsed < 15.0, "a full batch returns as soon as it is full, long before max_wait_s"

    a.put(_frame("a", 1))
    started = time.monotonic()
    batch = group.collect(max_batch=2, max_wait_s=0.2)
    elapsed = time.monotonic() - started
    assert _indices(batch) == [1]
    assert elapsed >= 0.2, "a partial batch waits max_wait_s for more frames"


def test_collect_timeout_and_no_busy_waiting() -> None:
    group = FrameBufferGroup()
    group.add_buffer("a", 4, "drop_oldest")
    cpu: list[float] = []
    results: list[list[Frame]] = []

    def collect() -> None:
        before = time.thread_time()
        results.append(group.collect(max_batch=4, max_wait_s=0.1, timeout=0.5))
        cpu.append(time.thread_time() - before)

    started = time.monotonic()
    collector = threading.Thread(target=collect)
    collector.start()
    collector.join(2.0)
    assert results == [[]]
    assert time.monotonic() - started >= 0.5
    assert cpu[0] < 0.05, f"waiting for frames used {cpu[0]:.3f} s of CPU: busy loop"


def test_collect_returns_when_cameras_finish() -> None:
    group = FrameBufferGroup()
    a = group.add_buffer("a", 4, "block")
    b = group.add_buffer("b", 4, "block")
    results: list[list[Frame]] = []
    collector = threading.Thread(target=lambda: results.append(group.collect(4, max_wait_s=5.0)))
    collector.start()
    a.put(_frame("a", 0))
    a.close()
    b.close()
    collector.join(2.0)
    assert not collector.is_alive(), "collect must not wait max_wait_s once every buffer is closed"
    assert _indices(results[0]) == [0]
    assert group.finished


def test_depths_and_duplicate_camera() -> None:
    group = FrameBufferGroup()
    _fill(group, {"a": 3, "b": 1})
    assert group.depths() == {"a": 3, "b": 1}
    assert not group.finished
    with pytest.raises(ValueError, match="'a' already has a frame buffer"):
        group.add_buffer("a", 2, "block")
    with pytest.raises(ValueError, match="max_batch"):
        group.collect(0, 0.1)


def test_drop_oldest_keeps_the_newest_frames() -> None:
    group = FrameBufferGroup()
    buffer = group.add_buffer("live", 2, "drop_oldest")
    results = [buffer.put(_frame("live", i)) for i in range(50)]
    assert all(r.accepted for r in results)
    assert sum(r.cause is DropCause.FULL_DROP_OLDEST for r in results) == 48
    assert _indices(group.collect(4, 0.0)) == [48, 49]
