"""The service on a real clip with the real models, history and the web API on: the database fills with the
clip's vehicles and alerts, the API answers from it while the service runs, and the CLI's queries find them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml
from click.testing import CliRunner

from streamer.cli.main import main
from streamer.history.archiver import Archiver
from streamer.history.store import SightingsQuery, SightingsStore
from streamer.service.config import load_settings
from streamer.service.wiring import Service
from tests.conftest import shared_path
from tests.streamer.web.support import TOKEN, write_tokens


def caught_up(client: redis.Redis, stream: str, group: str) -> bool:
    """Every message of the stream delivered to the group and acknowledged."""
    info: Any = client.xinfo_stream(stream)
    groups: Any = client.xinfo_groups(stream)
    mine = next(g for g in groups if g["name"] == group.encode())
    return bool(mine["last-delivered-id"] == info["last-generated-id"] and mine["pending"] == 0)


@pytest.mark.shared
def test_a_real_clip_fills_the_history(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> None:
    video = shared_path("videos/anugoyal_traffic.mp4")
    models = shared_path("models")
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        yaml.safe_dump({"entries": [{"id": "white-vehicle", "description": "any white vehicle", "color": "white"}]})
    )
    database = f"sqlite:///{tmp_path / 'sightings.sqlite3'}"
    settings = load_settings(
        None,
        {
            "cameras": [{"id": "bridge", "source": str(video), "detect_fps": 5}],
            "detector": {"model": str(models / "yolov8n_int8_640.onnx"), "providers": ["cpu"]},
            "classifiers": {
                "models": [
                    {"model": str(models / "spectrico_make_mobilenetv3_224.onnx"), "providers": ["cpu"]},
                    {"model": str(models / "spectrico_color_mobilenetv3_224.onnx"), "providers": ["cpu"]},
                ]
            },
            "watchlist": {"path": str(watchlist), "cooldown_s": 1},
            "tracking": {"events": {"enabled": True, "min_frames": 1}},
            "redis": {"url": redis_url},
            "metrics": {"enabled": False},
            "history": {"enabled": True, "database": database, "snapshots_dir": str(tmp_path / "snaps")},
            "web": {"enabled": True, "port": 0, "tokens_file": str(write_tokens(tmp_path / "tokens.yaml"))},
        },
    )
    service = Service(settings)
    service.start()
    try:
        assert service.wait(threading.Event())
        # While it runs: the alerts reach the database and the API answers from it.
        with httpx.Client(base_url=f"http://127.0.0.1:{service.web.port}", timeout=10) as client:
            deadline = time.monotonic() + 20
            found: list[dict[str, object]] = []
            while not found and time.monotonic() < deadline:
                answer = client.get(
                    "/v1/sightings", params={"kind": "alert"}, headers={"Authorization": f"Bearer {TOKEN}"}
                )
                assert answer.status_code == 200
                found = answer.json()
                time.sleep(0.2)
            assert found, "no alert reached the history"
            assert all(s["entry_id"] == "white-vehicle" for s in found)
    finally:
        service.stop()
    # Track summaries published at the end (tracks ending with the clip) are archived by the next start: drain.
    archiver = Archiver(redis_client, settings.history, settings.alerts.stream, settings.tracking.events.stream)
    archiver.start()
    try:
        store: SightingsStore = archiver.store
        deadline = time.monotonic() + 20
        while not all(caught_up(redis_client, c.stream, c.group) for c, _ in archiver.consumers):
            assert time.monotonic() < deadline, "the archiver did not catch up"
            time.sleep(0.1)
        tracks = store.search(SightingsQuery(kind="track", limit=1000))
        alerts = store.search(SightingsQuery(kind="alert", limit=1000))
    finally:
        archiver.stop()
    assert len(tracks) >= 5, f"{len(tracks)} vehicles archived"
    assert alerts
    assert all(s.camera_id == "bridge" and s.color for s in tracks)
    assert any(s.make for s in tracks)  # the make head abstains on small crops (far vehicles)
    assert any(s.has_snapshot for s in tracks)
    white = store.search(SightingsQuery(kind="track", color="white", exact_color=True))
    assert white, "the clip's white vehicles"
    result = CliRunner().invoke(main, ["sightings", "search", "--database", database, "--color", "white"])
    assert result.exit_code == 0, result.output
    assert "bridge" in result.output
    print(f"\narchived {len(tracks)} tracks, {len(alerts)} alerts; {len(white)} white tracks")
