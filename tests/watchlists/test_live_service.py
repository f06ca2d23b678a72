"""The running service and Redis-managed entries: an entry added through Redis matches once reloaded, removing it
stops its alerts, and an expired entry never fires. Real Redis; the synthetic scene always, a real traffic clip when
../shared is there.

No check depends on the machine's speed. "Stops its alerts" means: no alert for a frame captured after the removal
was applied. An alert that passed the gate just before (its frame captured while the entry was live) may still be
on its way through the publisher's queue and arrive after; the old form of this test counted the alerts right after
the removal and failed on a loaded machine when one such alert came in late. The alerts of a *witness*, an entry
that stays live and matches the same vehicles, show when frames captured after a moment have gone all the way
through matching, the gate and the publisher.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from streamer.service.config import load_settings
from streamer.service.wiring import Service
from tests.conftest import shared_path
from tests.redisbus.support import wait_for
from tests.streamer.scene import make_scene
from watchlists.alerts import Alert
from watchlists.entries import WatchlistEntry
from watchlists.store import EntryStore

RELOAD_S = 1.0
SHORTEST_LIFE_S = 1.5
"""The least an entry that expires by itself lives; longer on a slow machine (see :func:`check_add_remove_expire`)."""


class Alerts:
    """The alerts the service published, by entry (the publisher thread appends)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: list[Alert] = []

    def __call__(self, alert: Alert) -> None:
        with self._lock:
            self._all.append(alert)

    def of(self, entry_id: str) -> list[Alert]:
        with self._lock:
            return [a for a in self._all if a.entry.id == entry_id]

    def captured_from(self, entry_id: str, moment: datetime) -> list[Alert]:
        """The alerts of ``entry_id`` for frames captured at ``moment`` or later."""
        return [a for a in self.of(entry_id) if a.captured_at >= moment]


@contextmanager
def running(settings: dict[str, Any], alerts: Alerts) -> Iterator[Service]:
    service = Service(load_settings(None, settings), on_alert=alerts)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def live_ids(service: Service) -> set[str]:
    assert service.watchlist_reloader is not None
    return {entry.id for entry in service.watchlist_reloader.live.entries}


def frames_detected(service: Service, camera: str) -> float:
    return service.registry.get_sample_value("vehiclewatch_frames_detected_total", {"camera": camera}) or 0.0


def through(service: Service, alerts: Alerts, witness: str, moment: datetime, wait: float) -> None:
    """Waits until frames captured after ``moment`` went all the way to the alert callback (an alert of the
    ``witness`` entry for one of them arrived), and a few more frames were detected after that."""
    wait_for(lambda: bool(alerts.captured_from(witness, moment)), timeout=wait)
    seen = frames_detected(service, "cam1")
    wait_for(lambda: frames_detected(service, "cam1") >= seen + 3, timeout=wait)


def check_add_remove_expire(
    service: Service, store: EntryStore, alerts: Alerts, fields: dict[str, Any], witness: str, wait: float
) -> None:
    """The three promises, for an entry with ``fields`` that the camera's vehicles match; ``witness`` is a live
    entry that matches them too."""
    now = datetime.now(UTC)
    store.put(WatchlistEntry.model_validate({"id": "expired", "expires_at": now - timedelta(minutes=1), **fields}))

    added = time.monotonic()
    store.put(WatchlistEntry.model_validate({"id": "added", **fields}))
    wait_for(lambda: "added" in live_ids(service), timeout=wait)
    wait_for(lambda: bool(alerts.of("added")), timeout=wait)
    first_alert_s = time.monotonic() - added  # how slow this machine is now: sizes the expiring entry's life

    assert store.remove(["added"]) == ["added"]
    wait_for(lambda: "added" not in live_ids(service), timeout=wait)
    removed = datetime.now(UTC)  # the removal is applied: no frame captured from here on may alert for it
    through(service, alerts, witness, removed, wait)
    assert alerts.captured_from("added", removed) == []

    # It must alert before it expires, so it lives a few times as long as the first alert took here.
    life_s = max(SHORTEST_LIFE_S, 3 * first_alert_s)
    expires = datetime.now(UTC) + timedelta(seconds=life_s)
    store.put(WatchlistEntry.model_validate({"id": "short", "expires_at": expires, **fields}))
    wait_for(lambda: bool(alerts.of("short")), timeout=wait + life_s)
    wait_for(lambda: "short" not in live_ids(service), timeout=wait + life_s + RELOAD_S)
    through(service, alerts, witness, max(expires, datetime.now(UTC)), wait)
    assert alerts.captured_from("short", expires) == []
    assert alerts.of("expired") == []
    assert "expired" not in live_ids(service)


def test_synthetic_scene(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> None:
    scene = make_scene(tmp_path, frames=25, color="red")
    # Every frame classified and matched (tracking off): the timing is the reload's.
    settings = scene.settings(redis_url, tracking={"enabled": False})
    settings["watchlist"] |= {"cooldown_s": 0, "reload_interval_s": RELOAD_S}
    settings["cameras"] = [{"id": "cam1", "source": str(scene.video), "loop": True, "pace": True}]
    alerts = Alerts()
    with running(settings, alerts) as service:
        wait_for(lambda: frames_detected(service, "cam1") > 3)
        assert live_ids(service) == {"red-car", "blue-car"}  # the file's entries
        # the file's red-car entry is the witness: it matches the same red car throughout
        check_add_remove_expire(service, EntryStore(redis_client), alerts, {"color": "red"}, "red-car", wait=10.0)
        # the file's entries went on matching throughout, and the blue one never did
        assert alerts.of("red-car")
        assert alerts.of("blue-car") == []


def test_real_clip(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> None:
    video = shared_path("videos/anugoyal_traffic.mp4")
    models = shared_path("models")
    settings = {
        "cameras": [{"id": "cam1", "source": str(video), "loop": True, "pace": True, "detect_fps": 4}],
        "detector": {"model": str(models / "yolov8n_int8_640.onnx"), "providers": ["cpu"]},
        "classifiers": {
            "models": [{"model": str(models / "spectrico_color_mobilenetv3_224.onnx"), "providers": ["cpu"]}]
        },
        # no watchlist file: only the Redis-managed entries
        "watchlist": {"cooldown_s": 0, "reload_interval_s": RELOAD_S},
        "tracking": {"schedule": {"min_views_to_alert": 1}},
        "redis": {"url": redis_url},
        "metrics": {"enabled": False},
    }
    alerts = Alerts()
    with running(settings, alerts) as service:
        wait_for(lambda: frames_detected(service, "cam1") > 2, timeout=30)
        assert live_ids(service) == set()
        # The clip's white cars and coach: a new track alerts once per entry, and the clip loops; the witness is a
        # stored entry that stays.
        store = EntryStore(redis_client)
        store.put(WatchlistEntry(id="witness", color="white"))
        check_add_remove_expire(service, store, alerts, {"color": "white"}, "witness", wait=25.0)
