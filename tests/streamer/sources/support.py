"""Helpers of the camera reader tests: an observer that records, scripted sources, starting readers, waiting."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from streamer.sources.backends import SourceEnded, SourceError, SourceFrame
from streamer.sources.buffers import FrameBufferGroup
from streamer.sources.camera import CameraReader, NullObserver
from streamer.sources.camera_state import CameraStateChange
from streamer.sources.settings import CameraSettings

SECRET = "Hunter2-very-secret"


class RecordingObserver(NullObserver):
    """Keeps every event, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, str, Any]] = []

    def on_state(self, change: CameraStateChange) -> None:
        self._add("state", change.camera_id, change.state)
        self._add("change", change.camera_id, change)

    def on_frame_read(self, camera_id: str, decode_seconds: float) -> None:
        self._add("read", camera_id, decode_seconds)

    def on_frame_skipped(self, camera_id: str) -> None:
        self._add("skipped", camera_id, None)

    def on_frame_dropped(self, camera_id: str, cause: str) -> None:
        self._add("dropped", camera_id, cause)

    def on_reconnect(self, camera_id: str, reason: str) -> None:
        self._add("reconnect", camera_id, reason)

    def on_fault(self, camera_id: str, kind: str) -> None:
        self._add("fault", camera_id, kind)

    def _add(self, kind: str, camera_id: str, value: Any) -> None:
        with self._lock:
            self.events.append((kind, camera_id, value))

    def of(self, kind: str, camera_id: str | None = None) -> list[Any]:
        with self._lock:
            return [v for k, c, v in self.events if k == kind and camera_id in (None, c)]


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def start_reader(
    readers: list[CameraReader], group: FrameBufferGroup, observer: Any = None, **kwargs: Any
) -> CameraReader:
    factory = kwargs.pop("source_factory", None)
    settings = CameraSettings(**kwargs)
    buffer = group.add_buffer(settings.id, settings.buffer_size, settings.effective_full_policy)
    extra = {"source_factory": factory} if factory is not None else {}
    reader = CameraReader(settings, buffer, observer, rng=random.Random(1), **extra)
    readers.append(reader)
    reader.start()
    return reader


class ScriptedSource:
    """Plays a script: 'frame' returns a frame, 'block' blocks until released, 'error' raises SourceError,
    'end' raises SourceEnded, 'boom' raises a bug; after the script it keeps returning frames."""

    def __init__(self, script: list[str], unblock: threading.Event) -> None:
        self._script = list(script)
        self._unblock = unblock
        self._position = 0.0
        self.released_by: str | None = None
        self.reads_started = 0

    def read(self) -> SourceFrame:
        self.reads_started += 1
        step = self._script.pop(0) if self._script else "frame"
        if step == "block":
            self._unblock.wait(10.0)
        elif step == "error":
            raise SourceError(f"read failed on rtsp://admin:{SECRET}@cam/s")
        elif step == "end":
            raise SourceEnded("end")
        elif step == "boom":
            raise ZeroDivisionError(f"bug near rtsp://admin:{SECRET}@cam/s")
        time.sleep(0.01)
        self._position += 0.04
        return SourceFrame(np.zeros((4, 4, 3), np.uint8), self._position, 0.001)

    def release(self) -> None:
        self.released_by = threading.current_thread().name


class ScriptedFactory:
    """Gives each connection the next script; a script starting with 'hang' blocks in the open until released."""

    def __init__(self, *scripts: list[str]) -> None:
        self.unblock = threading.Event()
        self._hangs = [bool(script) and script[0] == "hang" for script in scripts]
        self.sources = [
            ScriptedSource(script[hang:], self.unblock) for script, hang in zip(scripts, self._hangs, strict=True)
        ]
        self.opened = 0

    def __call__(self, settings: CameraSettings) -> ScriptedSource:
        number = self.opened
        self.opened += 1
        if self._hangs[number]:
            self.unblock.wait(10.0)
        return self.sources[number]


@contextmanager
def http_camera(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A loopback HTTP server with ``handler`` on its own thread; yields the camera URL (``/video.mjpg``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    finally:
        server.shutdown()
        server.server_close()


class MjpegCameraHandler(BaseHTTPRequestHandler):
    """An IP camera's MJPEG stream (multipart/x-mixed-replace, boundary ``frame``): the JPEG parts of `parts`,
    20 ms apart. Subclasses say what the parts are."""

    def parts(self) -> Iterator[bytes]:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for jpeg in self.parts():
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ")
                self.wfile.write(f"{len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader hung up

    def log_message(self, format: str, *args: object) -> None:
        pass
