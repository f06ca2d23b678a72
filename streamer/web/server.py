"""uvicorn on a background thread, its socket bound before it starts (a busy port fails at start-up, in one line)."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


class WebServer:
    """Serves an ASGI app on ``host:port`` from a daemon thread until `stop`.

    Args:
        app: the ASGI app.
        host: address to bind (127.0.0.1 by default in the settings).
        port: 0 picks a free port; see `port` after `start`.
    """

    def __init__(self, app: Any, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("web server is not started")
        return int(self._socket.getsockname()[1])

    def start(self, timeout_s: float = 10.0) -> WebServer:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot serve the web API on {self._host}:{self._requested_port}: {exc.strerror}") from exc
        sock.listen(512)
        self._socket = sock
        config = uvicorn.Config(
            self._app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        server = self._server
        self._thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name="web-http", daemon=True)
        self._thread.start()
        ready = threading.Event()
        deadline = threading.Timer(timeout_s, ready.set)
        deadline.start()
        while not server.started and not ready.is_set() and self._thread.is_alive():
            ready.wait(0.01)
        deadline.cancel()
        if not server.started:
            self.stop()
            raise OSError(f"the web API on {self._host}:{self.port} did not start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
