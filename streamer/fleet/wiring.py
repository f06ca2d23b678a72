"""The fleet's own Redis client: the service's server and credentials, with timeouts short enough that a cycle
fails fast instead of hanging past a lease while Redis is away."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from streamer.fleet.settings import FleetSettings


def fleet_client(client: redis.Redis, settings: FleetSettings) -> redis.Redis:
    """A client on the same server as ``client``, timing out within a third of a reload cycle (at least 0.2 s)."""
    pool: Any = client.connection_pool
    timeout = max(settings.reload_interval_s / 3, 0.2)
    kwargs = dict(pool.connection_kwargs)
    kwargs.update(socket_timeout=timeout, retry=Retry(NoBackoff(), 0))
    if "socket_connect_timeout" in kwargs or pool.connection_class is not redis.UnixDomainSocketConnection:
        kwargs["socket_connect_timeout"] = timeout
    kwargs.pop("retry_on_timeout", None)
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))
