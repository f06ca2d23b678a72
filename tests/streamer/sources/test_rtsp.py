"""Camera readers against a real RTSP server (GStreamer's gst-rtsp-server with basic auth, H.264 over RTSP/TCP)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator

import pytest

from streamer.sources.backends import SourceError, open_source
from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.camera import CameraObserver, CameraReader, CameraState
from streamer.sources.frames import Frame
from streamer.sources.settings import CameraSettings
from streamer.sources.watchdog import CameraWatchdog
from tests.rtsp_server import RtspServer, unavailable_reason
from tests.streamer.sources.support import RecordingObserver

pytestmark = pytest.mark.rtsp

PASSWORD = "Rtsp-S3cret-42"
WRONG = "Wr0ng-Guess-17"


@pytest.fixture(scope="module")
def rtsp_available() -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server(rtsp_available: None) -> Iterator[RtspServer]:
    with RtspServer(password=PASSWORD, tcp_only=True) as running:
        yield running


def _reader(url: str, observer: CameraObserver | None = None, **fields: float) -> tuple[CameraReader, FrameBufferGroup]:
    settings = CameraSettings(
        **{"id": "rtsp-cam", "source": url, "rtsp_transport": "tcp", "open_timeout_s": 5.0, "read_timeout_s": 2.0}
        | fields
    )
    group = FrameBufferGroup()
    buffer = group.add_buffer(settings.id, settings.buffer_size, settings.effective_full_policy)
    return CameraReader(settings, buffer, observer, rng=random.Random(3)), group


def _collect(group: FrameBufferGroup, count: int, timeout: float) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count and time.monotonic() < deadline:
        frames += group.collect(max_batch=8, max_wait_s=0.0, timeout=0.2)
    return frames


def _drain(group: FrameBufferGroup, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        group.collect(max_batch=64, max_wait_s=0.0, timeout=0.05)


def _wait_for_state(reader: CameraReader, state: CameraState, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while reader.state is not state:
        assert time.monotonic() < deadline, f"camera still {reader.state} after {timeout} s, expected {state}"
        time.sleep(0.02)


def test_frames_over_rtsp_tcp_with_credentials(
    server: RtspServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, group = _reader(server.url)
    reader.start()
    try:
        frames = _collect(group, count=10, timeout=10.0)
        assert len(frames) >= 10
        assert reader.state is CameraState.STREAMING
        # the server refuses UDP, so streaming proves TCP; the same URL over UDP is refused
        udp = CameraSettings(id="udp-cam", source=server.url, rtsp_transport="udp", open_timeout_s=5.0)
        with pytest.raises(SourceError, match="cannot open"):
            open_source(udp)
    finally:
        assert reader.stop(timeout=5.0)
    assert {f.image.shape for f in frames} == {(240, 320, 3)}
    positions = [f.position_s for f in frames]
    assert positions == sorted(positions)
    stats = reader.stats
    assert stats.frames_read >= 10
    assert stats.restarts == 0
    assert stats.source == f"rtsp://***:***@127.0.0.1:{server.port}/stream"
    native = capfd.readouterr()  # what OpenCV and FFmpeg wrote to the process's stdout/stderr
    for text in (caplog.text, repr(stats), repr(reader.settings), str(reader.settings), native.out, native.err):
        assert PASSWORD not in text
    assert f"opened rtsp://***:***@127.0.0.1:{server.port}/stream" in caplog.text


def test_wrong_password_is_retried_and_never_leaks(
    server: RtspServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, _ = _reader(server.url_with("admin", WRONG), backoff_initial_s=0.1, backoff_max_s=0.2)
    reader.start()
    try:
        deadline = time.monotonic() + 10.0
        while reader.stats.restarts < 2:
            assert time.monotonic() < deadline, "the unauthorized camera was not retried"
            time.sleep(0.05)
    finally:
        assert reader.stop(timeout=5.0)
    stats = reader.stats
    assert stats.frames_read == 0
    assert stats.last_error is not None
    assert f"cannot open rtsp://***:***@127.0.0.1:{server.port}/stream: the server answers" in stats.last_error
    native = capfd.readouterr()
    # (whether FFmpeg's own lines show depends on the process's first open: test_native_logging checks that)
    for text in (caplog.text, repr(stats), native.out, native.err):
        assert WRONG not in text
        assert PASSWORD not in text


def test_camera_reconnects_when_the_server_comes_back(rtsp_available: None) -> None:
    first = RtspServer(password=PASSWORD).start()
    reader, group = _reader(first.url, backoff_initial_s=0.2, backoff_max_s=0.5)
    reader.start()
    try:
        assert len(_collect(group, count=5, timeout=10.0)) >= 5
        first.kill()  # a crash: the TCP connection drops
        _wait_for_state(reader, CameraState.RECONNECTING, timeout=5.0)
        time.sleep(0.5)  # a few failed reconnects against the closed port
        assert reader.state in (CameraState.RECONNECTING, CameraState.CONNECTING)
        restarts_while_down = reader.stats.restarts
        assert restarts_while_down >= 2
        group.collect(max_batch=64, max_wait_s=0.0, timeout=0.0)  # forget frames from before the crash
        with RtspServer(port=first.port, password=PASSWORD):
            _wait_for_state(reader, CameraState.STREAMING, timeout=10.0)
            frames_after = _collect(group, count=5, timeout=10.0)
        assert len(frames_after) >= 5
    finally:
        first.kill()
        assert reader.stop(timeout=5.0)
    stats = reader.stats
    assert stats.restarts >= restarts_while_down
    assert stats.last_error is not None
    assert PASSWORD not in stats.last_error


@pytest.mark.parametrize(
    ("fields", "use_watchdog", "reason", "error"),
    [
        # FFmpeg's RTSP demuxer retries a timed-out read about three times: a 0.5 s timeout notices in ~1.5 s
        ({"read_timeout_s": 0.5}, False, "error", "read timed out"),
        # the watchdog notices first (1 s) and abandons the read that would time out only after ~6 s
        ({"read_timeout_s": 2.0, "stall_timeout_s": 1.0}, True, "stalled", "stalled source"),
    ],
)
def test_hung_server_is_noticed_and_the_camera_recovers(
    rtsp_available: None, fields: dict[str, float], use_watchdog: bool, reason: str, error: str
) -> None:
    with RtspServer(password=PASSWORD) as server:
        observer = RecordingObserver()
        reader, group = _reader(server.url, backoff_initial_s=0.2, backoff_max_s=0.5, observer=observer, **fields)
        watchdog = CameraWatchdog([reader], interval_s=0.1)
        reader.start()
        if use_watchdog:
            watchdog.start()
        try:
            assert len(_collect(group, count=5, timeout=10.0)) >= 5
            _drain(group, seconds=0.5)  # frames buffered at connect time are gone: reads now wait for the server
            server.pause()  # TCP stays up, no data flows: a hung camera
            hung_at = time.monotonic()
            _wait_for_state(reader, CameraState.RECONNECTING, timeout=8.0)
            noticed_s = time.monotonic() - hung_at
            server.resume()
            _wait_for_state(reader, CameraState.STREAMING, timeout=10.0)
            assert len(_collect(group, count=3, timeout=5.0)) >= 3
        finally:
            watchdog.stop()
            assert reader.stop(timeout=5.0)
    assert observer.of("reconnect")[0] == reason
    assert reader.stats.last_error is not None
    assert error in reader.stats.last_error
    assert noticed_s < 5.0
