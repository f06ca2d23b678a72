"""Credential redaction for camera URLs, free text and log records.

Camera URLs carry passwords (``rtsp://admin:secret@cam/stream``, ``http://cam/mjpg?password=secret``) and OpenCV or
FFmpeg error messages may repeat them. Everything that leaves a camera reader (log lines, exception messages, reprs,
stats) goes through :func:`redact_text` first; :class:`RedactingFilter` is the last line of defence on log handlers.

Redaction favours safety over fidelity: the user-info part of a URL is taken to end at the *last* ``@`` of the URL, so
a password containing an unescaped ``/``, ``#`` or ``?`` is still hidden, at the price of hiding more than needed in
the rare URL whose path or query contains an ``@``.

Example:
    >>> redact_url("rtsp://admin:secret@10.0.0.5:554/stream1?token=abc&channel=2")
    'rtsp://***:***@10.0.0.5:554/stream1?token=***&channel=2'
"""

from __future__ import annotations

import logging
import re

__all__ = ["MASK", "RedactingFilter", "install_redacting_filter", "redact_text", "redact_url"]

MASK = "***"

# Query parameters whose values are secrets (compared case-insensitively).
_SECRET_PARAMS = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "token",
    "access_token",
    "auth",
    "authorization",
    "key",
    "api_key",
    "apikey",
    "secret",
    "signature",
    "sig",
)
_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
# In free text a URL may have passed through a path normalisation (``Path("rtsp://u:p@h/s")`` prints
# ``rtsp:/u:p@h/s``): one slash is enough there.
_SCHEME_IN_TEXT = r"[A-Za-z][A-Za-z0-9+.\-]*:/{1,2}"
# A URL inside free text ends at whitespace, a quote or an angle bracket, except that its user info runs to the
# last '@' before whitespace, so a password holding a quote or bracket is still covered.
_URL_IN_TEXT = re.compile(_SCHEME_IN_TEXT + r"(?:\S*@)?[^\s'\"<>]*")
_SECRET_QUERY = re.compile(r"([?&;](?:" + "|".join(_SECRET_PARAMS) + r")=)[^&;#]*", re.IGNORECASE)


def _redact_one(url: str) -> str:
    """Redacts one URL that starts with a scheme (``url`` is the whole URL, nothing around it)."""
    match = re.match(_SCHEME_IN_TEXT, url)
    scheme_end = match.end() if match is not None else 0
    rest = url[scheme_end:]
    at = rest.rfind("@")
    if at >= 0:
        rest = f"{MASK}:{MASK}@" + rest[at + 1 :]
    return url[:scheme_end] + _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, rest)


def redact_url(url: str) -> str:
    """Returns ``url`` with its user name, password and secret query values replaced by ``***``.

    Strings that are not URLs (file paths, webcam indices) come back unchanged.

    Args:
        url: a camera source, e.g. ``rtsp://user:pass@host:554/path``.

    Returns:
        The URL with scheme, host, port and path kept and ``***:***@`` in place of any credentials.
    """
    if re.match(_SCHEME, url) is None:
        return url
    return _redact_one(url)


def redact_text(text: str) -> str:
    """Redacts every URL inside free text, e.g. an OpenCV or FFmpeg error message.

    Args:
        text: any text.

    Returns:
        The text with each URL passed through :func:`redact_url`.
    """
    if ":/" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: _redact_one(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts credentials in a record's message, arguments and traceback text.

    The message is formatted with its arguments first (so a URL passed as ``%s`` argument is caught too) and the
    record is left with no arguments. Filters on a *logger* only see records logged to that very logger; to catch
    records from every module, put the filter on the handlers (see :func:`install_redacting_filter`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrites ``record`` in place; never drops it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep both, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback is redacted once, here.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def install_redacting_filter(logger: logging.Logger | None = None) -> RedactingFilter:
    """Adds one :class:`RedactingFilter` to ``logger`` (the root logger by default) and to each of its handlers.

    Call it after logging is configured: handlers added later do not get the filter.

    Args:
        logger: the logger to protect; ``None`` for the root logger.

    Returns:
        The installed filter (remove it with ``removeFilter`` on the same objects).
    """
    target = logger if logger is not None else logging.getLogger()
    redacting = RedactingFilter()
    target.addFilter(redacting)
    for handler in target.handlers:
        handler.addFilter(redacting)
    return redacting
