"""Credential redaction: URLs, free text, log records."""

from __future__ import annotations

import logging
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.redaction import RedactingFilter, install_redacting_filter, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:secret@10.0.0.5:554/stream1", "rtsp://***:***@10.0.0.5:554/stream1"),
        ("rtsps://admin:secret@cam.example.com/live", "rtsps://***:***@cam.example.com/live"),
        ("http://user:pw@cam:8080/video.mjpg", "http://***:***@cam:8080/video.mjpg"),
        ("rtsp://onlyuser@cam/stream", "rtsp://***:***@cam/stream"),
        # unescaped specials in the password are still hidden (user info ends at the last '@')
        ("rtsp://admin:p@ss/w#rd?x@cam:554/s", "rtsp://***:***@cam:554/s"),
        ("rtsp://admin:p%40ss@cam/s", "rtsp://***:***@cam/s"),
        ("http://cam/mjpg?user=me&password=secret&res=hd", "http://cam/mjpg?user=me&password=***&res=hd"),
        ("https://cam/x.m3u8?token=abc123", "https://cam/x.m3u8?token=***"),
        ("http://cam/x?KEY=abc;auth=def", "http://cam/x?KEY=***;auth=***"),
        ("http://cam/x?api_key=abc#frag", "http://cam/x?api_key=***#frag"),
        ("http://cam/x?monkey=banana", "http://cam/x?monkey=banana"),
        ("rtsp://10.0.0.5:554/stream1", "rtsp://10.0.0.5:554/stream1"),
        ("/videos/highway.mp4", "/videos/highway.mp4"),
        ("0", "0"),
        ("", ""),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact_url(redact_url(url)) == expected  # idempotent


def test_redact_text_finds_every_url() -> None:
    text = (
        "open 'rtsp://a:pw1@cam1/s' failed; retry \"http://b:pw2@cam2:81/v?token=tk3\" "
        "and <rtsps://c:pw4@cam3/x> then rtsp://cam4/plain"
    )
    redacted = redact_text(text)
    for secret in ("pw1", "pw2", "tk3", "pw4"):
        assert secret not in redacted
    assert "rtsp://***:***@cam1/s" in redacted
    assert "http://***:***@cam2:81/v?token=***" in redacted
    assert "rtsps://***:***@cam3/x" in redacted
    assert "rtsp://cam4/plain" in redacted
    assert redact_text("no urls here, password=plain text") == "no urls here, password=plain text"


_PASSWORD_CHARS = string.ascii_letters + string.digits + "!$&'()*+,;=%-._~:@/?#[]"


@given(
    user=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12),
    password=st.text(alphabet=_PASSWORD_CHARS, min_size=6, max_size=24),
)
def test_password_never_survives(user: str, password: str) -> None:
    url = f"rtsp://{user}:{password}@cam.local:554/Streaming/Channels/101"
    redacted = redact_url(url)
    assert redacted == "rtsp://***:***@cam.local:554/Streaming/Channels/101"
    assert password not in redact_text(f"cv2 error while opening {url}: timeout")


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ConnectionError("cannot reach rtsp://admin:hunter2@cam/s")
        except ConnectionError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord("t", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_filter_redacts_message_args_and_traceback() -> None:
    record = _record("camera %s failed: %s", "gate", "rtsp://admin:hunter2@cam/s", exc=True)
    assert RedactingFilter().filter(record) is True
    formatted = logging.Formatter("%(message)s").format(record)
    assert "hunter2" not in formatted
    assert "camera gate failed: rtsp://***:***@cam/s" in formatted
    assert "ConnectionError" in formatted  # the traceback is kept, redacted


def test_filter_survives_arguments_that_do_not_fit() -> None:
    record = _record("camera %s failed", "gate", "rtsp://admin:hunter2@cam/s")
    assert RedactingFilter().filter(record)
    assert "hunter2" not in record.getMessage()
    assert "rtsp://***:***@cam/s" in record.getMessage()


def test_filter_on_caplog_handler(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RedactingFilter())
    log = logging.getLogger("streamer.some.module")
    with caplog.at_level(logging.INFO):
        log.info("opening %s", "rtsp://admin:hunter2@cam/s")
        log.warning("token in query http://cam/v?token=abcdef")
        try:
            raise OSError("rtsp://admin:hunter2@cam/s refused")
        except OSError:
            log.exception("failed")
    assert "hunter2" not in caplog.text
    assert "abcdef" not in caplog.text
    assert "rtsp://***:***@cam/s" in caplog.text


def test_install_on_root_logger_covers_its_handlers() -> None:
    root = logging.getLogger()
    records: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = ListHandler()
    root.addHandler(handler)
    try:
        installed = install_redacting_filter()
        try:
            logging.getLogger("streamer.sources.camera.test").error("cannot open %s", "rtsp://u:topsecret@cam/s")
        finally:
            root.removeFilter(installed)
            for each in root.handlers:
                each.removeFilter(installed)
    finally:
        root.removeHandler(handler)
    assert records == ["cannot open rtsp://***:***@cam/s"]
