"""The watchlist the pipeline matches against while it runs: one :class:`Matcher`, swapped whole on reload.

A :class:`Matcher` is immutable, so a reload builds a new one and :meth:`LiveMatcher.swap` replaces the reference
in one assignment: a crop being matched sees the old list or the new one, never half of each, and the recognize
stage never waits for a reload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from classifiers.types import Classification
from watchlists.entry_model import WatchlistEntry
from watchlists.match_result import Match, UnmatchableField
from watchlists.matching import Matcher
from watchlists.plates import PlateRead


class LiveMatcher:
    """A :class:`~watchlists.matching.MatchSource` whose entries can be replaced while it is used.

    Example:
        >>> live = LiveMatcher(Matcher([]))
        >>> live.swap(Matcher([WatchlistEntry(id="red", color="red")])).entries, live.revision
        ((), 1)
    """

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self.revision = 0
        """How many times the matcher was swapped."""

    @property
    def matcher(self) -> Matcher:
        """The current matcher (read it once and use that object for a consistent view)."""
        return self._matcher

    @property
    def entries(self) -> tuple[WatchlistEntry, ...]:
        return self._matcher.entries

    def swap(self, matcher: Matcher) -> Matcher:
        """Makes ``matcher`` the current one; returns the previous one."""
        previous, self._matcher = self._matcher, matcher
        self.revision += 1
        return previous

    def match(
        self, classification: Classification, plate: PlateRead | None = None, now: float | None = None
    ) -> list[Match]:
        """:meth:`Matcher.match` on the current entries."""
        return self._matcher.match(classification, plate, now)

    def scores(
        self, classification: Classification, plate: PlateRead | None = None, now: float | None = None
    ) -> NDArray[np.float64]:
        """:meth:`Matcher.scores` on the current entries (in the order of :attr:`entries` of that matcher)."""
        return self._matcher.scores(classification, plate, now)

    def is_active(self, entry_id: str, now: float) -> bool:
        """Whether the entry is in the current list and not expired at ``now``: the alert gate
        (:class:`watchlists.cooldown.Cooldown` ``active``) asks this, so a match computed before an entry was
        removed or expired never turns into an alert.

        What that promises, exactly: no alert for a frame captured after the swap that removed the entry (the gate
        runs after the capture), and none for a frame captured at or after its expiry (``now`` is the capture
        time). An alert that passed the gate just before a swap is for a frame the entry was live for; it is still
        delivered when that happens after the swap (the publisher's queue, a Redis outage, a replay), because
        dropping it there would lose a true sighting. Its ``captured_at`` tells a consumer which side it was on.
        """
        return self._matcher.is_active(entry_id, now)

    def unmatchable_fields(self, heads: Mapping[str, Sequence[str]]) -> list[UnmatchableField]:
        """:meth:`Matcher.unmatchable_fields` of the current entries."""
        return self._matcher.unmatchable_fields(heads)
