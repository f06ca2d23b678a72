"""Secret settings values: every display form redacted, the real value only on request."""

from __future__ import annotations

import json
import logging

import pydantic
import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from common.secrets import SecretUrl

URL = "rtsp://admin:hunter2@10.0.0.5:554/live?token=tk-991&channel=2"
SHOWN = "rtsp://***:***@10.0.0.5:554/live?token=***&channel=2"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: SecretUrl
    password: SecretStr | None = None


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    sections: tuple[_Section, ...]
    optional: SecretUrl | None = None


def test_every_display_form_is_redacted() -> None:
    url = SecretUrl(URL)
    printf = "%s" % url  # noqa: UP031 - the style logging uses
    forms = [str(url), repr(url), f"{url}", f"{url!r}", printf, format(url, ""), json.dumps(url, default=str)]
    assert all("hunter2" not in form and "tk-991" not in form for form in forms)
    assert str(url) == SHOWN
    assert repr(url) == f"SecretUrl({SHOWN!r})"
    assert url.get_secret_value() == URL


def test_models_holding_secrets_show_them_redacted_in_every_dump() -> None:
    settings = _Settings(sections=({"url": URL, "password": "pw-4471"},), optional=URL)
    dumps = [
        repr(settings),
        str(settings),
        json.dumps(settings.model_dump(mode="json")),
        settings.model_dump_json(),
        repr(settings.model_dump()),  # python mode keeps the secret objects, whose repr is redacted
    ]
    for text in dumps:
        for secret in ("hunter2", "tk-991", "pw-4471"):
            assert secret not in text, text
    assert settings.model_dump(mode="json")["sections"][0]["url"] == SHOWN


def test_a_python_dump_validates_back_to_the_same_secrets() -> None:
    settings = _Settings(sections=({"url": URL},), optional=None)
    again = _Settings(**settings.model_dump())
    assert again == settings
    assert again.sections[0].url.get_secret_value() == URL


def test_non_urls_show_as_they_are() -> None:
    for value in ("/videos/highway.mp4", "0", "/dev/video0", "redis://cache:6379/0"):
        assert str(SecretUrl(value)) == value


def test_validation_refuses_empty_and_non_strings_without_echoing_input() -> None:
    class Hidden(BaseModel):
        model_config = ConfigDict(hide_input_in_errors=True)
        url: SecretUrl

    with pytest.raises(pydantic.ValidationError, match="at least 1 character"):
        Hidden(url="")
    with pytest.raises(pydantic.ValidationError) as error:
        Hidden(url=["rtsp://a:hunter2@h/s"])
    assert "hunter2" not in str(error.value)


def test_logging_a_secret_shows_it_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("test").info("opening %s, then %r", SecretUrl(URL), SecretStr("pw-4471"))
    assert "hunter2" not in caplog.text
    assert "pw-4471" not in caplog.text
    assert SHOWN in caplog.text
