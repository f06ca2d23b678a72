"""Secret settings values: their every display form is redacted, their real value comes only on request.

A config value that is, or may hold, a credential is typed as a secret: :class:`SecretUrl` for a URL (a camera
source, ``redis.url``), pydantic's ``SecretStr`` for a bare password or token. ``str()``, ``repr()``, f-strings and
``format``, ``%s``, ``model_dump(mode="json")`` and ``model_dump_json()`` of the value, and of every model that holds
it, give the redacted form only; nothing can print the secret by accident, whatever path the value takes to a log
line, an error message or ``vehiclewatch config check``. The real value is read with ``get_secret_value()`` where a
connection is opened (the camera capture, the Redis client) and nowhere else.

Example:
    >>> url = SecretUrl("rtsp://admin:hunter2@10.0.0.5/stream?token=abc")
    >>> print(url)
    rtsp://***:***@10.0.0.5/stream?token=***
    >>> url
    SecretUrl('rtsp://***:***@10.0.0.5/stream?token=***')
    >>> url.get_secret_value()
    'rtsp://admin:hunter2@10.0.0.5/stream?token=abc'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Secret, StringConstraints

from common.redaction import redact_url

__all__ = ["SecretUrl"]


class SecretUrl(Secret[Annotated[str, StringConstraints(min_length=1)]]):
    """A URL whose user info and secret query values are hidden wherever it is shown.

    The display form is :func:`common.redaction.redact_url` of the value: scheme, host, port and path stay readable
    (an operator can tell which camera or server is meant), ``user:password@`` and secret query values
    (``token=``, ``password=``, ...) become ``***``. A value that is no URL (a file path, a webcam index) shows as it
    is. Pydantic validates a non-empty string into it, and an instance of it as itself.
    """

    def _display(self) -> str:
        return redact_url(self.get_secret_value())
