"""Match: the watchlist against each track's fused labels.

A track is matched again when its labels changed (new views) or when the watchlist changed since it was last
matched (an entry added, edited or removed while the vehicle is still in view).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from streamer.recognize.plates import plate_read
from streamer.recognize.track_book import TrackRecord
from streamer.service.metrics import Metrics
from watchlists.matching import MatchSource


def match_tracks(
    matcher: MatchSource, seen: Iterable[TrackRecord], updated: set[TrackRecord], metrics: Metrics
) -> None:
    """Sets ``matches`` on the updated tracks and on the seen ones matched against an older watchlist."""
    started = time.perf_counter()
    revision = matcher.revision
    for record in updated | {r for r in seen if r.matched_revision != revision}:
        if record.fused is not None:
            record.matches = tuple(matcher.match(record.fused, plate_read(record)))
            record.matched_revision = revision
    metrics.stage_seconds.labels("match").observe(time.perf_counter() - started)
