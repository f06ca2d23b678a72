"""The Redis a client command (`alerts tail`, `watchlist add/list/...`) talks to: the ``redis`` section of a config
file, overridden by ``--redis-url``; never an embedded server of its own (that one belongs to `run`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from redisbus.connection import RedisConnection

redis_option = click.option(
    "--redis-url", envvar="VEHICLEWATCH_REDIS__URL", help="Redis URL (default: the service's embedded one)."
)


def read_sections(config_path: Path | None) -> dict[str, Any]:
    """The raw sections of the config file (none without a file); each command validates the ones it uses."""
    if config_path is None:
        return {}
    from streamer.service.config import read_yaml

    return read_yaml(config_path)


def connect_redis(sections: dict[str, Any], redis_url: str | None) -> RedisConnection:
    """Connects to the Redis of the ``redis`` section, or ``redis_url``; raises ``ValueError``s on bad input."""
    from redisbus.connection import connect
    from redisbus.settings import RedisSettings

    settings = RedisSettings(**sections.get("redis", {}))
    if redis_url is not None:
        settings = settings.model_copy(update={"url": redis_url})
    return connect(settings, start_embedded=False)
