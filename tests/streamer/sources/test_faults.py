"""Fault suite against a real RTSP server: killed and restarted 20 times, and frozen with its socket open.

Figures per trial are printed (``pytest -s`` shows them); the bounds are loose on purpose, for a loaded machine.
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from collections.abc import Iterator

import pytest

from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.camera import CameraReader, CameraState
from streamer.sources.settings import CameraSettings
from streamer.sources.watchdog import CameraWatchdog
from tests.rtsp_server import RtspServer, unavailable_reason
from tests.streamer.sources.support import RecordingObserver, wait_until

pytestmark = pytest.mark.rtsp

PASSWORD = "Fault-Suite-Pw-9"
# Downtimes from 1 s to 15 s, spread geometrically so that the whole test stays under about 3 minutes (≈106 s down).
DOWNTIMES_S = [round(15.0 ** (i / 19), 1) for i in range(20)]


@pytest.fixture(scope="module")
def rtsp_available() -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def servers() -> Iterator[list[RtspServer]]:
    """Servers a test starts; all killed at the end."""
    started: list[RtspServer] = []
    yield started
    for server in started:
        server.kill()


def _reader(url: str, observer: RecordingObserver, **fields: float) -> tuple[CameraReader, FrameBufferGroup]:
    # The default backoff (0.5 s doubling to 30 s): what made short outages long before the liveness probe.
    settings = CameraSettings(**{"id": "fault-cam", "source": url, "open_timeout_s": 5.0} | fields)
    group = FrameBufferGroup()
    buffer = group.add_buffer(settings.id, settings.buffer_size, settings.effective_full_policy)
    return CameraReader(settings, buffer, observer, rng=random.Random(5)), group


def _seconds_to_fresh_frame(group: FrameBufferGroup, since_wall: float, timeout: float) -> float:
    """Seconds from ``since_wall`` (``time.time()``) to the first frame captured after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in group.collect(max_batch=64, max_wait_s=0.0, timeout=0.05):
            if frame.captured_at >= since_wall:
                return frame.captured_at - since_wall
    raise AssertionError(f"no frame within {timeout} s")


def _report(capfd: pytest.CaptureFixture[str], line: str) -> None:
    """Prints a figure past pytest's capture, so that CI logs show it on success too."""
    with capfd.disabled():
        print(line, flush=True)


def _assert_no_tracebacks(caplog: pytest.LogCaptureFixture, stderr: str) -> None:
    assert not [record.getMessage() for record in caplog.records if record.exc_info]
    assert "Traceback" not in caplog.text
    assert "Traceback" not in stderr


def test_server_killed_and_restarted_20_times_camera_resumes_within_seconds(
    rtsp_available: None,
    servers: list[RtspServer],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    server = RtspServer(password=PASSWORD).start()
    servers.append(server)
    observer = RecordingObserver()
    reader, group = _reader(server.url, observer)
    watchdog = CameraWatchdog([reader])
    reader.start()
    watchdog.start()
    resumed_s: list[float] = []
    try:
        _seconds_to_fresh_frame(group, time.time(), timeout=15.0)
        for trial, down_s in enumerate(DOWNTIMES_S, start=1):
            restarts_before = reader.stats.restarts
            server.kill()  # a crash: the connection drops, then every connect is refused
            time.sleep(down_s)
            server = RtspServer(port=server.port, password=PASSWORD).start()
            servers.append(server)
            back = time.time()
            restarts_while_down = reader.stats.restarts - restarts_before
            resumed_s.append(_seconds_to_fresh_frame(group, back, timeout=20.0))
            _report(
                capfd,
                f"trial {trial:2d}: down {down_s:4.1f} s, {restarts_while_down:2d} failed reconnects while down, "
                f"{reader.stats.restarts - restarts_before - restarts_while_down} after; "
                f"frames again {resumed_s[-1]:.2f} s after the server returned",
            )
            assert reader.state is CameraState.STREAMING
    finally:
        watchdog.stop()
        assert reader.stop(timeout=5.0)
    median = statistics.median(resumed_s)
    _report(
        capfd, f"resume after restart: median {median:.2f} s, max {max(resumed_s):.2f} s over {len(resumed_s)} trials"
    )
    assert len(resumed_s) == len(DOWNTIMES_S)
    assert median <= 3.0
    assert max(resumed_s) <= 8.0
    assert CameraState.STOPPED not in observer.of("state")[:-1]  # up throughout: stopped only by reader.stop()
    _assert_no_tracebacks(caplog, capfd.readouterr().err)


def test_frozen_server_is_restarted_by_the_watchdog_at_its_timeout(
    rtsp_available: None,
    servers: list[RtspServer],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Reads time out (2 s) before the stall timeout (4 s): OpenCV then returns a late frame after each read timeout,
    # which used to reset the stall clock, so the watchdog never fired and the read error came after ~3x 2 s.
    stall_s = 4.0
    server = RtspServer(password=PASSWORD).start()
    servers.append(server)
    observer = RecordingObserver()
    reader, group = _reader(server.url, observer, read_timeout_s=2.0, stall_timeout_s=stall_s, open_timeout_s=3.0)
    watchdog = CameraWatchdog([reader])
    reader.start()
    watchdog.start()
    try:
        _seconds_to_fresh_frame(group, time.time(), timeout=15.0)
        group.collect(max_batch=64, max_wait_s=0.0, timeout=0.3)
        server.pause()  # SIGSTOP: the socket stays open, nothing flows
        frozen_at = time.monotonic()
        wait_until(lambda: bool(observer.of("reconnect")), timeout=stall_s + 8.0, what="a reconnect")
        noticed_s = time.monotonic() - frozen_at
        time.sleep(max(0.0, 8.0 - noticed_s))  # frozen for 8 s in all
        server.resume()
        back = time.time()
        resumed_s = _seconds_to_fresh_frame(group, back, timeout=20.0)
    finally:
        watchdog.stop()
        assert reader.stop(timeout=5.0)
    _report(
        capfd,
        f"frozen server: watchdog restart after {noticed_s:.2f} s (stall_timeout_s {stall_s:g}); "
        f"frames again {resumed_s:.2f} s after the server was resumed",
    )
    assert observer.of("reconnect")[0] == "stalled"
    assert reader.stats.last_error is not None
    assert "stalled source" in reader.stats.last_error
    assert stall_s - 0.5 <= noticed_s <= stall_s + 2.5
    assert resumed_s <= 8.0
    _assert_no_tracebacks(caplog, capfd.readouterr().err)
