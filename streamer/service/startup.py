"""The one error the service's start raises for the operator."""

from __future__ import annotations


class StartupError(RuntimeError):
    """The service cannot start; the message is one line for the operator."""
