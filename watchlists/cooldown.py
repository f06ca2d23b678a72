"""Suppresses repeated alerts for the same vehicle: one alert per camera, entry (and key) per cooldown period."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

DEFAULT_MAX_KEYS = 100_000


class Cooldown:
    """Allows an alert for (camera, entry, key) at most once every ``seconds``.

    The period runs from the last *allowed* alert, not from the last sighting: a watched car parked in view
    raises a reminder every ``seconds`` instead of one alert and then silence for as long as it stays.

    With ``active`` (e.g. :meth:`watchlists.live.LiveMatcher.is_active`), an entry that was removed or has expired
    by ``now`` is never allowed: a match computed just before a reload cannot become an alert after it.

    Memory is bounded: keys whose period is over are dropped as time passes, and beyond ``max_keys`` live keys the
    oldest are dropped (their next sighting alerts again, which errs on the side of alerting). Thread-safe.

    Example:
        >>> cooldown = Cooldown(60)
        >>> cooldown.allow("gate", "stolen-civic", now=0.0), cooldown.allow("gate", "stolen-civic", now=30.0)
        (True, False)
        >>> cooldown.allow("gate", "stolen-civic", now=61.0)
        True
    """

    def __init__(
        self, seconds: float, max_keys: int = DEFAULT_MAX_KEYS, active: Callable[[str, float], bool] | None = None
    ) -> None:
        """
        Args:
            seconds: the period; 0 allows every alert.
            max_keys: most keys remembered at once.
            active: ``(entry_id, now) -> bool``: whether the entry may alert at all at ``now``; None: every entry.
        """
        if seconds < 0:
            raise ValueError(f"cooldown seconds must be >= 0, got {seconds}")
        if max_keys < 1:
            raise ValueError(f"cooldown max_keys must be >= 1, got {max_keys}")
        self.seconds = seconds
        self.max_keys = max_keys
        self.active = active
        # Ordered by last allowed time (each allow moves its key to the end), so expired keys are at the front.
        self._last: OrderedDict[tuple[str, str, Hashable], float] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, camera_id: str, entry_id: str, now: float, key: Hashable = None) -> bool:
        """Whether to alert now; if so, starts a new period for this (camera, entry, key).

        Args:
            camera_id: the camera that saw the vehicle.
            entry_id: the watchlist entry it matched.
            now: the time in seconds (e.g. the frame's ``captured_at``); the same clock for every call.
            key: a further distinction, e.g. a track id, so two watched cars in one view both alert.
        """
        if self.active is not None and not self.active(entry_id, now):
            return False
        full_key = (camera_id, entry_id, key)
        with self._lock:
            self._expire(now)
            last = self._last.get(full_key)
            if last is not None and now - last < self.seconds:
                return False
            self._last[full_key] = now
            self._last.move_to_end(full_key)
            while len(self._last) > self.max_keys:
                self._last.popitem(last=False)
            return True

    def __len__(self) -> int:
        """Number of keys remembered."""
        return len(self._last)

    def _expire(self, now: float) -> None:
        while self._last:
            oldest_key, oldest = next(iter(self._last.items()))
            if now - oldest < self.seconds:
                return
            del self._last[oldest_key]
