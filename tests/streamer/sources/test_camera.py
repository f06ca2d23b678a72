"""Camera readers: decimation, backoff, real files, reconnects, scripted failures and shutdown.

The state machine is tested in test_camera_state.py, the stall watchdog in test_watchdog.py.
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path

import pytest

from streamer.sources.buffers import DropCause, FrameBuffer, FrameBufferGroup
from streamer.sources.camera import CameraReader, CameraState, FrameDecimator, backoff_delay
from streamer.sources.frames import Frame
from streamer.sources.settings import CameraSettings
from tests.conftest import shared_path
from tests.rtsp_server import free_port
from tests.streamer.sources.support import SECRET, RecordingObserver, ScriptedFactory, start_reader, wait_until
from tests.streamer.synthetic_video import frame_number, write_video

S = CameraState


# -- pure logic ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fps", "positions", "accepted"),
    [
        (None, [0.0, 0.01, 0.02], [0, 1, 2]),
        (5.0, [i / 20 for i in range(10)], [0, 4, 8]),
        (7.0, [i / 20 for i in range(10)], [0, 3, 6, 9]),
        (20.0, [i / 20 for i in range(10)], list(range(10))),
        (100.0, [i / 20 for i in range(10)], list(range(10))),
        (10.0, [0.1, 0.15000000000000002, 0.19999999999, 0.2, 0.25, 0.3], [0, 2, 5]),  # float noise at boundaries
        (2.0, [0.0, 0.3, 0.6, 0.9, 0.0, 0.3, 0.6], [0, 2, 4, 6]),  # a looping file starts afresh
        (1.0, [5.0, 5.5, 7.2, 7.9, 8.0], [0, 2, 4]),  # live: skipped slots do not matter
    ],
)
def test_decimator(fps: float | None, positions: list[float], accepted: list[int]) -> None:
    decimator = FrameDecimator(fps)
    assert [i for i, position in enumerate(positions) if decimator.accept(position)] == accepted


def test_decimator_rejects_bad_fps() -> None:
    with pytest.raises(ValueError, match="detect_fps must be positive"):
        FrameDecimator(0.0)


@pytest.mark.parametrize(("attempt", "cap"), [(0, 0.5), (1, 1.0), (3, 4.0), (6, 30.0), (10_000, 30.0)])
def test_backoff_full_jitter(attempt: int, cap: float) -> None:
    rng = random.Random(7)
    delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(2000)]
    assert min(delays) >= 0.0
    assert max(delays) <= cap
    assert max(delays) > 0.9 * cap  # full jitter covers the whole range
    assert sum(delays) / len(delays) == pytest.approx(cap / 2, rel=0.1)


# -- helpers ------------------------------------------------------------------------------------------------------


def collect_all(group: FrameBufferGroup, timeout: float = 20.0) -> list[Frame]:
    """Drains a group until every buffer is closed and empty."""
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    while not group.finished:
        assert time.monotonic() < deadline, "buffers never finished"
        frames += group.collect(max_batch=8, max_wait_s=0.01, timeout=0.5)
    return frames


# -- real files -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detect_fps", "numbers"),
    [(None, list(range(10))), (5.0, [0, 4, 8]), (7.0, [0, 3, 6, 9]), (40.0, list(range(10)))],
)
def test_file_is_read_to_the_end(
    tmp_path: Path, readers: list[CameraReader], detect_fps: float | None, numbers: list[int]
) -> None:
    video = write_video(tmp_path / "v.avi", frames=10, fps=20.0)
    group = FrameBufferGroup()
    observer = RecordingObserver()
    reader = start_reader(readers, group, observer, id="file", source=str(video), detect_fps=detect_fps, buffer_size=2)
    frames = collect_all(group)  # buffer of 2 with policy block: the reader waits for this consumer, losing nothing
    assert [frame_number(f.image) for f in frames] == numbers
    assert [f.index for f in frames] == numbers
    assert all(f.camera_id == "file" for f in frames)
    wait_until(lambda: reader.state is S.STOPPED, what="stopped")
    stats = reader.stats
    assert (stats.state, stats.state_reason) == (S.STOPPED, "ended")
    assert (stats.frames_read, stats.frames_sent, stats.frames_skipped, stats.frames_dropped) == (
        10,
        len(numbers),
        10 - len(numbers),
        0,
    )
    assert stats.restarts == 0
    assert stats.last_error is None
    assert stats.last_frame_at is not None
    assert observer.of("state") == [S.CONNECTING, S.STREAMING, S.STOPPED]
    assert len(observer.of("read")) == 10
    assert len(observer.of("skipped")) == 10 - len(numbers)
    assert reader.stop(timeout=1.0)


@pytest.mark.shared
def test_real_video_detect_fps_decimation(readers: list[CameraReader]) -> None:
    path = shared_path("videos/abhishek_highway.mp4")  # 341 frames at 29.97 fps: 11.38 s
    group = FrameBufferGroup()
    reader = start_reader(readers, group, id="highway", source=str(path), detect_fps=10.0)
    frames = collect_all(group)
    # one frame per 0.1 s slot of file time: slots 0..113
    assert [math.floor(f.position_s * 10 + 1e-6) for f in frames] == list(range(114))
    assert all(f.image.shape == (360, 640, 3) for f in frames)
    stats = reader.stats
    assert (stats.frames_read, stats.frames_sent, stats.frames_skipped) == (341, 114, 227)
    assert stats.state_reason == "ended"


def test_looping_file_keeps_going(tmp_path: Path, readers: list[CameraReader]) -> None:
    video = write_video(tmp_path / "v.avi", frames=10, fps=20.0)
    group = FrameBufferGroup()
    reader = start_reader(readers, group, id="loop", source=str(video), loop=True, buffer_size=64)
    frames: list[Frame] = []
    while len(frames) < 25:
        frames += group.collect(max_batch=8, max_wait_s=0.01, timeout=2.0)
    assert reader.stop(timeout=1.0)
    assert [frame_number(f.image) for f in frames[:25]] == [i % 10 for i in range(25)]
    assert reader.stats.state_reason == "stopped"
    assert reader.buffer.closed


def test_undecodable_file_stops_the_camera(tmp_path: Path, readers: list[CameraReader]) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00" * 1000)
    group = FrameBufferGroup()
    reader = start_reader(readers, group, id="broken", source=str(path))
    wait_until(lambda: reader.state is S.STOPPED, what="stopped")
    assert reader.stats.state_reason.startswith("failed: camera 'broken': cannot decode video file")
    assert reader.stats.restarts == 0
    assert group.finished


# -- reconnects -----------------------------------------------------------------------------------------------------


def test_dead_rtsp_camera_reconnects_in_background_while_another_streams(
    tmp_path: Path, readers: list[CameraReader], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    video = write_video(tmp_path / "v.avi", frames=10, fps=20.0)
    group = FrameBufferGroup()
    observer = RecordingObserver()
    dead = start_reader(
        readers,
        group,
        observer,
        id="dead",
        source=f"rtsp://admin:{SECRET}@127.0.0.1:{free_port()}/stream",
        open_timeout_s=1.0,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    live = start_reader(readers, group, observer, id="live", source=str(video), loop=True, pace=True)
    frames: list[Frame] = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        frames += group.collect(max_batch=4, max_wait_s=0.01, timeout=0.2)
    assert dead.state in (S.RECONNECTING, S.CONNECTING)
    assert live.state is S.STREAMING
    assert {f.camera_id for f in frames} == {"live"}
    assert len(frames) >= 20  # 20 fps paced file, ~1.5 s: undisturbed by the dead camera
    stats = dead.stats
    assert stats.restarts >= 3
    assert stats.frames_read == 0
    assert observer.of("reconnect", "dead")[:3] == ["error"] * 3
    assert observer.of("state", "dead")[:4] == [S.CONNECTING, S.RECONNECTING, S.CONNECTING, S.RECONNECTING]
    assert stats.last_error is not None
    assert "cannot open rtsp://***:***@127.0.0.1" in stats.last_error
    for text in (repr(stats), stats.state_reason, str(stats.last_error), caplog.text, repr(dead.settings)):
        assert SECRET not in text
    assert "reconnecting in" in caplog.text


def test_max_restarts_gives_up(readers: list[CameraReader]) -> None:
    group = FrameBufferGroup()
    observer = RecordingObserver()
    reader = start_reader(
        readers,
        group,
        observer,
        id="dead",
        source=f"http://admin:{SECRET}@127.0.0.1:{free_port()}/video.mjpg",
        open_timeout_s=1.0,
        backoff_initial_s=0.01,
        backoff_max_s=0.02,
        max_restarts=2,
    )
    wait_until(lambda: reader.state is S.STOPPED, what="giving up")
    stats = reader.stats
    assert stats.restarts == 2
    assert stats.state_reason.startswith("failed: camera 'dead': cannot open http://***:***@127.0.0.1")
    assert stats.state_reason.endswith("(gave up after 2 restarts in a row)")
    assert SECRET not in repr(stats)
    assert observer.of("state") == [S.CONNECTING, S.RECONNECTING] * 2 + [S.CONNECTING, S.STOPPED]
    assert group.finished


# -- scripted sources: stalls, blocking, unexpected errors ------------------------------------------------------


@pytest.mark.parametrize("policy", ["block", "drop_oldest"])
def test_stop_is_prompt_while_blocked_in_put(readers: list[CameraReader], policy: str) -> None:
    factory = ScriptedFactory([])
    group = FrameBufferGroup()
    observer = RecordingObserver()
    reader = start_reader(
        readers, group, observer, id="cam", source="clip.mp4", buffer_size=1, full_policy=policy,
        source_factory=factory,
    )  # fmt: skip
    wait_until(lambda: reader.stats.frames_read >= 2, what="frames")
    started = time.monotonic()
    assert reader.stop(timeout=30.0)
    assert time.monotonic() - started < 15.0  # the blocked put was woken, not waited out
    stats = reader.stats
    assert (stats.state, stats.state_reason) == (S.STOPPED, "stopped")
    assert factory.sources[0].released_by == "camera-cam-1"
    if policy == "block":
        assert observer.of("dropped") == [DropCause.CLOSED]
        assert stats.frames_dropped == 1
    else:
        assert set(observer.of("dropped")) <= {DropCause.FULL_DROP_OLDEST, DropCause.CLOSED}
        assert stats.frames_dropped == len(observer.of("dropped")) >= 1


def test_stop_is_prompt_while_blocked_in_read(readers: list[CameraReader]) -> None:
    factory = ScriptedFactory(["frame", "block"])
    group = FrameBufferGroup()
    reader = start_reader(readers, group, id="cam", source="rtsp://cam/s", source_factory=factory)
    wait_until(lambda: factory.sources[0].reads_started == 2, what="the blocking read")
    started = time.monotonic()
    assert reader.stop(timeout=0.2) is False  # the thread is abandoned, not waited for
    assert time.monotonic() - started < 10.0  # the read blocks until the test unblocks it
    assert reader.state is S.STOPPED
    factory.unblock.set()
    wait_until(lambda: factory.sources[0].released_by == "camera-cam-1", what="release by its own thread")
    assert reader.stats.frames_sent == 1


@pytest.mark.parametrize(
    ("scripts", "reason", "restarts"),
    [
        ([["frame", "error"], ["frame", "end"]], "ended", 1),
        ([["error"], ["error"], ["end"]], "ended", 2),
        ([["frame", "boom"]], "failed: ZeroDivisionError: bug near rtsp://***:***@cam/s", 0),
    ],
)
def test_scripted_rounds(readers: list[CameraReader], scripts: list[list[str]], reason: str, restarts: int) -> None:
    factory = ScriptedFactory(*scripts)
    group = FrameBufferGroup()
    reader = start_reader(readers, group, id="cam", source="clip.mp4", backoff_initial_s=0.01, source_factory=factory)
    frames = collect_all(group)
    assert reader.stats.state_reason == reason
    assert reader.stats.restarts == restarts
    assert len(frames) == sum(script.count("frame") for script in scripts)
    assert all(source.released_by == "camera-cam-1" for source in factory.sources)


def test_start_twice_and_stop_before_start() -> None:
    settings = CameraSettings(id="cam", source="clip.mp4")
    reader = CameraReader(settings, FrameBuffer(1, "block"), source_factory=ScriptedFactory(["end"]))
    assert reader.stop(timeout=0.1)
    assert reader.state is S.STOPPED
    with pytest.raises(RuntimeError, match="already started"):
        reader.start()
