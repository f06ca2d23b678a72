"""Start-up errors come as one line with the real elapsed time, and no raw FFmpeg/OpenCV lines on stderr.

Each case runs in a fresh interpreter: FFmpeg reads its log level when the process first opens a capture.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rtsp_server import free_port

_OPEN = """
import logging, sys, time
from streamer.service.config import configure_logging
from streamer.sources.backends import SourceError, SourceFatalError, open_source
from streamer.sources.settings import CameraSettings
configure_logging(sys.argv[2])
started = time.monotonic()
try:
    open_source(CameraSettings(id="gate", source=sys.argv[1], open_timeout_s=float(sys.argv[3])))
except (SourceError, SourceFatalError) as error:
    print(f"{time.monotonic() - started:.2f}|{error}")
"""

# FFmpeg's and OpenCV's own line prefixes: "[rtsp @ 0x…]", "[tcp @ 0x…]", "[ WARN:0@0.1] global cap.cpp…"
_NATIVE_MARKS = (" @ 0x", "[ WARN", "[ERROR", "global cap")


def _open_in_subprocess(source: str, log_level: str = "INFO", open_timeout_s: float = 2.0) -> tuple[float, str, str]:
    """Opens ``source`` in a fresh interpreter; returns (seconds it took, the error message, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    done = subprocess.run(
        [sys.executable, "-c", _OPEN, source, log_level, str(open_timeout_s)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
    )
    elapsed, _, message = done.stdout.strip().partition("|")
    return float(elapsed), message, done.stderr


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung RTSP server)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_refused_rtsp_fails_in_one_line_with_its_real_time() -> None:
    elapsed, message, stderr = _open_in_subprocess(f"rtsp://admin:pw@127.0.0.1:{free_port()}/stream")
    assert "camera 'gate': cannot open rtsp://***:***@127.0.0.1:" in message
    assert "refused the connection (failed after " in message
    stated = float(message.rsplit("failed after ", 1)[1].split(" s")[0])
    assert stated <= elapsed + 0.05  # the time stated is the time it took, not the timeout
    assert "timed out after" not in message
    assert not [line for line in stderr.splitlines() if any(mark in line for mark in _NATIVE_MARKS)], stderr


def test_silent_rtsp_server_times_out_at_the_open_timeout(silent_server: int) -> None:
    elapsed, message, stderr = _open_in_subprocess(f"rtsp://127.0.0.1:{silent_server}/stream", open_timeout_s=1.5)
    assert "no answer within the open timeout (" in message
    stated = float(message.rsplit("(", 1)[1].split(" s")[0])
    assert 1.3 <= stated <= elapsed + 0.05
    assert not [line for line in stderr.splitlines() if any(mark in line for mark in _NATIVE_MARKS)], stderr


def test_a_file_that_is_not_a_video_fails_without_ffmpeg_lines(tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"\x00" * 4096)
    _, message, stderr = _open_in_subprocess(str(junk))
    assert message == f"camera 'gate': cannot decode video file {junk}"
    assert "moov atom" not in stderr
    assert not [line for line in stderr.splitlines() if any(mark in line for mark in _NATIVE_MARKS)], stderr


def test_debug_logging_keeps_ffmpegs_own_lines(tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"\x00" * 4096)
    _, _, stderr = _open_in_subprocess(str(junk), log_level="DEBUG")
    assert "moov atom not found" in stderr  # asked for: FFmpeg says it in its own words
