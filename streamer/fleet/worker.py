"""A fleet worker's coordinator: one thread that keeps this process's share of the registered cameras.

Once per reload cycle (and at once when the registry announces a change) it

1. refreshes the worker's registration (its capacity and how many cameras it owns);
2. extends each lease it holds (compare-and-extend): a lease found lost stops its camera at once;
3. applies registry changes to the cameras it owns: removed or disabled → stopped and released; changed →
   restarted with the new settings (the lease is kept);
4. balances: claims free cameras up to its fair share (``floor(cameras / workers)``, at most its capacity) at
   once, and beyond it when more cameras are free than the other workers' shortfall (a dead worker's cameras, so
   coverage comes first) or a camera stayed free for a whole cycle; hands one camera over per cycle while it holds
   more than the fair share and another worker holds less;
5. reports each owned camera's state, fps and last frame time (:mod:`streamer.fleet.status`).

While Redis is unreachable nothing can be renewed: a camera keeps being read only while its lease is surely still
ours, and is stopped one cycle before the lease could run out (so no other worker can ever read it at the same
time as this one). When Redis is back, the leases it finds still its own are renewed, and stopped cameras are
claimed again like any free camera (with a new fencing token).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from common.redaction import redact_text
from streamer.fleet.leases import Lease, LeaseTable, WorkerInfo
from streamer.fleet.registry import CameraRegistry, RegisteredCamera, RegistrySnapshot
from streamer.fleet.settings import FleetSettings
from streamer.fleet.status import CameraStatus, write_statuses
from streamer.service.metrics import Metrics
from streamer.sources.camera_state import CameraStats
from streamer.sources.settings import CameraSettings

log = logging.getLogger(__name__)

_REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class CameraHost(Protocol):
    """What the coordinator needs from the running service: start and stop camera readers."""

    def start_camera(self, settings: CameraSettings) -> None: ...

    def stop_camera(self, camera_id: str) -> None: ...

    def camera_stats(self, camera_id: str) -> CameraStats | None: ...


@dataclass
class _Owned:
    lease: Lease
    camera: RegisteredCamera
    valid_until: float  # monotonic time the lease surely lasts until (last successful renewal + TTL)
    frames_read: int = 0
    counted_at: float = 0.0
    claimed_at: float = 0.0  # Unix time


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who processed a camera's frames: added to its alerts and track events so consumers can fence."""

    worker_id: str
    lease_token: int


