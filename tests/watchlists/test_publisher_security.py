"""Redis security settings, for real: a password, an ACL user that may only write alerts, and TLS (``rediss://``)
with a certificate authority made here. Each against a ``redis-server`` process of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from redisbus.connection import RedisConnectionError, connect
from redisbus.settings import RedisSettings
from tests.redisbus.server import RedisServer
from tests.redisbus.support import NO_RETRY
from tests.watchlists.support import make_alert, stream_alerts
from watchlists.publisher import AlertPublisher
from watchlists.settings import AlertSettings

ADMIN_PASSWORD = "admin-Pw-4c1f"
PUBLISHER_PASSWORD = "pub-Pw-9e27"

# Exactly what the alert publisher needs (redisbus.xadd_once): PING at connect, EVAL of the write script, and in it
# EXISTS/SET of the seen keys, SET of the snapshot keys, XADD to the stream, PUBLISH on the channel.
PUBLISHER_ACL = [
    "on",
    f">{PUBLISHER_PASSWORD}",
    "resetkeys",
    "~vehiclewatch:alerts",
    "~vehiclewatch:alerts:seen:*",
    "~vehiclewatch:snapshot:*",
    "resetchannels",
    "&vehiclewatch:alerts",
    "-@all",
    "+ping",
    "+eval",
    "+exists",
    "+set",
    "+xadd",
    "+publish",
]


def crop() -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.full((40, 60, 3), 200, np.uint8)


def publish_two(client: redis.Redis) -> list[str]:
    """Publishes two alerts (one with a snapshot) through the publisher; their ids."""
    alerts = [make_alert(index=1), make_alert(index=2)]
    with AlertPublisher(client, AlertSettings()) as publisher:
        assert publisher.submit(alerts[0], crop())
        assert publisher.submit(alerts[1])
    assert publisher.stats().published == 2
    return [alert.alert_id for alert in alerts]


def test_password(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", ["--requirepass", ADMIN_PASSWORD])
    server.start(redis.Redis(port=server.port, password=ADMIN_PASSWORD, retry=NO_RETRY))
    try:
        with connect(RedisSettings(url=server.url, password=ADMIN_PASSWORD)) as connection:
            ids = publish_two(connection.client)
            assert [a.alert_id for a in stream_alerts(connection.client)] == ids
        for wrong in (None, "not-" + ADMIN_PASSWORD):
            with pytest.raises(RedisConnectionError, match=r"\(check the Redis password\)$") as caught:
                connect(RedisSettings(url=server.url, password=wrong, retries=0))
            assert ADMIN_PASSWORD not in str(caught.value)
    finally:
        server.stop()


def test_acl_user_that_may_only_write_alerts(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", ["--requirepass", ADMIN_PASSWORD, "--user", "alerts", *PUBLISHER_ACL])
    admin = redis.Redis(port=server.port, password=ADMIN_PASSWORD, retry=NO_RETRY)
    server.start(admin)
    try:
        admin.set("other:key", "private")
        url = f"redis://alerts:{PUBLISHER_PASSWORD}@127.0.0.1:{server.port}/0"
        with connect(RedisSettings(url=url, retries=0)) as connection:
            ids = publish_two(connection.client)
            # ... and nothing else: no reading, no other keys or channels, no administration.
            refused: list[Callable[[redis.Redis], object]] = [
                lambda c: c.flushall(),
                lambda c: c.get("other:key"),
                lambda c: c.set("other:key", "overwritten"),
                lambda c: c.xrange("vehiclewatch:alerts"),
                lambda c: c.keys("*"),
                lambda c: c.publish("other:channel", "x"),
                lambda c: c.xadd("other:stream", {"a": "b"}),
                lambda c: c.eval("return redis.call('GET', KEYS[1])", 1, "other:key"),  # a script is checked too
                lambda c: c.config_get("requirepass"),
            ]
            for command in refused:
                with pytest.raises(redis.exceptions.NoPermissionError):
                    command(connection.client)
        arrived = stream_alerts(admin)
        assert [a.alert_id for a in arrived] == ids
        assert arrived[0].snapshot_key is not None
        assert admin.exists(arrived[0].snapshot_key)
        assert admin.get("other:key") == b"private"
    finally:
        admin.close()
        server.stop()


def test_tls_with_a_certificate_authority_made_here(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme", reason="the dev extra's trustme makes the test CA")
    ca = trustme.CA()
    server_cert = ca.issue_cert("localhost", "127.0.0.1")
    client_cert = ca.issue_cert("vehiclewatch-client")
    files = {
        "ca": tmp_path / "ca.pem",
        "server": tmp_path / "server.pem",
        "client": tmp_path / "client.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(files["server"]))
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(files["client"]))
    # Mutual TLS: the server checks the client's certificate too (tls-auth-clients yes is the default).
    options = ["--tls-cert-file", str(files["server"]), "--tls-key-file", str(files["server"])]
    options += ["--tls-ca-cert-file", str(files["ca"]), "--requirepass", ADMIN_PASSWORD]
    server = RedisServer(tmp_path / "redis", options, tls=True)
    admin = redis.Redis(
        port=server.port,
        password=ADMIN_PASSWORD,
        retry=NO_RETRY,
        ssl=True,
        ssl_ca_certs=str(files["ca"]),
        ssl_certfile=str(files["client"]),
    )
    server.start(admin)
    try:
        query = f"ssl_ca_certs={files['ca']}&ssl_certfile={files['client']}"
        url = f"rediss://localhost:{server.port}/0?{query}"
        with connect(RedisSettings(url=url, password=ADMIN_PASSWORD)) as connection:
            ids = publish_two(connection.client)
        assert [a.alert_id for a in stream_alerts(admin)] == ids
        # Plain TCP to the TLS port, a server the CA does not vouch for, and no client certificate: all refused.
        for bad in (
            f"redis://127.0.0.1:{server.port}/0",
            f"rediss://localhost:{server.port}/0?ssl_certfile={files['client']}",
            f"rediss://localhost:{server.port}/0?ssl_ca_certs={files['ca']}",
        ):
            with pytest.raises(RedisConnectionError) as caught:
                connect(RedisSettings(url=bad, password=ADMIN_PASSWORD, retries=0, connect_timeout_s=2))
            assert str(caught.value).startswith("cannot connect to Redis at ")
            assert "\n" not in str(caught.value)
            assert ADMIN_PASSWORD not in str(caught.value)
    finally:
        admin.close()
        server.stop()
