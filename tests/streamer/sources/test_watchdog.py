"""The stall watchdog with scripted sources: a stalled read or a hung open is abandoned, back-pressure is not."""

from __future__ import annotations

import time

import pytest

from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.camera import CameraReader, CameraState
from streamer.sources.watchdog import CameraWatchdog
from tests.streamer.sources.support import RecordingObserver, ScriptedFactory, start_reader, wait_until

S = CameraState


def test_watchdog_restarts_a_stalled_camera(readers: list[CameraReader]) -> None:
    factory = ScriptedFactory(["frame", "frame", "frame", "block", "frame"], [])
    group = FrameBufferGroup()
    observer = RecordingObserver()
    reader = start_reader(
        readers,
        group,
        observer,
        id="stall",
        source="rtsp://cam/s",
        stall_timeout_s=0.3,
        backoff_initial_s=0.01,
        source_factory=factory,
    )
    watchdog = CameraWatchdog([reader], interval_s=0.05)
    watchdog.start()
    try:
        wait_until(lambda: factory.opened == 2 and reader.state is S.STREAMING, what="restart after the stall")
    finally:
        watchdog.stop()
    stats = reader.stats
    assert stats.restarts == 1
    assert watchdog.restarts == 1
    assert observer.of("reconnect") == ["stalled"]
    assert observer.of("state")[:5] == [S.CONNECTING, S.STREAMING, S.RECONNECTING, S.CONNECTING, S.STREAMING]
    assert stats.last_error is not None
    assert "stalled source" in stats.last_error
    stale = factory.sources[0]
    assert stale.released_by is None  # nobody touched the capture that was mid-read
    factory.unblock.set()  # the blocked read returns: the abandoned thread releases its own source and exits
    wait_until(lambda: stale.released_by is not None, what="stale release")
    assert stale.released_by == "camera-stall-1"
    assert stale.reads_started == 4  # it read nothing more after being abandoned
    frames = group.collect(max_batch=100, max_wait_s=0.0)
    assert all(f.position_s != pytest.approx(0.16) for f in frames)  # its late frame was not delivered


def test_watchdog_abandons_a_hung_open(readers: list[CameraReader]) -> None:
    factory = ScriptedFactory(["hang"], [])
    group = FrameBufferGroup()
    observer = RecordingObserver()
    reader = start_reader(
        readers,
        group,
        observer,
        id="hang",
        source="rtsp://cam/s",
        open_timeout_s=0.2,
        stall_timeout_s=0.2,  # an open may take open_timeout_s + stall_timeout_s
        backoff_initial_s=0.01,
        source_factory=factory,
    )
    watchdog = CameraWatchdog([reader], interval_s=0.05)
    started = time.monotonic()
    watchdog.start()
    try:
        wait_until(lambda: reader.state is S.STREAMING, what="streaming from the second connection")
    finally:
        watchdog.stop()
    assert time.monotonic() - started >= 0.4  # not before the stall timeout (the upper bound: wait_until's)
    assert observer.of("reconnect") == ["stalled"]
    assert observer.of("state")[:2] == [S.CONNECTING, S.RECONNECTING]
    factory.unblock.set()  # the hung open finally returns, to a thread that is no longer current
    hung = factory.sources[0]
    wait_until(lambda: hung.released_by is not None, what="release of the late source")
    assert hung.released_by == "camera-hang-1"
    assert hung.reads_started == 0


def test_backpressure_is_not_a_stall(readers: list[CameraReader]) -> None:
    factory = ScriptedFactory([])
    group = FrameBufferGroup()
    reader = start_reader(
        readers,
        group,
        id="slow",
        source="clip.mp4",  # an unpaced file: policy block
        buffer_size=1,
        stall_timeout_s=0.1,
        source_factory=factory,
    )
    watchdog = CameraWatchdog([reader], interval_s=0.02)
    watchdog.start()
    time.sleep(0.5)  # nobody consumes: the reader waits in put, not in the source
    watchdog.stop()
    assert reader.stats.restarts == 0
    assert reader.stats.frames_read == 2  # one in the buffer, one waiting for room
