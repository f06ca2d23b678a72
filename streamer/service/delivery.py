"""Alert delivery as the operator sees it: the on-disk spool opened for the service, its events as metrics, and
whether alerts can be delivered (a metric and the health pages' ``degraded``)."""

from __future__ import annotations

import logging
from functools import partial

from redisbus.data_dir import spool_dir
from redisbus.settings import RedisSettings
from redisbus.spool import Spool
from streamer.service.metrics import Metrics
from watchlists.publisher import SPOOL_KIND as ALERT_KIND
from watchlists.publisher import AlertPublisher
from watchlists.track_events import SPOOL_KIND as TRACK_KIND

log = logging.getLogger(__name__)

UNDELIVERABLE = "alerts cannot be delivered: Redis does not take writes"


class SpoolMetrics:
    """Spool events → Prometheus."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def on_spooled(self, kind: str) -> None:
        self.m.spooled.labels(kind).inc()

    def on_replayed(self, kind: str) -> None:
        self.m.spool_replayed.labels(kind).inc()

    def on_dropped(self, kind: str, reason: str) -> None:
        self.m.spool_dropped.labels(kind, reason).inc()


def open_spool(settings: RedisSettings, metrics: Metrics) -> Spool | None:
    """The service's spool (None when turned off), its series declared at zero and its gauges wired.

    Raises:
        SpoolError: its directory or file cannot be used.
    """
    if not settings.spool.enabled:
        log.info("spool off: alerts wait for Redis in memory only, and are lost if the service dies meanwhile")
        return None
    spool = Spool(spool_dir(settings.spool.dir), settings.spool, SpoolMetrics(metrics))
    for kind in (ALERT_KIND, TRACK_KIND):
        metrics.spooled.labels(kind)
        metrics.spool_replayed.labels(kind)
        metrics.spool_dropped.labels(kind, "full")
        metrics.spool_pending.labels(kind).set_function(partial(spool.pending, kind))
    metrics.spool_bytes.set_function(lambda: spool.bytes)
    log.info("alerts are spooled in %s (fsync: %s) until Redis has them", spool.path, settings.spool.fsync)
    return spool


def watch_delivery(metrics: Metrics, publisher: AlertPublisher) -> None:
    """``vehiclewatch_alerts_deliverable`` follows the publisher (read at each scrape)."""
    metrics.alerts_deliverable.set_function(lambda: 1.0 if publisher.deliverable else 0.0)


def delivery_problems(publisher: AlertPublisher | None) -> tuple[str, ...]:
    """Why alerts are not being delivered now, for the health pages (empty when they are)."""
    if publisher is None or publisher.deliverable:
        return ()
    return (UNDELIVERABLE,)
