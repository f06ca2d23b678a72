"""One small HTTP server for Prometheus (`/metrics`) and the health pages (`/healthz`, `/readyz`).

Statuses: ``/healthz`` (liveness) answers 200 while the process serves, with ``status`` ``ok`` or ``degraded``;
``/readyz`` answers 200 ``ok`` only when the service is ready and nothing is degraded, else 503 with ``status``
``not ready`` or ``degraded`` and the reasons in ``degraded`` (e.g. alerts cannot be delivered: Redis is away, the
alerts wait in the spool). Degraded is no reason to restart the process, so liveness stays 200.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Health:
    """What the health pages report: whether the service is up and ready, and each camera's state.

    Attributes:
        degraded: why the service does not fully do its job while running (one line each); empty when it does.
    """

    ready: bool
    cameras: dict[str, str]
    detail: dict[str, Any]
    degraded: tuple[str, ...] = ()


class MetricsServer:
    """Serves the registry and the health pages on a background thread.

    Args:
        registry: the registry to expose.
        health: called per request; must be cheap and thread-safe.
        host: address to bind ("0.0.0.0" to let a Prometheus on another host scrape).
        port: 0 picks a free port (tests); see `port` after `start()`.
    """

    def __init__(self, registry: CollectorRegistry, health: Callable[[], Health], host: str, port: int) -> None:
        self._registry = registry
        self._health = health
        self._host = host
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("metrics server is not started")
        return int(self._server.server_address[1])

    def start(self) -> None:
        registry, health = self._registry, self._health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif path in ("/healthz", "/readyz"):
                    state = health()
                    status = "degraded" if state.degraded else "ok"
                    if path == "/readyz" and not state.ready:
                        status = "not ready"
                    code = 200 if path == "/healthz" or status == "ok" else 503
                    body = {"status": status, "ready": state.ready, "cameras": state.cameras}
                    body["degraded"] = list(state.degraded)
                    body.update(state.detail)
                    self._send(code, "application/json", json.dumps(body).encode())
                else:
                    self._send(404, "text/plain", b"not found: try /metrics, /healthz or /readyz\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                # Scrapes every few seconds would flood the log; keep them at debug.
                log.debug("metrics http: " + format, *args)

        try:
            self._server = ThreadingHTTPServer((self._host, self._requested_port), Handler)
        except OSError as exc:
            raise OSError(f"cannot serve metrics on {self._host}:{self._requested_port}: {exc.strerror}") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
