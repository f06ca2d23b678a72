"""Camera leases and worker registrations in Redis: who reads which camera, fenced, expiring on their own.

Keys (under the fleet's ``key_prefix``):

* ``lease:<camera>`` — ``<worker>|<instance>|<token>``, set only when absent (``SET NX`` semantics) with a TTL
  (``PX``); the owner extends it each reload cycle by compare-and-extend, so only the holder of that exact value
  (worker, process instance *and* token) can renew or release it;
* ``tokens`` — a hash: camera → the last fencing token, incremented by every successful claim (``HINCRBY``), so a
  later owner's messages always carry a larger token than an earlier one's;
* ``claims`` — a hash: camera → ``held|<worker>`` or ``released|<worker>``: a claim that finds ``held`` took
  over from a worker whose lease ran out (a take-over), one that finds ``released`` took a graceful hand-over;
* ``worker:<id>`` — the worker's registration (JSON: instance, capacity, host, pid), expiring like a lease: two
  live processes can never hold one worker id.

Each step is one Lua script, so a claim, its token and its bookkeeping happen atomically.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

import redis

_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. token, 'NX', 'PX', ARGV[4])
local previous = redis.call('HGET', KEYS[3], ARGV[1]) or ''
redis.call('HSET', KEYS[3], ARGV[1], 'held|' .. ARGV[2])
return {token, previous}
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], ARGV[2], 'released|' .. ARGV[3])
  return 1
end
return 0
"""

_REGISTER = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if not ok or type(decoded) ~= 'table' or decoded['instance'] ~= ARGV[2] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""

