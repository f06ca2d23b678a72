"""Fencing on the consumer's side: drop the messages a fleet worker sent for frames it read after losing its lease.

Alerts and track events of fleet workers (`vehiclewatch run --worker`) carry ``worker_id`` and ``lease_token``;
every claim of a camera gets a larger token than the one before. A worker stops reading a camera before its lease
can lapse, so in normal operation no two leases of a camera overlap in time; a message can still arrive *late*
(it waited in a queue or a spool), and is then valid: it was read under its lease. What fencing catches is a
worker that went on reading after a newer owner began (a process paused past its lease, a clock jump): a message
of token T is stale when its frame was captured at or after the earliest frame seen under a larger token.

Example:
    >>> fence = LeaseFence()
    >>> fence.accept("gate", 2, 100.0), fence.accept("gate", 1, 99.0), fence.accept("gate", 1, 101.0)
    (True, True, False)
"""

from __future__ import annotations

import threading


class LeaseFence:
    """Per camera, the earliest capture time seen under each lease token (bounded: ``keep`` tokens per camera)."""

    def __init__(self, keep: int = 16) -> None:
        self.keep = keep
        self._first: dict[str, dict[int, float]] = {}
        self._lock = threading.Lock()

    def accept(self, camera_id: str, token: int | None, captured_at: float) -> bool:
        """Whether a message of ``camera_id`` read under ``token`` at ``captured_at`` (Unix seconds) is current;
        messages without a token (a single service, not a fleet) are always accepted."""
        if token is None:
            return True
        with self._lock:
            firsts = self._first.setdefault(camera_id, {})
            if any(other > token and first <= captured_at for other, first in firsts.items()):
                return False
            if token not in firsts or captured_at < firsts[token]:
                firsts[token] = captured_at
            if len(firsts) > self.keep:
                del firsts[min(firsts)]
            return True
