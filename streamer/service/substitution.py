"""`${NAME}` placeholders in configuration values, filled from the environment or from secret files.

Secrets (RTSP passwords, Redis passwords) stay out of config files: write
``rtsp://admin:${CAM1_PASSWORD}@10.0.0.5/stream`` and set ``CAM1_PASSWORD``, or point ``CAM1_PASSWORD_FILE`` at a
file holding it (Docker/Kubernetes secrets). ``$${`` escapes a literal ``${``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SubstitutionError(ValueError):
    """A placeholder names a variable that is not set."""


def _lookup(name: str, environ: Mapping[str, str], where: str) -> str:
    if name in environ:
        return environ[name]
    secret_file = environ.get(f"{name}_FILE")
    if secret_file:
        try:
            return Path(secret_file).read_text().strip()
        except OSError as exc:
            raise SubstitutionError(f"{where}: cannot read {name}_FILE ({secret_file}): {exc.strerror}") from exc
    raise SubstitutionError(f"{where}: environment variable {name} is not set (nor {name}_FILE)")


def substitute(value: Any, environ: Mapping[str, str] | None = None, where: str = "config") -> Any:
    """Returns ``value`` (a YAML tree) with every ``${NAME}`` in its strings replaced."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: "${" if m.group(1) is None else _lookup(m.group(1), env, where), value)
    if isinstance(value, list):
        return [substitute(v, env, f"{where}.{i}") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: substitute(v, env, f"{where}.{k}") for k, v in value.items()}
    return value