_UNREGISTER = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, decoded = pcall(cjson.decode, current)
if ok and type(decoded) == 'table' and decoded['instance'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class Lease:
    """A camera lease this process holds: the fencing token orders it against every other claim of the camera."""

    camera_id: str
    worker_id: str
    instance: str
    token: int
    took_over: bool = False
    """The previous owner's lease ran out instead of being released (it died or lost Redis)."""

    @property
    def value(self) -> str:
        return f"{self.worker_id}|{self.instance}|{self.token}"


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    """Who holds a camera's lease now, as stored (any process may read it)."""

    camera_id: str
    worker_id: str
    token: int


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A registered worker, as it advertises itself."""

    worker_id: str
    instance: str
    capacity: int
    owned: int
    host: str
    pid: int
    started_at: float


class WorkerIdInUseError(ValueError):
    """Another live process holds this worker id."""


class LeaseTable:
    """The fleet's leases and worker registrations for one worker process (or a read-only client: ``cameras list``).

    Args:
        client: the Redis client (short socket timeouts: a renewal must fail fast, not hang past the lease).
        prefix: the fleet's key prefix.
        worker_id: this worker's id ("" for a read-only client).
        ttl_s: lease and registration lifetime.
    """

    def __init__(self, client: redis.Redis, prefix: str, worker_id: str = "", ttl_s: float = 10.0) -> None:
        self.client = client
        self.prefix = prefix
        self.worker_id = worker_id
        self.instance = uuid.uuid4().hex
        self.ttl_ms = max(int(ttl_s * 1000), 1)
        self.tokens_key = f"{prefix}:tokens"
        self.claims_key = f"{prefix}:claims"
        self.started_at = time.time()
        r: Any = client  # redis-py's register_script is untyped
        self._claim = r.register_script(_CLAIM)
        self._renew = r.register_script(_RENEW)
        self._release = r.register_script(_RELEASE)
        self._register = r.register_script(_REGISTER)
        self._unregister = r.register_script(_UNREGISTER)

    def lease_key(self, camera_id: str) -> str:
        return f"{self.prefix}:lease:{camera_id}"

    def worker_key(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    def status_key(self, camera_id: str) -> str:
        return f"{self.prefix}:status:{camera_id}"

    # --- leases ------------------------------------------------------------------------------------------------

    def claim(self, camera_id: str) -> Lease | None:
        """Claims a camera whose lease is free; None when another worker holds it."""
        result = self._claim(
            keys=[self.lease_key(camera_id), self.tokens_key, self.claims_key],
            args=[camera_id, self.worker_id, self.instance, self.ttl_ms],
        )
        if not result:
            return None
        token, previous = int(result[0]), _text(result[1])
        return Lease(camera_id, self.worker_id, self.instance, token, took_over=previous.startswith("held|"))

    def renew(self, lease: Lease) -> bool:
        """Extends a lease this process holds; False when it is no longer ours (expired, taken)."""
        return bool(self._renew(keys=[self.lease_key(lease.camera_id)], args=[lease.value, self.ttl_ms]))

    def release(self, lease: Lease) -> bool:
        """Gives a lease up (a hand-over: the next claim is no take-over); False when it was no longer ours."""
        return bool(
            self._release(
                keys=[self.lease_key(lease.camera_id), self.claims_key],
                args=[lease.value, lease.camera_id, self.worker_id],
            )
        )

    def owners(self, camera_ids: list[str]) -> dict[str, LeaseOwner]:
        """The current owner of each camera that has one (one MGET: N key reads, one round trip)."""
        if not camera_ids:
            return {}
        values = cast(list[Any], self.client.mget([self.lease_key(c) for c in camera_ids]))
        out: dict[str, LeaseOwner] = {}
        for camera_id, raw in zip(camera_ids, values, strict=True):
            if raw is None:
                continue
            parts = _text(raw).split("|")
            if len(parts) == 3 and parts[2].isdigit():
                out[camera_id] = LeaseOwner(camera_id, parts[0], int(parts[2]))
        return out

    # --- worker registration ---------------------------------------------------------------------------------

    def register(self, capacity: int, owned: int) -> bool:
        """Registers (or refreshes) this worker; False when another live process holds the worker id."""
        info = {
            "instance": self.instance,
            "worker_id": self.worker_id,
            "capacity": capacity,
            "owned": owned,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at,
        }
        return bool(
            self._register(keys=[self.worker_key(self.worker_id)], args=[json.dumps(info), self.instance, self.ttl_ms])
        )

    def register_at_start(self, capacity: int, wait_s: float) -> None:
        """Registers this worker, waiting up to ``wait_s`` for a previous holder's registration to expire (a
        restarted pod keeps its id: its dead predecessor's registration lapses within one TTL).

        Raises:
            WorkerIdInUseError: another live process still holds the id.
        """
        deadline = time.monotonic() + wait_s
        while not self.register(capacity, 0):
            if time.monotonic() >= deadline:
                holder = self.worker(self.worker_id)
                where = f" (host {holder.host}, pid {holder.pid})" if holder is not None else ""
                raise WorkerIdInUseError(
                    f"worker id {self.worker_id!r} is already used by a running worker{where}: give each worker its "
                    "own id (--worker-id, fleet.worker_id or VEHICLEWATCH_FLEET__WORKER_ID)"
                )
            time.sleep(min(0.2, self.ttl_ms / 5000))

    def unregister(self) -> None:
        self._unregister(keys=[self.worker_key(self.worker_id)], args=[self.instance])

    def worker(self, worker_id: str) -> WorkerInfo | None:
        raw = self.client.get(self.worker_key(worker_id))
        return _worker_info(raw) if raw is not None else None

    def workers(self) -> list[WorkerInfo]:
        """Every registered (live) worker, by id."""
        keys = list(self.client.scan_iter(match=f"{self.prefix}:worker:*", count=500))
        if not keys:
            return []
        values = cast(list[Any], self.client.mget(keys))
        found = [_worker_info(v) for v in values if v is not None]
        return sorted((w for w in found if w is not None), key=lambda w: w.worker_id)


def _worker_info(raw: Any) -> WorkerInfo | None:
    try:
        data = json.loads(_text(raw))
        return WorkerInfo(
            worker_id=str(data["worker_id"]),
            instance=str(data["instance"]),
            capacity=int(data["capacity"]),
            owned=int(data.get("owned", 0)),
            host=str(data.get("host", "")),
            pid=int(data.get("pid", 0)),
            started_at=float(data.get("started_at", 0.0)),
        )
    except (ValueError, KeyError, TypeError):
        return None
