"""OpenCV frame sources on real files and real (closed) network endpoints."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from streamer.sources.backends import (
    OpenCVSource,
    SourceEnded,
    SourceError,
    SourceFatalError,
    _CaptureOptionsGate,
    open_source,
)
from streamer.sources.settings import CameraSettings
from tests.conftest import shared_path
from tests.rtsp_server import free_port
from tests.streamer.synthetic_video import frame_number, write_video

SECRET = "pa55-w0rd-xyz"


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """10 frames at 20 fps (0.5 s)."""
    return write_video(tmp_path / "ten.avi", frames=10, fps=20.0)


def _settings(source: str | Path, **fields: Any) -> CameraSettings:
    return CameraSettings(id="cam", source=str(source), **fields)


def _read_all(source: OpenCVSource, limit: int = 10_000) -> list[tuple[int, float]]:
    """(frame number, position) of every frame until the source ends."""
    frames: list[tuple[int, float]] = []
    for _ in range(limit):
        try:
            read = source.read()
        except SourceEnded:
            return frames
        frames.append((frame_number(read.image), read.position_s))
    raise AssertionError(f"no end after {limit} frames")


def test_file_reads_every_frame_then_ends(video: Path) -> None:
    source = open_source(_settings(video))
    try:
        assert source.fps == pytest.approx(20.0)
        frames = _read_all(source)
        with pytest.raises(SourceEnded, match=r"^camera 'cam': end of .*ten\.avi$"):
            source.read()
    finally:
        source.release()
    assert [number for number, _ in frames] == list(range(10))
    assert [position for _, position in frames] == pytest.approx([i / 20 for i in range(10)])


def test_looping_file_wraps(video: Path) -> None:
    source = open_source(_settings(video, loop=True))
    try:
        reads = [source.read() for _ in range(25)]
    finally:
        source.release()
    assert [frame_number(r.image) for r in reads] == [i % 10 for i in range(25)]
    assert [r.position_s for r in reads] == pytest.approx([(i % 10) / 20 for i in range(25)])
    assert reads[0].image.shape == (48, 64, 3)


@pytest.mark.parametrize("pace", [True, False])
def test_pacing(video: Path, pace: bool) -> None:
    source = open_source(_settings(video, pace=pace))
    started = time.monotonic()
    try:
        frames = _read_all(source)
    finally:
        source.release()
    elapsed = time.monotonic() - started
    assert len(frames) == 10
    # 10 frames at 20 fps span 0.45 s of file time; unpaced, ten 64x48 frames decode in milliseconds.
    assert elapsed >= 0.4 if pace else elapsed < 0.4


@pytest.mark.shared
def test_real_video_decodes_at_native_positions() -> None:
    path = shared_path("videos/abhishek_highway.mp4")
    source = open_source(_settings(path))
    try:
        assert source.fps == pytest.approx(30000 / 1001)
        first = source.read()
        assert first.image.shape == (360, 640, 3)
        assert first.decode_s > 0
        source.release()
        source = open_source(_settings(path))
        frames = _read_all(source)
    finally:
        source.release()
    assert len(frames) == 341
    assert [position for _, position in frames] == pytest.approx([i * 1001 / 30000 for i in range(341)], abs=1e-3)


def test_not_a_video_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(SourceFatalError, match=r"cannot decode video file .*notes\.mp4"):
        open_source(_settings(path))


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://admin:{secret}@127.0.0.1:{port}/stream",
        "http://admin:{secret}@127.0.0.1:{port}/video.mjpg?password={secret}",
    ],
)
def test_unreachable_live_source_is_retryable_and_redacted(url: str, caplog: pytest.LogCaptureFixture) -> None:
    source_url = url.format(secret=SECRET, port=free_port())
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        open_source(_settings(source_url, open_timeout_s=30.0))
    assert time.monotonic() - started < 15.0  # refused at once, not waited out
    assert "cannot open" in str(caught.value)
    assert "***:***@127.0.0.1" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text


def test_missing_webcam_is_retryable() -> None:
    with pytest.raises(SourceError, match="cannot open webcam /dev/video99"):
        open_source(_settings("/dev/video99"))


def test_released_source(video: Path) -> None:
    source = open_source(_settings(video))
    source.release()
    source.release()  # twice is fine
    with pytest.raises(SourceFatalError, match="released"):
        source.read()


_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_ENV, raising=False)


@pytest.mark.usefixtures("clean_env")
def test_capture_options_gate_applies_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = _CaptureOptionsGate()
    with gate.applied("rtsp_transport;tcp"):
        assert os.environ[_ENV] == "rtsp_transport;tcp"
        with gate.applied(None):  # a file open does not care and does not wait
            assert os.environ[_ENV] == "rtsp_transport;tcp"
    assert _ENV not in os.environ
    monkeypatch.setenv(_ENV, "hwaccel;none")
    with gate.applied("rtsp_transport;udp"):
        assert os.environ[_ENV] == "hwaccel;none|rtsp_transport;udp"  # the user's options are kept
    assert os.environ[_ENV] == "hwaccel;none"


@pytest.mark.usefixtures("clean_env")
def test_capture_options_gate_serialises_only_different_values() -> None:
    gate = _CaptureOptionsGate()
    seen: list[tuple[str, str | None]] = []
    entered = threading.Event()
    release = threading.Event()

    def hold(options: str) -> None:
        with gate.applied(options):
            seen.append((options, os.environ.get(_ENV)))
            entered.set()
            release.wait(2.0)

    first = threading.Thread(target=hold, args=("rtsp_transport;tcp",))
    first.start()
    assert entered.wait(1.0)
    same = threading.Thread(target=hold, args=("rtsp_transport;tcp",))
    other = threading.Thread(target=hold, args=("rtsp_transport;udp",))
    same.start()
    other.start()
    time.sleep(0.2)
    # the second TCP open runs alongside the first; the UDP one waits until both are done
    assert seen == [("rtsp_transport;tcp", "rtsp_transport;tcp")] * 2
    release.set()
    for thread in (first, same, other):
        thread.join(2.0)
    assert seen[2] == ("rtsp_transport;udp", "rtsp_transport;udp")
    assert _ENV not in os.environ
