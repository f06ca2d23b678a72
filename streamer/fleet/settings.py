"""Settings of the fleet: the camera registry's Redis keys and how a worker claims, keeps and hands over cameras.

A settings-only module (pydantic, no runtime code), so loading a config never imports the fleet's machinery.
"""

from __future__ import annotations

import re
import socket

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_PREFIX = "vehiclewatch:fleet"
_WORKER_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_ORDINAL = re.compile(r"-(\d+)$")


def default_worker_id() -> str:
    """The host name (a StatefulSet pod's name, e.g. ``vehiclewatch-2``), made a valid worker id."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "-", socket.gethostname())[:64]
    return name or "worker"


class ShardSettings(BaseModel):
    """Optional static placement: a worker claims only the cameras whose id hashes to its shard."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Shards (the StatefulSet's replicas); null: no static placement, any worker claims any camera. With "
            "shards, a dead worker's cameras wait for it to come back (Kubernetes restarts it) instead of moving."
        ),
    )
    index: int | None = Field(
        default=None,
        ge=0,
        description="This worker's shard; null: the trailing number of the worker id (a StatefulSet ordinal).",
    )

    def resolved_index(self, worker_id: str) -> int | None:
        """This worker's shard, or None without static placement.

        Raises:
            ValueError: shards are set, no index is, and the worker id ends in no ordinal.
        """
        if self.count is None:
            return None
        if self.index is not None:
            index = self.index
        else:
            found = _ORDINAL.search(worker_id)
            if found is None:
                raise ValueError(
                    f"fleet.shard.count is set but worker id {worker_id!r} ends in no ordinal (like 'vehiclewatch-2'): "
                    "set fleet.shard.index"
                )
            index = int(found.group(1))
        if index >= self.count:
            raise ValueError(f"fleet.shard.index {index} is not below fleet.shard.count {self.count}")
        return index


class FleetSettings(BaseModel):
    """The camera registry and the worker's leases (``vehiclewatch run --worker``, ``vehiclewatch cameras``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker: bool = Field(
        default=False,
        description=(
            "Run as a fleet worker: cameras come from the registry in Redis (not from `cameras:`), claimed with "
            "leases shared with the other workers. `vehiclewatch run --worker` sets it."
        ),
    )
    worker_id: str = Field(
        default_factory=default_worker_id,
        description="This worker's id, unique in the fleet (default: the host name, a StatefulSet pod's name).",
    )
    capacity: int = Field(default=8, ge=0, le=10000, description="Most cameras this worker reads at once.")
    lease_ttl_s: float = Field(
        default=10.0,
        ge=0.5,
        le=600,
        description=(
            "Lease lifetime: a dead worker's cameras are taken over within this (plus one reload cycle). A worker "
            "that cannot renew a lease stops reading its camera before the lease runs out."
        ),
    )
    reload_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description=(
            "The reload cycle: how often leases are renewed and free cameras claimed; registry changes are "
            "applied at once when their notification arrives, else within one cycle. Keep it at most a third "
            "of lease_ttl_s."
        ),
    )
    key_prefix: str = Field(
        default=DEFAULT_PREFIX,
        min_length=1,
        description="Prefix of the fleet's Redis keys (registry, leases, workers, camera status).",
    )
    shard: ShardSettings = Field(default_factory=ShardSettings, description="Optional static placement.")

    @model_validator(mode="after")
    def _check(self) -> FleetSettings:
        if not _WORKER_ID.fullmatch(self.worker_id):
            raise ValueError("worker_id: use 1-64 letters, digits, '_', '.', '-'")
        if self.reload_interval_s * 3 > self.lease_ttl_s:
            raise ValueError(
                f"reload_interval_s ({self.reload_interval_s}) must be at most a third of lease_ttl_s "
                f"({self.lease_ttl_s}): a lease is renewed once per cycle"
            )
        return self

    @property
    def registry_key(self) -> str:
        """The hash of registered cameras."""
        return f"{self.key_prefix}:cameras"

    @property
    def registry_channel(self) -> str:
        """Where registry changes are announced."""
        return f"{self.key_prefix}:cameras:changes"
