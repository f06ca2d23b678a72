"""The Redis a client command (`alerts tail`, `watchlist add/list/...`) talks to, read the way `run` reads it: the
``redis`` section of a config file, ``VEHICLEWATCH_REDIS__*`` variables above it, the flags above both
(:func:`streamer.service.config.load_client_settings`); never an embedded server of its own (that one belongs to
`run`, and a client reaches it on 127.0.0.1:``redis.embedded_port``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from streamer.cli.options import embedded_redis_port_option

if TYPE_CHECKING:
    from redisbus.connection import RedisConnection
    from streamer.service.config import ClientSettings

_Command = TypeVar("_Command", bound=Callable[..., Any])

_redis_url_option = click.option(
    "--redis-url",
    help=(
        "Redis URL (env VEHICLEWATCH_REDIS__URL; default: the embedded Redis of a running `vehiclewatch run`). "
        "Prefer the variable or a config file for a URL with a password: command lines are visible to other users."
    ),
)


def redis_options(command: _Command) -> _Command:
    """``--redis-url`` and ``--embedded-redis-port``, given to ``command`` as ``redis_url`` and
    ``embedded_redis_port``; pass them to :func:`client_settings`."""
    return _redis_url_option(embedded_redis_port_option(command))


def client_settings(config_path: Path | None, redis_url: str | None, embedded_redis_port: int | None) -> ClientSettings:
    """The config file's redis, alerts and watchlist sections with the environment and the flags applied.

    Raises:
        ConfigError: a bad key in those sections (a ``ValueError``: one line, exit 2 under ``clear_errors``).
    """
    from streamer.service.config import load_client_settings

    redis: dict[str, Any] = {}
    if redis_url is not None:
        redis["url"] = redis_url
    if embedded_redis_port is not None:
        redis["embedded_port"] = embedded_redis_port
    return load_client_settings(config_path, {"redis": redis} if redis else None)


def connect_redis(settings: ClientSettings) -> RedisConnection:
    """Connects to the configured Redis, or to the embedded one of a running service; raises ``ValueError``s."""
    from redisbus.connection import connect

    return connect(settings.redis, start_embedded=False)