class FleetWorker:
    """Claims, keeps and hands over cameras for one worker process (see the module docstring).

    Args:
        settings: the ``fleet:`` section.
        client: a Redis client with short timeouts (a cycle must not hang past a lease).
        host: starts and stops camera readers.
        metrics: the service's metrics.
        clock: monotonic seconds (tests move time).
    """

    def __init__(
        self,
        settings: FleetSettings,
        client: redis.Redis,
        host: CameraHost,
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.worker_id = settings.worker_id
        self.client = client
        self.host = host
        self.metrics = metrics
        self.clock = clock
        self.leases = LeaseTable(client, settings.key_prefix, settings.worker_id, settings.lease_ttl_s)
        self.registry = CameraRegistry(client, settings)
        self.shard = settings.shard.resolved_index(settings.worker_id)
        self.owned: dict[str, _Owned] = {}
        self.last_tokens: dict[str, int] = {}  # kept after a release: late messages carry the token they ran under
        self.snapshot: RegistrySnapshot | None = None
        self._reported_problems: set[str] = set()
        self._free_before: set[str] = set()
        self._handed_over_at = -10  # the cycle this worker last handed a camera over to balance
        self._redis_down = False
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cycles = 0
        metrics.worker_capacity.labels(self.worker_id).set(settings.capacity)
        metrics.worker_cameras_owned.labels(self.worker_id).set(0)

    # --- start / stop --------------------------------------------------------------------------------------------

    def register(self) -> None:
        """Registers the worker id, waiting up to one lease TTL and a half for a dead predecessor's to lapse.

        Raises:
            WorkerIdInUseError: another live worker holds the id.
        """
        self.leases.register_at_start(self.settings.capacity, wait_s=self.settings.lease_ttl_s * 1.5)
        log.info(
            "fleet worker %r: capacity %d camera(s), lease %.1f s, cycle %.1f s%s",
            self.worker_id,
            self.settings.capacity,
            self.settings.lease_ttl_s,
            self.settings.reload_interval_s,
            f", shard {self.shard} of {self.settings.shard.count}" if self.shard is not None else "",
        )

    def start(self) -> FleetWorker:
        self._thread = threading.Thread(target=self._run, name="fleet-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stops the cycle thread (the cameras keep running: :meth:`release_all` hands them over)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def release_all(self) -> None:
        """Stops every owned camera, then releases its lease (a graceful hand-over) and the worker's registration."""
        with self._lock:
            for camera_id in list(self.owned):
                self._drop(camera_id, release="shutdown")
            with contextlib.suppress(*_REDIS_ERRORS):
                self.leases.unregister()

    def stamp(self, camera_id: str) -> Stamp | None:
        """The worker id and the fencing token under which the camera's frames were read, or None."""
        token = self.last_tokens.get(camera_id)
        return Stamp(self.worker_id, token) if token is not None else None

    # --- the cycle -----------------------------------------------------------------------------------------------

    def cycle(self, notified: bool = False) -> None:
        """One reload cycle (see the module docstring); Redis being away is handled here, never raised."""
        with self._lock:
            self.cycles += 1
            try:
                self._cycle(notified)
            except _REDIS_ERRORS as exc:
                self._redis_lost(exc)

    def _cycle(self, notified: bool) -> None:
        if not self.leases.register(self.settings.capacity, len(self.owned)):
            # Our registration lapsed while Redis was away and another process took the id: it is the worker now.
            log.error("fleet: worker id %r was taken by another process; stopping its cameras here", self.worker_id)
            for camera_id in list(self.owned):
                self._drop(camera_id, release=None)
            return
        self._renew()
        if self._redis_down:
            log.info("fleet: Redis reachable again; %d camera(s) still owned", len(self.owned))
            self._redis_down = False
        revision = self.registry.revision()
        if notified or self.snapshot is None or revision != self.snapshot.revision:
            self._apply(self.registry.load())
        assert self.snapshot is not None
        self._balance(self.snapshot)
        self._report()

    def _renew(self) -> None:
        now = self.clock()
        for camera_id, owned in list(self.owned.items()):
            if self.leases.renew(owned.lease):
                owned.valid_until = now + self.settings.lease_ttl_s
                continue
            self.metrics.lease_renew_failures.labels(self.worker_id, "lost").inc()
            log.warning("fleet: lease on camera %s (token %d) was lost; stopping it", camera_id, owned.lease.token)
            self._drop(camera_id, release=None)

    def _redis_lost(self, exc: Exception) -> None:
        if not self._redis_down:
            log.warning("fleet: Redis unreachable (%s); owned cameras run while their leases surely last", exc)
        self._redis_down = True
        now = self.clock()
        for camera_id, owned in list(self.owned.items()):
            self.metrics.lease_renew_failures.labels(self.worker_id, "redis").inc()
            # The next cycle may come too late: stop now if the lease could run out before it.
            if now + self.settings.reload_interval_s * 1.5 >= owned.valid_until:
                log.warning("fleet: cannot renew the lease on camera %s; stopping it until Redis is back", camera_id)
                self._drop(camera_id, release=None)

    def _apply(self, snapshot: RegistrySnapshot) -> None:
        """Registry changes → the owned cameras; malformed entries reported once each."""
        self.snapshot = snapshot
        self.metrics.registry_problems.set(len(snapshot.problems))
        for problem in snapshot.problems:
            if problem.message not in self._reported_problems:
                log.error("fleet: registry entry skipped (the other cameras run): %s", problem)
        self._reported_problems = {p.message for p in snapshot.problems}
        for camera_id, owned in list(self.owned.items()):
            camera = snapshot.cameras.get(camera_id)
            if camera is None:
                log.info("fleet: camera %s was removed from the registry; stopping it", camera_id)
                self._drop(camera_id, release="removed")
            elif not camera.enabled:
                log.info("fleet: camera %s was disabled; stopping it", camera_id)
                self._drop(camera_id, release="disabled")
            elif not self._mine(camera_id):
                self._drop(camera_id, release="rebalance")
            elif camera != owned.camera:
                log.info("fleet: camera %s changed; restarting it with its new settings", camera_id)
                self.host.stop_camera(camera_id)
                owned.camera = camera
                self.host.start_camera(camera.settings())

    def _mine(self, camera_id: str) -> bool:
        """Static placement: whether the camera hashes to this worker's shard (always True without shards)."""
        if self.shard is None or self.settings.shard.count is None:
            return True
        return shard_of(camera_id, self.settings.shard.count) == self.shard

    def _balance(self, snapshot: RegistrySnapshot) -> None:
        eligible = [c for c, cam in snapshot.cameras.items() if cam.enabled and self._mine(c)]
        capacity = self.settings.capacity
        if self.shard is not None:
            fair = high = capacity
            workers: list[WorkerInfo] = []
        else:
            workers = self.leases.workers()
            count = max(len(workers), 1)
            fair = min(capacity, len(eligible) // count)  # every worker's share; some hold one more (high)
            high = min(capacity, -(-len(eligible) // count))
        others = [w for w in workers if w.worker_id != self.worker_id]
        # What the other workers still need to reach the fair share: free cameras beyond that are anyone's now
        # (a dead worker's, still registered), unless this worker just handed one over (it would take it back).
        shortfall = sum(max(0, min(w.capacity, fair) - w.owned) for w in others)
        settled = self.cycles - self._handed_over_at > 2
        # Every lease of the eligible cameras, read once per cycle (one MGET): skipped by a full worker that has
        # nothing to hand over, so a fleet at capacity costs Redis no per-camera reads beyond the renewals.
        advertised = sum(w.owned for w in workers)
        full = len(self.owned) >= capacity and (self.shard is not None or advertised >= len(eligible))
        owners = {} if full else self.leases.owners(eligible)
        free = [] if full else [c for c in eligible if c not in owners]
        # Others try the free cameras in another order, so simultaneous workers rarely race for the same one.
        free.sort(key=lambda c: hashlib.sha1(f"{self.worker_id}/{c}".encode()).digest())
        left = len(free)
        for camera_id in free:
            if len(self.owned) >= capacity:
                break
            beyond = len(self.owned) >= fair and not (settled and left > shortfall)
            if beyond and camera_id not in self._free_before:
                continue  # beyond our share only when nobody short of theirs needs it, or it stayed free a cycle
            left -= 1
            self._claim(snapshot.cameras[camera_id])
        self._free_before = {c for c in free if c not in self.owned}
        owned = len(self.owned)
        below_fair = any(w.owned < min(w.capacity, fair) for w in others)
        below_high = any(w.owned < min(w.capacity, high) for w in others)
        if self.shard is None and not free and ((owned > fair and below_fair) or (owned > high and below_high)):
            camera_id = sorted(self.owned)[-1]
            log.info("fleet: handing camera %s over to balance the fleet (share %d-%d)", camera_id, fair, high)
            self._drop(camera_id, release="rebalance")
            self._handed_over_at = self.cycles
        self.metrics.worker_cameras_owned.labels(self.worker_id).set(len(self.owned))

    def _claim(self, camera: RegisteredCamera) -> None:
        lease = self.leases.claim(camera.id)
        if lease is None:
            return
        self.metrics.lease_claims.labels(self.worker_id).inc()
        if lease.took_over:
            self.metrics.lease_takeovers.labels(self.worker_id).inc()
        log.info(
            "fleet: claimed camera %s (token %d%s)",
            camera.id,
            lease.token,
            ", taken over from a worker whose lease ran out" if lease.took_over else "",
        )
        now = self.clock()
        self.owned[camera.id] = _Owned(
            lease, camera, now + self.settings.lease_ttl_s, counted_at=now, claimed_at=time.time()
        )
        self.last_tokens[camera.id] = lease.token
        self.metrics.camera_owner.labels(camera.id, self.worker_id).set(1)
        self.metrics.camera_lease_token.labels(camera.id).set(lease.token)
        try:
            self.host.start_camera(camera.settings())
        except Exception as exc:  # one camera's bad settings never stop the others: hand it back
            log.error("fleet: camera %s cannot start: %s; releasing it", camera.id, redact_text(str(exc)))
            self._drop(camera.id, release="failed")

    def _drop(self, camera_id: str, release: str | None) -> None:
        """Stops a camera's reader; then releases its lease (``release`` names why) unless it is no longer ours."""
        owned = self.owned.pop(camera_id, None)
        if owned is None:
            return
        try:
            self.host.stop_camera(camera_id)
        except Exception:  # stopping must go on for the other cameras
            log.exception("fleet: camera %s did not stop cleanly", camera_id)
        with contextlib.suppress(*_REDIS_ERRORS):
            self.client.delete(self.leases.status_key(camera_id))
        if release is not None:
            try:
                if self.leases.release(owned.lease):
                    self.metrics.lease_releases.labels(self.worker_id, release).inc()
                    log.info("fleet: released camera %s (%s)", camera_id, release)
            except _REDIS_ERRORS:
                log.warning("fleet: could not release camera %s (Redis unreachable); its lease will lapse", camera_id)
        with contextlib.suppress(KeyError):
            self.metrics.camera_owner.remove(camera_id, self.worker_id)
        self.metrics.worker_cameras_owned.labels(self.worker_id).set(len(self.owned))

    def _report(self) -> None:
        now_mono, now = self.clock(), time.time()
        statuses = []
        for camera_id, owned in self.owned.items():
            stats = self.host.camera_stats(camera_id)
            if stats is None:
                continue
            elapsed = max(now_mono - owned.counted_at, 1e-6)
            fps = max(stats.frames_read - owned.frames_read, 0) / elapsed
            owned.frames_read, owned.counted_at = stats.frames_read, now_mono
            statuses.append(
                CameraStatus(
                    camera_id=camera_id,
                    worker_id=self.worker_id,
                    token=owned.lease.token,
                    state=str(stats.state),
                    fps=round(fps, 2),
                    last_frame_at=stats.last_frame_at,
                    claimed_at=owned.claimed_at,
                    reason=redact_text(stats.state_reason or ""),
                    updated_at=now,
                )
            )
        write_statuses(self.client, self.settings.key_prefix, statuses, int(self.settings.lease_ttl_s * 3000))

    # --- the thread ----------------------------------------------------------------------------------------------

    def _run(self) -> None:
        pubsub: Any = None
        interval = self.settings.reload_interval_s
        next_cycle = self.clock()
        while not self._stop.is_set():
            notified = False
            try:
                if pubsub is None:
                    client: Any = self.client
                    pubsub = client.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.registry.channel)
                # Wait for a change notification or the next cycle, whichever comes first.
                while not self._stop.is_set():
                    left = next_cycle - self.clock()
                    if left <= 0:
                        break
                    message = pubsub.get_message(timeout=min(left, 0.25))
                    if message is not None and message.get("type") == "message":
                        notified = True
                        break
            except _REDIS_ERRORS:
                with contextlib.suppress(Exception):
                    pubsub.close()
                pubsub = None
                self._stop.wait(max(next_cycle - self.clock(), 0.0))
            if self._stop.is_set():
                break
            if not notified:
                next_cycle = self.clock() + interval
            try:
                self.cycle(notified)
            except Exception:  # a bug must not end the cycles: the leases would lapse while cameras run
                log.exception("fleet: cycle failed; trying again next cycle")
        with contextlib.suppress(Exception):
            if pubsub is not None:
                pubsub.close()


def shard_of(camera_id: str, count: int) -> int:
    """The shard a camera belongs to: a stable hash of its id (the same in every process and Python version)."""
    return int.from_bytes(hashlib.sha1(camera_id.encode()).digest()[:8], "big") % count
