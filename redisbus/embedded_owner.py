"""Who owns an embedded Redis, so one left behind by a killed run does not block the next run.

The embedded server is a daemonised ``redis-server`` process: when the service is stopped properly it is shut down
with it, but when the service is killed (SIGKILL, the OOM killer, a supervisor's hard stop) it keeps running and
keeps its port. The restarted service would then refuse to start ("port in use") — exactly when an operator needs
it back. So each run records, per embedded port, the server's pid and its own (with the process start time, so a
reused pid is not taken for the owner) in ``run/`` of the data directory. A later run that finds the port busy
stops the server when that record says its owner is gone; a server whose owner still runs (another vehiclewatch
on the same port) is left alone and the port stays refused.

Stopping is SIGTERM: Redis then writes out its append-only file and exits, so nothing acknowledged is lost.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from redisbus.data_dir import default_data_dir

logger = logging.getLogger(__name__)

RUN_SUBDIR = "run"
_STOP_WAIT_S = 10.0


@dataclass(frozen=True)
class _Owner:
    redis_pid: int
    owner_pid: int
    owner_started: str | None  # /proc start time of the owner; None where /proc is not there


def _record_path(port: int) -> Path:
    return default_data_dir() / RUN_SUBDIR / f"embedded-redis-{port}.json"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces; the fields after it are plain.
    return stat[stat.rindex(")") + 2 :].split()[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to stop
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # A zombie (exited, not yet reaped: a container's init may be slow to) holds no port and no files.
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def _is_redis_server(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc to look in: trust the record
    return b"redis-server" in command


def record_owner(port: int, redis_pid: int) -> None:
    """Writes down that this process owns the embedded server on ``port`` (pid ``redis_pid``)."""
    if not port:
        return  # unix socket only: no port for a leftover server to block
    path = _record_path(port)
    owner = os.getpid()
    record = {"redis_pid": redis_pid, "owner_pid": owner, "owner_started": _start_time(owner)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(path)
    except OSError as exc:
        logger.warning("cannot record the embedded Redis's owner in %s: %s", path, exc.strerror)


def forget_owner(port: int) -> None:
    """Removes this process's record for ``port`` (the server was stopped)."""
    if not port:
        return
    path = _record_path(port)
    owner = _read(path)
    if owner is not None and owner.owner_pid == os.getpid():
        path.unlink(missing_ok=True)


def _read(path: Path) -> _Owner | None:
    try:
        data = json.loads(path.read_text())
        return _Owner(int(data["redis_pid"]), int(data["owner_pid"]), data.get("owner_started"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _owner_gone(owner: _Owner) -> bool:
    if not _alive(owner.owner_pid):
        return True
    started = _start_time(owner.owner_pid)
    return owner.owner_started is not None and started is not None and started != owner.owner_started


def stop_leftover(port: int) -> bool:
    """Stops the embedded server on ``port`` if a run that has ended left it running.

    Returns:
        True when such a server was found and stopped; False when there was none, or its owner still runs.
    """
    if not port:
        return False
    path = _record_path(port)
    owner = _read(path)
    if owner is None:
        return False
    if not _alive(owner.redis_pid) or not _is_redis_server(owner.redis_pid):
        path.unlink(missing_ok=True)  # the server is gone too: a stale record
        return False
    if not _owner_gone(owner):
        return False
    logger.warning(
        "stopping the embedded Redis (pid %d) left running on port %d by a vehiclewatch run (pid %d) that ended "
        "without stopping it",
        owner.redis_pid,
        port,
        owner.owner_pid,
    )
    os.kill(owner.redis_pid, signal.SIGTERM)  # Redis writes out its append-only file, then exits
    deadline = time.monotonic() + _STOP_WAIT_S
    while _alive(owner.redis_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(owner.redis_pid):
        logger.warning("the leftover embedded Redis (pid %d) ignored SIGTERM; killing it", owner.redis_pid)
        os.kill(owner.redis_pid, signal.SIGKILL)
        while _alive(owner.redis_pid) and time.monotonic() < deadline + _STOP_WAIT_S:
            time.sleep(0.05)
    path.unlink(missing_ok=True)
    return True
