"""Liveness probes and the reconnect wait, against real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from streamer.sources.liveness import RetryOutcome, probe_for, wait_before_retry
from streamer.sources.settings import CameraSettings
from tests.rtsp_server import free_port


class TinyServer:
    """Listens on a port; answers each connection with ``reply`` (or nothing), then closes it."""

    def __init__(self, port: int, reply: bytes | None) -> None:
        self.port = port
        self.reply = reply
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1.0)
                if self.reply is not None:
                    self.requests.append(connection.recv(1024))
                    connection.sendall(self.reply)
                else:
                    time.sleep(0.7)  # hold the connection without a word: a frozen server

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def servers() -> Iterator[list[TinyServer]]:
    started: list[TinyServer] = []
    yield started
    for server in started:
        server.close()


def _rtsp(port: int) -> CameraSettings:
    return CameraSettings(id="cam", source=f"rtsp://admin:s3cret@127.0.0.1:{port}/stream?token=abc")


def test_sources_without_a_server_have_no_probe() -> None:
    assert probe_for(CameraSettings(id="cam", source="0")) is None
    assert probe_for(CameraSettings(id="cam", source="/dev/video3")) is None


def test_rtsp_probe_sends_options_without_credentials(port: int, servers: list[TinyServer]) -> None:
    probe = probe_for(_rtsp(port))
    assert probe is not None
    assert not probe()  # nothing listens
    servers.append(TinyServer(port, b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n"))
    assert probe()  # any RTSP answer is a sign of life
    request = servers[0].requests[0].decode()
    assert request.startswith(f"OPTIONS rtsp://127.0.0.1:{port}/stream RTSP/1.0\r\n")
    assert "s3cret" not in request
    assert "abc" not in request


def test_rtsp_probe_sees_a_frozen_server_as_down(port: int, servers: list[TinyServer]) -> None:
    servers.append(TinyServer(port, None))  # accepts, never answers
    probe = probe_for(_rtsp(port))
    assert probe is not None
    assert not probe()


def test_http_probe_connects(port: int, servers: list[TinyServer]) -> None:
    probe = probe_for(CameraSettings(id="cam", source=f"http://u:p@127.0.0.1:{port}/mjpeg"))
    assert probe is not None
    assert not probe()
    servers.append(TinyServer(port, b""))
    assert probe()


def test_wait_ends_when_the_server_returns(port: int, servers: list[TinyServer]) -> None:
    probe = probe_for(_rtsp(port))
    threading.Timer(0.6, lambda: servers.append(TinyServer(port, b"RTSP/1.0 200 OK\r\n\r\n"))).start()
    started = time.monotonic()
    outcome = wait_before_retry(30.0, threading.Event(), probe, poll_s=0.1)
    assert outcome is RetryOutcome.SERVER_RETURNED
    assert time.monotonic() - started < 10.0  # not the 30 s backoff


def test_a_server_up_all_along_waits_the_whole_backoff(port: int, servers: list[TinyServer]) -> None:
    # Up from the start: the failure was something else (a wrong password, say); retrying at once would not help.
    servers.append(TinyServer(port, b"RTSP/1.0 200 OK\r\n\r\n"))
    started = time.monotonic()
    assert wait_before_retry(0.5, threading.Event(), probe_for(_rtsp(port)), poll_s=0.1) is RetryOutcome.BACKOFF_ELAPSED
    assert time.monotonic() - started >= 0.5


def test_stop_ends_the_wait(port: int) -> None:
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    assert wait_before_retry(30.0, stop, probe_for(_rtsp(port)), poll_s=0.1) is RetryOutcome.STOPPED
    assert wait_before_retry(30.0, stop, None) is RetryOutcome.STOPPED
