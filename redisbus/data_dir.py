"""Where vehiclewatch keeps what must outlive a run: the embedded Redis's data and the alert spool.

``$XDG_DATA_HOME/vehiclewatch`` when that variable is set, else ``~/.local/share/vehiclewatch`` (the XDG default),
the same convention as the training cache's ``$XDG_CACHE_HOME``. Looked up when a setting leaves its directory
unset, not at import, so a test (or a service unit) that sets ``XDG_DATA_HOME`` moves everything at once.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "vehiclewatch"
EMBEDDED_REDIS_SUBDIR = "redis"
SPOOL_SUBDIR = "spool"


def default_data_dir() -> Path:
    """The data directory: ``$XDG_DATA_HOME/vehiclewatch``, else ``~/.local/share/vehiclewatch``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR_NAME


def embedded_redis_dir(configured: Path | None) -> Path:
    """The embedded Redis's directory: the configured one, else ``redis/`` in the data directory."""
    return configured if configured is not None else default_data_dir() / EMBEDDED_REDIS_SUBDIR


def spool_dir(configured: Path | None) -> Path:
    """The spool's directory: the configured one, else ``spool/`` in the data directory."""
    return configured if configured is not None else default_data_dir() / SPOOL_SUBDIR
