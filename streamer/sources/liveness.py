"""Cheap liveness probes of a camera's server, and the reconnect wait that polls them.

Reopening a camera is expensive (an RTSP handshake, FFmpeg probing the stream) and a refused connection fails in
milliseconds, so after a short outage the exponential backoff of a camera would reach its cap (30 s) long before
the server came back. Instead, while a camera waits out its backoff, :func:`wait_before_retry` asks a probe every
``poll_s`` whether the server answers again; when a server that was down answers, the camera reopens at once.

A probe that answers from the start of the wait does not cut it short: the server is up and the failure was
something else (wrong password, wrong path, no video), which retrying at once would not fix.

Probes:

* RTSP (``rtsp://``): an ``OPTIONS`` request; any RTSP reply (even ``401``) counts as alive. A frozen server whose
  kernel still accepts connections does not reply, so its return is noticed too.
* ``rtsps://`` and ``http(s)://``: a TCP connect to the server's port.
* Files and webcams have no server to ask: they keep the plain backoff.
"""

from __future__ import annotations

import enum
import random
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from streamer.sources.settings import CameraSettings, SourceKind

__all__ = [
    "LivenessProbe",
    "RetryOutcome",
    "backoff_delay",
    "probe_for",
    "rtsp_options_probe",
    "tcp_probe",
    "wait_before_retry",
]

LivenessProbe = Callable[[], bool]
"""Returns whether the camera's server answers now; never raises, returns within about its timeout."""

_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
# An answer slower than this counts as no answer: the probe runs between two polls of the wait.
_PROBE_TIMEOUT_S = 0.5


class RetryOutcome(enum.Enum):
    """How a reconnect wait ended."""

    STOPPED = "stopped"
    """The camera was stopped during the wait."""
    BACKOFF_ELAPSED = "backoff_elapsed"
    """The whole backoff passed."""
    SERVER_RETURNED = "server_returned"
    """The server was down during the wait and answers again: reopen now."""


def backoff_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(max_s, initial_s * 2**attempt)]``.

    Full jitter spreads the reconnects of many cameras that failed together (e.g. a switch reboot).

    Args:
        attempt: failures in a row before this one (0 for the first).
        initial_s: the cap after the first failure.
        max_s: the largest cap.
        rng: the random source (seeded in tests).
    """
    cap = min(max_s, initial_s * 2.0 ** min(attempt, 62))
    return rng.uniform(0.0, cap)


def tcp_probe(host: str, port: int, timeout_s: float = _PROBE_TIMEOUT_S) -> LivenessProbe:
    """A probe that connects to ``host:port`` (and closes at once)."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return True
        except OSError:
            return False

    return probe


def rtsp_options_probe(host: str, port: int, url: str, timeout_s: float = _PROBE_TIMEOUT_S) -> LivenessProbe:
    """A probe that sends an RTSP ``OPTIONS`` request; alive when any RTSP status line comes back.

    Args:
        url: the request URL, *without* credentials (OPTIONS needs no authentication, and nothing secret travels).
    """
    request = f"OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: vehiclewatch-probe\r\n\r\n".encode("ascii")

    def probe() -> bool:
        deadline = time.monotonic() + timeout_s
        try:
            with socket.create_connection((host, port), timeout=timeout_s) as sock:
                sock.sendall(request)
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                return sock.recv(16).startswith(b"RTSP/")
        except (OSError, ValueError):
            return False

    return probe


def probe_for(settings: CameraSettings) -> LivenessProbe | None:
    """The liveness probe of a camera's source, or ``None`` for sources without a server (files, webcams)."""
    if not settings.kind.is_live or settings.kind is SourceKind.WEBCAM:
        return None
    try:
        # The redacted form keeps scheme, host, port and path: the probe never handles the credentials.
        parts = urlsplit(settings.redacted_source.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # a malformed port: the open reports it
        return None
    scheme = parts.scheme.lower()
    if not host:
        return None
    port = port if port is not None else _DEFAULT_PORTS.get(scheme)
    if port is None:
        return None
    if scheme == "rtsp":
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return rtsp_options_probe(host, port, f"rtsp://{netloc}{parts.path or '/'}")
    return tcp_probe(host, port)


def wait_before_retry(
    delay_s: float, stop: threading.Event, probe: LivenessProbe | None, poll_s: float = 0.5
) -> RetryOutcome:
    """Waits out a reconnect backoff, ending early when the camera is stopped or its server comes back.

    Args:
        delay_s: the backoff.
        stop: set when the camera is stopped.
        probe: the camera's liveness probe; ``None`` waits the plain backoff.
        poll_s: seconds between probes.
    """
    deadline = time.monotonic() + delay_s
    if probe is None:
        return RetryOutcome.STOPPED if stop.wait(delay_s) else RetryOutcome.BACKOFF_ELAPSED
    server_was_down = False
    while True:
        if stop.is_set():
            return RetryOutcome.STOPPED
        answered = probe()
        if answered and server_was_down:
            return RetryOutcome.SERVER_RETURNED
        server_was_down = server_was_down or not answered
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return RetryOutcome.BACKOFF_ELAPSED
        if stop.wait(min(poll_s, remaining)):
            return RetryOutcome.STOPPED
